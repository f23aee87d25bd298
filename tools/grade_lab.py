"""The lab as the grader reads it: one manifest of its exercises, and a submission's cells.

``read_lab`` is the one reading of ``book/lab.md`` (plus ``book/solutions/lab.md`` where that
folder exists): its exercises from the ``exercise-start`` labels, in order, and its code cells,
each marked ``grader`` (run from the book, never from a submission) or in a solution. The
grader's columns, the editions' and lesson-plan tests, the hand-in list on the page and the
instructor page's table all derive from it (``manifest``).
"""

from __future__ import annotations

import ast
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "book" / "lab.md"
GRADER_TAG = "grader"  # a cell the grader runs from the book, never from the submission
MAX_BYTES = 50 << 20  # a notebook larger than this is not read
sys.path.insert(0, str(ROOT / "tools" / "sphinxext"))
from editions import DIRECTIVE, page_cells  # noqa: E402  (MyST directives, solutions: one place)
from solutions import page_text  # noqa: E402  (the page with its book/solutions/ blocks)


@dataclass(frozen=True)
class Exercise:
    """One exercise of the lab: its label (``ex-lab-tanh``), title and number."""

    label: str
    title: str
    number: int

    @property
    def column(self) -> str:
        """The CSV column: the label without its ``ex-lab-`` prefix."""
        return self.label.removeprefix("ex-lab-")


@dataclass(frozen=True)
class LabCell:
    """A code cell of the lab page, with where it sits."""

    source: str
    tags: tuple[str, ...]
    exercise: str | None  # the label of the exercise it belongs to, None before the first
    in_solution: bool


@dataclass
class Lab:
    """The lab page, read with jupytext: its exercises and code cells."""

    exercises: list[Exercise]
    cells: list[LabCell]

    def trusted(self, label: str | None) -> list[str]:
        """The ``grader`` cells of an exercise (or, for None, the setup before them)."""
        return [c.source for c in self.cells if GRADER_TAG in c.tags and not c.in_solution
                and c.exercise == label]

    def code(self, *, solutions: bool) -> list[str]:
        """The code cells a notebook of the lab holds, with or without the solutions.

        Build plumbing (``remove-cell`` cells) is not part of a notebook (ROSTER contract 4).
        """
        return [c.source for c in self.cells if "remove-cell" not in c.tags
                and (solutions or not c.in_solution)]

    def names(self, label: str) -> list[str]:
        """The names an exercise hands in: what its grader cells read that the student's
        (non-grader, non-solution) cells of that exercise define."""
        given = set()
        for c in self.cells:
            if c.exercise == label and not c.in_solution and GRADER_TAG not in c.tags \
                    and "remove-cell" not in c.tags:
                given |= defined_names(c.source)
        used = set()
        for src in self.trusted(label):
            used |= read_names(src)
        return sorted(given & used, key=lambda n: _first_use(self.trusted(label), n))

    def hand_in(self) -> list[str]:
        """Every name the grader reads, in the order of the exercises."""
        return [n for ex in self.exercises for n in self.names(ex.label)]


def _first_use(sources: list[str], name: str) -> int:
    text = "\n".join(sources)
    m = re.search(rf"\b{re.escape(name)}\b", text)
    return m.start() if m else len(text)


def defined_names(source: str) -> set[str]:
    """The names a cell binds at its top level (assignments, defs, classes, imports)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.With)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    found.add(sub.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return found


def read_names(source: str) -> set[str]:
    """Every name a cell reads."""
    try:
        return {n.id for n in ast.walk(ast.parse(source))
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    except SyntaxError:
        return set()


def read_lab(path: Path = LAB) -> Lab:
    """Parse the lab page: exercises from ``exercise-start``, solutions as the editions define
    them (``editions.page_cells``)."""
    exercises: list[Exercise] = []
    cells: list[LabCell] = []
    current = None
    for cell, in_solution in page_cells(page_text(path)):
        if cell.cell_type == "code":
            cells.append(LabCell(cell.source, tuple(cell.metadata.get("tags", [])), current,
                                 in_solution))
            continue
        body = cell.source.splitlines()
        for i, line in enumerate(body):
            m = DIRECTIVE.match(line)
            if m and m["name"] == "exercise-start":
                title = line[m.end():].strip()
                label = next((ln.split(":label:", 1)[1].strip() for ln in body[i + 1:i + 4]
                              if ln.startswith(":label:")), None)
                if label is None:
                    raise ValueError(f"{path}: exercise {title!r} has no :label:")
                current = label
                exercises.append(Exercise(label, title, len(exercises) + 1))
    return Lab(exercises, cells)


def manifest(path: Path = LAB) -> list[dict]:
    """The lab's exercises as plain data: number, label, column, title, graded names and the
    self-checks each grader cell calls (what the tests, the page and the instructor use)."""
    lab = read_lab(path)
    return [{"number": ex.number, "label": ex.label, "column": ex.column, "title": ex.title,
             "names": lab.names(ex.label),
             "checks": sorted({n for src in lab.trusted(ex.label) for n in read_names(src)
                               if n.startswith("check_")})} for ex in lab.exercises]


# --------------------------------------------------------------------------------------------
# A submission
# --------------------------------------------------------------------------------------------

# Code that can reach past a notebook's own namespace into the grader's process: scored as
# usual, but named for review.
SUSPICIOUS = re.compile(r"gc\.get_(?:objects|referrers|referents)|sys\._getframe|"
                        r"\bf_(?:back|locals|globals)\b|inspect\.(?:stack|currentframe)|"
                        r"\bctypes\b|os\._exit|__code__\s*=|signal\.signal|events\.jsonl|/proc/|"
                        r"os\.(?:dup2?|write)\(")


def suspicious(cells: list[str]) -> list[str]:
    """The constructs of ``SUSPICIOUS`` the notebook uses, once each."""
    return sorted({m.group(0) for src in cells for m in SUSPICIOUS.finditer(src)})


def _load(data: bytes) -> dict:
    if len(data) > MAX_BYTES:
        raise ValueError(f"the file is larger than {MAX_BYTES >> 20} MB")
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not a notebook: the file is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"not a notebook: invalid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("not a notebook: no list of cells")
    return nb


def _sources(nb: dict, kind: str) -> list[str]:
    sources = []
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != kind:
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise ValueError(f"not a notebook: a {kind} cell's source is not text")
        sources.append(source)
    return sources


def notebook_cells(data: bytes) -> list[str]:
    """The code cells of a notebook file; ValueError says why it is not a usable notebook."""
    sources = _sources(_load(data), "code")
    if not sources:
        raise ValueError("the notebook has no code cells")
    return sources


def notebook_markdown(data: bytes) -> list[str]:
    """The Markdown cells of a notebook file (empty if it is not one)."""
    try:
        return _sources(_load(data), "markdown")
    except ValueError:
        return []


def normalised(source: str) -> str:
    """A cell's code without comments, docstrings, blank lines or formatting: equal for code
    that was copied and re-indented or re-commented (empty if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(getattr(body[0], "value", None), ast.Constant) and \
                isinstance(body[0].value.value, str):
            body.pop(0)
            if not body:
                body.append(ast.Pass())
    return ast.unparse(tree)
