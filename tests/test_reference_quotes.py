"""Lesson 05 quotes the reference code it criticises: every quote must occur in the reference, verbatim.

The reference documents live beside the repository in ``../shared/references`` (CI has them; a clone
without them skips this test). Quotes are the inline code spans of the paragraphs that start with
``**Reference:**``; whitespace runs are compared as one space.
"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "references" / "semisupervised-contrastive-clustering.md"
LESSON = ROOT / "notebooks" / "05_semisupervised_contrastive.ipynb"


def _quotes() -> list[str]:
    quotes = []
    for cell in nbformat.read(LESSON, as_version=4).cells:
        if cell.cell_type == "markdown":
            for paragraph in re.split(r"\n\s*\n", cell.source):
                if paragraph.lstrip().startswith("**Reference:**"):
                    quotes += re.findall(r"`([^`]+)`", paragraph)
    return quotes


@pytest.mark.skipif(not REFERENCE.is_file(), reason="../shared/references is not beside this clone")
def test_every_quote_of_the_reference_is_verbatim():
    squash = lambda s: re.sub(r"\s+", " ", s).strip()
    reference = squash(REFERENCE.read_text(encoding="utf-8"))
    quotes = _quotes()
    assert len(quotes) >= 20  # each of the eight defects quotes the reference
    missing = [q for q in quotes if squash(q) not in reference]
    assert not missing, f"not in {REFERENCE.name}: {missing}"
