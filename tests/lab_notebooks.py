"""The lab's two notebooks, made from book/lab.md as ROSTER contract 5 defines them.

A stand-in for the Colab converter's output until it writes both (then the tests can read
``notebooks/lab.ipynb`` and ``_build/instructor/lab-solutions.ipynb`` instead):

- the instructor notebook holds every cell of the page;
- the student notebook holds nothing between ``solution-start`` and ``solution-end``;
- in both, build plumbing (``remove-cell`` cells: glue, build-only asserts) is left out
  (contract 4).
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools" / "sphinxext"))
from editions import strip_solutions  # noqa: E402


def _notebook(text: str) -> nbformat.NotebookNode:
    nb = jupytext.reads(text, fmt="md:myst")
    nb.cells = [c for c in nb.cells
                if not (c.cell_type == "code" and "remove-cell" in c.metadata.get("tags", []))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("jupytext", None)
    return nb


def instructor_notebook(path: Path = ROOT / "book" / "lab.md") -> nbformat.NotebookNode:
    """Every cell of the lab, solutions included."""
    return _notebook(path.read_text(encoding="utf-8"))


def student_notebook(path: Path = ROOT / "book" / "lab.md") -> nbformat.NotebookNode:
    """The lab without its solutions."""
    return _notebook(strip_solutions(path.read_text(encoding="utf-8")))
