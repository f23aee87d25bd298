"""Notebook assembly: one page -> the student's notebook (and the instructor's, if it has solutions).

- A setup cell first (``setup_cell``), then the page's cells in order, without outputs.
- Code the site hides (``remove-cell``, ``remove-input``) is kept, since later cells may need
  it, but without the book's build plumbing: ``assert`` statements, ``assert_close``-style
  calls, ``glue(...)`` calls and ``from myst_nb import glue`` (ROSTER contract 4). A student who
  changes a learning rate must not trip a check they never saw. Cells tagged ``book-only``
  are dropped; so is a cell left with nothing to run.
- Solutions (gated ``solution-start`` ... ``solution-end``, prose and code cells in between, or a
  ``{solution}`` directive) are never in the student's notebook (contract 5); the instructor's
  notebook has everything. What a solution block is, is ``editions.page_cells``'s business:
  the student edition of the site and the grader read the page the same way.
- Same input, same bytes: cell ids are numbered.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import textwrap
from pathlib import Path
from typing import Any

from editions import page_cells  # tools/sphinxext, beside this package
from solutions import page_text  # the page with its book/solutions/ blocks

from .markdown import MystToMarkdown
from .setup_cell import SETUP_CELL_ID

HIDDEN_ON_SITE = {"remove-cell", "remove-input"}
BOOK_ONLY = "book-only"
SOLUTION_TAG = "solution"
PLUMBING_CALLS = {"glue", "assert_close", "assert_allclose", "assert_equal", "assert_array_equal",
                  "assert_array_almost_equal"}
COMPOUND = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try)
RAISES_NOTE = ("# This cell raises an error on purpose, as on the book's page. The error is printed\n"
               "# and \"Run all\" carries on with the next cell.\n")


def is_plumbing(node: ast.stmt) -> bool:
    """An assert, a glue/assert_close call, or an import of myst_nb."""
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] == "myst_nb"
    if isinstance(node, ast.Import):
        return all(alias.name.split(".")[0] == "myst_nb" for alias in node.names)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        return name in PLUMBING_CALLS
    return False


def _lines(node: ast.AST) -> set[int]:
    return set(range(node.lineno, node.end_lineno + 1))


def _blocks(node: ast.stmt) -> list[list[ast.stmt]]:
    blocks = [node.body] + [h.body for h in getattr(node, "handlers", [])]
    return blocks + [b for b in (getattr(node, "orelse", []), getattr(node, "finalbody", [])) if b]


def _plumbing(body: list[ast.stmt], drop: list[ast.stmt], passes: dict[int, int]) -> bool:
    """Collect the plumbing statements of ``body`` in ``drop``; a loop, ``if``, ``with`` or
    ``try`` with nothing else in it is plumbing too. A block emptied inside a statement that
    stays gets a ``pass`` (``passes``: line -> indent). True if all of ``body`` is plumbing."""
    everything = True
    for node in body:
        if is_plumbing(node):
            drop.append(node)
            continue
        if isinstance(node, COMPOUND):
            inner_drop: list[ast.stmt] = []
            inner_passes: dict[int, int] = {}
            emptied = [_plumbing(block, inner_drop, inner_passes) for block in _blocks(node)]
            if all(emptied):
                drop.append(node)
                continue
            drop += inner_drop
            passes.update(inner_passes)
            for block, empty in zip(_blocks(node), emptied):
                if empty:
                    passes[block[0].lineno] = block[0].col_offset
        everything = False
    return everything


def strip_plumbing(source: str) -> str:
    """``source`` without the build's plumbing (see the module docstring).

    Comment lines directly above a removed statement go with it. IPython syntax, or plumbing
    sharing a line with other code (``x = f(); assert x``), leaves the cell as it is.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    dropped: list[ast.stmt] = []
    passes: dict[int, int] = {}
    _plumbing(tree.body, dropped, passes)
    if not dropped:
        return source
    drop = set().union(*(_lines(n) for n in dropped))
    gone = {id(n) for d in dropped for n in ast.walk(d)}
    kept = [n for n in ast.walk(tree) if isinstance(n, ast.stmt) and id(n) not in gone]
    shared = [n for n in kept if n.lineno in drop
              or (not isinstance(n, COMPOUND + (ast.FunctionDef, ast.ClassDef)) and _lines(n) & drop)]
    if shared:  # plumbing and kept code on one line (`x = f(); assert x`)
        return source
    lines = source.split("\n")
    for n in sorted(drop):  # comments right above a removed statement go with it
        k = n - 1
        while k >= 1 and k not in drop and lines[k - 1].strip().startswith("#"):
            drop.add(k)
            k -= 1
    out = []
    for n, line in enumerate(lines, start=1):
        if n in passes:
            out.append(" " * passes[n] + "pass")
        if n not in drop:
            out.append(line)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")
    try:
        ast.parse(text)
    except SyntaxError:
        return source
    return text


