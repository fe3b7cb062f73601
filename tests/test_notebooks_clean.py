"""Committed notebooks read on GitHub: executed, no errors, no noisy metadata, linked from the README."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_lessons():
    assert NOTEBOOKS, "notebooks/ holds no lesson"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_executed_clean_and_linked(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, "no code cells"
    errors = [o for c in code for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, "an error output is committed"
    unexecuted = [c for c in code if c.get("source") and c.get("execution_count") is None]
    assert not unexecuted, f"{len(unexecuted)} code cells were not executed"
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}, "noisy notebook metadata"
    for c in nb["cells"]:
        assert set(c.get("metadata", {})) <= {"tags"}, "noisy cell metadata (run tools/run_notebooks.py --clean-only)"
    assert f"notebooks/{path.name}" in (ROOT / "README.md").read_text(encoding="utf-8")
