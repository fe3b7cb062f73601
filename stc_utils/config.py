"""Run configuration shared by every lesson: seeds, device, the fast-run switch.

Taught in every lesson's Setup cell. All settings come from environment variables so
that CI, a laptop and a GPU box run the same notebooks unchanged:

=================  =====================================================================
``STC_FAST``       ``1`` for the short CI run (subsampled data, fewer seeds/epochs)
``STC_DEVICE``     ``cpu``, ``cuda`` or ``cuda:1``; default: CUDA when present, else CPU
``STC_DATA_DIR``   a folder holding offline copies of the datasets (see :mod:`stc_utils.data`)
``STC_CACHE_DIR``  where embeddings are cached (default ``data/cache``)
``STC_MODEL``      the embedding model (default: the bundled all-MiniLM-L6-v2)
``STC_OFFLINE``    ``1`` never tries to download a dataset
=================  =====================================================================
"""

from __future__ import annotations

import os
import random

import numpy as np

_TRUE = {"1", "true", "yes", "on"}


def env_flag(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable (``1/true/yes/on`` are true)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in _TRUE


def is_fast_run() -> bool:
    """True for the short CI run (``STC_FAST=1``): lessons subsample and train less."""
    return env_flag("STC_FAST")


def seed_everything(seed: int = 0, deterministic: bool = True) -> int:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) and ask PyTorch for deterministic kernels.

    With ``deterministic=True`` (the default) this calls
    ``torch.use_deterministic_algorithms(True, warn_only=True)``: operations that have a
    deterministic implementation use it, and the few CUDA operations without one still run
    but emit a warning instead of raising. On CUDA it also sets ``CUBLAS_WORKSPACE_CONFIG``
    (needed for deterministic cuBLAS) and turns off cuDNN's benchmark autotuning.
    ``PYTHONHASHSEED`` is set for child processes only; the running interpreter's string
    hashing was fixed when it started.
    """
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a requirement
        return seed
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    return seed


def get_device(prefer: str | None = None):
    """The torch device to use: ``prefer``, else ``$STC_DEVICE``, else CUDA if present, else CPU.

    Asking for CUDA on a machine without it raises a clear error instead of failing later.
    """
    import torch

    choice = (prefer or os.environ.get("STC_DEVICE") or "").strip().lower()
    if not choice or choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {choice!r} was requested (argument or STC_DEVICE) but CUDA is not "
            "available on this machine; use 'cpu' or unset STC_DEVICE")
    try:
        return torch.device(choice)
    except RuntimeError as err:
        raise ValueError(f"unknown device {choice!r}: use 'cpu', 'cuda' or 'cuda:N'") from err


def setup_summary(seed: int = 0) -> str:
    """Seed everything and return the one-line summary printed by each lesson's Setup cell."""
    import torch

    seed_everything(seed)
    device = get_device()
    mode = "FAST (CI) run: subsampled data" if is_fast_run() else "FULL run"
    return (
        f"seed={seed} | device={device} | {mode} | torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads")