def has_statements(source: str) -> bool:
    try:
        return bool(ast.parse(source).body)
    except SyntaxError:
        return True


def shows_error(code: str) -> str:
    """Wrap a cell that raises on purpose so the notebook prints the error and goes on."""
    body = textwrap.indent(code.rstrip("\n"), "    ")
    return (f"{RAISES_NOTE}try:\n{body}\nexcept Exception:\n"
            "    import traceback\n    traceback.print_exc(limit=1)\n")


def code_cell(cell: Any) -> Any | None:
    """The notebook's version of a page's code cell, or None if it has nothing to run."""
    import nbformat

    tags = list(cell.metadata.get("tags", []))
    if BOOK_ONLY in tags:
        return None
    code = strip_plumbing(cell.source) if HIDDEN_ON_SITE & set(tags) else cell.source
    if not has_statements(code):
        return None
    if "raises-exception" in tags:
        code = shows_error(code)
    return nbformat.v4.new_code_cell(code, metadata={"tags": tags} if tags else {})


def as_text(cells: list, name: str) -> str:
    """A notebook's exact bytes on disk."""
    import nbformat

    for n, cell in enumerate(cells[1:], start=1):
        cell["id"] = f"cell-{n:03d}"
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"name": name, "provenance": [], "toc_visible": True},
    })
    nbformat.validate(nb)
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def page_notebooks(page: Path, converter: MystToMarkdown, setup: str,
                   name: str) -> tuple[str, str | None]:
    """``(student notebook, instructor notebook or None)`` of one page, as text."""
    import nbformat

    def setup_cell():
        return nbformat.v4.new_code_cell(setup, id=SETUP_CELL_ID,
                                         metadata={"cellView": "form", "tags": [SETUP_CELL_ID]})

    student, instructor = [setup_cell()], [setup_cell()]
    cells = page_cells(page_text(page))  # what a solution is: editions.py
    for cell, in_solution in cells:
        if cell.cell_type == "code":
            out = code_cell(cell)
            if out is None:
                continue
            extra = []
            figure = (cell.metadata.get("mystnb") or {}).get("figure") or {}
            if figure.get("caption") and not ({"remove-output", "remove-cell"} & set(out.metadata.get("tags", []))):
                extra = [nbformat.v4.new_markdown_cell(
                    converter.caption(str(figure.get("name", "")), str(figure["caption"])))]
            if in_solution:
                out.metadata["tags"] = out.metadata.get("tags", []) + [SOLUTION_TAG]
            else:
                student += [out] + extra
            instructor += copy.deepcopy([out] + extra)
            continue
        if cell.cell_type != "markdown":
            continue
        text = converter.convert(cell.source).strip()
        if text:
            for notebook in (instructor,) if in_solution else (student, instructor):
                notebook.append(nbformat.v4.new_markdown_cell(text))
    has_solutions = any(in_solution for _, in_solution in cells)
    return (as_text(student, f"{name}.ipynb"),
            as_text(instructor, f"{name}-solutions.ipynb") if has_solutions else None)
