"""Which pages can kill a mutant (the pages importing its module), most likely killer first."""

from __future__ import annotations

import ast
import re
import threading

from pathlib import Path

from pages import book_pages
from mutation import PACKAGE
from mutation.operators import Mutant
from mutation.syntax import parse


# ----- which pages can kill a mutant, most likely first ---------------------------------------
LABEL = re.compile(r"^\((?P<label>[\w-]+)\)=\s*$", re.MULTILINE)


def code_cells(page: Path) -> list[tuple[str, str]]:
    """``(section label, source)`` of every code cell of a MyST page, read as the build reads
    it (myst-nb); the section is the last ``(label)=`` above the cell."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    nb = read_myst_markdown_notebook(page.read_text(encoding="utf-8"), config=MdParserConfig(),
                                     path=str(page))
    section, cells = "", []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            labels = LABEL.findall(cell.source)
            section = labels[-1] if labels else section
        elif cell.cell_type == "code":
            cells.append((section, cell.source))
    return cells


def _imported(tree: ast.AST, modules: set[str]) -> set[str]:
    """The ``mlpbook`` modules an AST imports (``__init__`` for the package itself)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "mlpbook":
                found.add("__init__")
                if len(parts) > 1 and parts[1] in modules:
                    found.add(parts[1])
    return found


def _cell_code(page: Path) -> str:
    """The code of a page's code cells, IPython magics removed."""
    return "\n\n".join("\n".join(ln for ln in src.splitlines()
                                 if not ln.lstrip().startswith(("%", "!")))
                       for _, src in code_cells(page))


def page_modules(root: Path) -> dict[str, set[str]]:
    """For every page with code: the ``mlpbook`` modules its execution imports, directly or
    through another module of the package (every import in a module counts, lazy ones too)."""
    pkg = root / PACKAGE
    modules = {p.stem for p in pkg.glob("*.py")}
    deps = {m: _imported(parse((pkg / f"{m}.py").read_text(encoding="utf-8")), modules)
            - {m} for m in modules}
    out = {}
    for page in book_pages(root):
        if not page.has_code:
            continue
        code = _cell_code(page.path)
        try:
            direct = _imported(parse(code), modules)
        except SyntaxError:  # an unusual cell: fall back to what the text names
            direct = {m for m in modules if f"mlpbook.{m}" in code or f" {m}" in code} | (
                {"__init__"} if "mlpbook" in code else set())
        closed, todo = set(direct), list(direct)
        while todo:
            for d in deps.get(todo.pop(), ()):
                if d not in closed:
                    closed.add(d)
                    todo.append(d)
        out[page.docname] = closed
    return out


class Planner:
    """Which pages can kill a mutant (those importing its module), and in which order to run
    them: highest chance of a kill per second first. The chance is learned from the previous
    results (a page that killed this very mutant goes first) and from the mutants of the same
    function run so far, starting from a prior: 0.5 if the page's code names the function,
    0.2 if it imports the module directly, 0.05 if only through another module."""

    def __init__(self, root: Path, history: dict | None = None) -> None:
        self.modules = page_modules(root)
        self.code = {p.docname: _cell_code(p.path) for p in book_pages(root) if p.has_code}
        self.direct = {}
        pkg_modules = {p.stem for p in (root / PACKAGE).glob("*.py")}
        for doc, code in self.code.items():
            try:
                self.direct[doc] = _imported(parse(code), pkg_modules)
            except SyntaxError:
                self.direct[doc] = self.modules[doc]
        self.lock = threading.Lock()
        self.stats: dict[tuple[str, str], list[int]] = {}  # (target, page) -> [kills, tries]
        self.cost: dict[str, list[float]] = {}               # page -> [seconds, runs]
        self.known: dict[str, dict[str, bool]] = {}          # mutant -> {page: killed}
        for rec in (history or {}).get("mutants", []):
            for run in rec.get("tried", []):
                self.learn(rec["target"], run["page"], run["killed"], run["seconds"])
                self.known.setdefault(rec["mutant"], {})[run["page"]] = run["killed"]

    def candidates(self, mutant: Mutant) -> list[str]:
        return [doc for doc, mods in self.modules.items() if mutant.module in mods]

    def prior(self, mutant: Mutant, page: str) -> float:
        name = mutant.target.split(".")[-1]
        if not name.startswith("__") and re.search(rf"\b{re.escape(name)}\b", self.code[page]):
            return 0.5
        return 0.2 if mutant.module in self.direct[page] else 0.05

    def order(self, mutant: Mutant) -> list[str]:
        with self.lock:
            def score(page: str) -> float:
                known = self.known.get(mutant.name, {})
                if page in known:
                    p = 0.99 if known[page] else 0.01
                else:
                    kills, tries = self.stats.get((mutant.target, page), [0, 0])
                    p = (kills + 2 * self.prior(mutant, page)) / (tries + 2)
                seconds, runs = self.cost.get(page, [0.0, 0])
                return p / (seconds / runs if runs else 5.0)
            return sorted(self.candidates(mutant), key=score, reverse=True)

    def learn(self, target: str, page: str, killed: bool, seconds: float) -> None:
        with self.lock:
            s = self.stats.setdefault((target, page), [0, 0])
            s[0] += bool(killed)
            s[1] += 1
            c = self.cost.setdefault(page, [0.0, 0])
            c[0] += seconds
            c[1] += 1
