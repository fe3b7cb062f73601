"""Execute lessons in place (a FULL run unless STC_FAST=1) and strip noisy metadata.

    python tools/run_notebooks.py                    # every notebook in notebooks/
    python tools/run_notebooks.py notebooks/01_*.ipynb
    python tools/run_notebooks.py --clean-only        # strip metadata, keep outputs

Notebooks are committed executed from a full run so they read on GitHub with real
figures and numbers. Cleaning keeps outputs and execution counts, drops per-cell timing
and widget state and pins the kernel spec to a generic ``python3``.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def _collapse_progress(text: str) -> str:
    """Keep the last frame of each carriage-return-redrawn line (tqdm bars); drop blank lines."""
    lines = [line.split("\r")[-1].rstrip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line) + ("\n" if text.endswith("\n") else "")


def clean(nb) -> None:
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        cell.pop("id", None)
        merged = []
        for out in cell.get("outputs", []):
            if "metadata" in out:
                out["metadata"] = {}
            prev = merged[-1] if merged else None
            if (out.get("output_type") == "stream" and prev is not None
                    and prev.get("output_type") == "stream" and prev["name"] == out["name"]):
                prev["text"] += out["text"]
            else:
                merged.append(out)
        for out in merged:
            if out.get("output_type") == "stream" and out["name"] == "stderr":
                out["text"] = _collapse_progress(out["text"])
        if cell.cell_type == "code":
            cell.outputs = [o for o in merged if o.get("output_type") != "stream" or o["text"].strip()]
    nb.nbformat_minor = 4


def execute(path: Path, timeout: int) -> float:
    from nbconvert.preprocessors import ExecutePreprocessor

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(
        nb, {"metadata": {"path": str(path.parent)}})
    clean(nb)
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--clean-only", action="store_true")
    parser.add_argument("--timeout", type=int, default=3600)
    args = parser.parse_args()
    paths = [Path(p) for p in args.paths] or sorted(map(Path, glob.glob(str(ROOT / "notebooks" / "*.ipynb"))))
    for path in paths:
        if args.clean_only:
            nb = nbformat.read(path, as_version=4)
            clean(nb)
            nbformat.write(nb, path)
            print(f"cleaned {path}")
        else:
            print(f"executed {path} in {execute(path, args.timeout):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
