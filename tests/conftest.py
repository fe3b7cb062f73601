"""Test settings: offline, the shared dataset copy when present, a private embedding cache."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported anywhere
os.environ.setdefault("STC_OFFLINE", "1")
_shared = ROOT.parent / "shared" / "datasets"
if "STC_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["STC_DATA_DIR"] = str(_shared)


def shared_data_available() -> bool:
    d = os.environ.get("STC_DATA_DIR")
    return bool(d) and (Path(d) / "stackoverflow").is_dir()


needs_data = pytest.mark.skipif(
    not shared_data_available(), reason="needs the offline dataset copy (set STC_DATA_DIR)"
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Each test gets an empty embedding cache, so cache tests see cold and warm calls."""
    monkeypatch.setenv("STC_CACHE_DIR", str(tmp_path / "cache"))
