"""Mutation testing: does the book build catch broken gradients?

Each mutant is one fault in ``code/mlpbook``, written as an AST rewrite of one function (found by
its qualified name, never by a line number), so the set keeps working as the package changes. A
rewrite whose pattern is not found is an ERROR of this tool, reported loudly, never a "kill".

For each mutant: copy a snapshot of the repository (with the baseline's warm execution cache),
apply the rewrite, run the book build on the copy (``tools/build.py --root COPY --execute-only``:
execution is where every check lives; the package hash changes, so every page that imports
``mlpbook`` re-executes) and record *killed* (the build failed: which page, line and cell) or
*survived*. A survivor is re-tried with the full build (execution cached, Sphinx render with
warnings as errors) before it is called a survivor. The unmutated snapshot is built first: if it
fails, no mutant is reported.

Usage: python tools/mutate.py [--jobs N] [--build-jobs N] [--only NAME ...] [--fast] [--list]
                              [--single-page] [--no-render] [--keep] [--out FILE]
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pages import CACHE, copy_repo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path("code") / "mlpbook"


class MutationError(Exception):
    """A mutant could not be applied: its target or its pattern is not in the code."""


# ----- AST helpers ---------------------------------------------------------------------------
def _expr(src: str) -> ast.expr:
    return ast.parse(src, mode="eval").body


def _key(node: ast.AST) -> str:
    return ast.dump(node, annotate_fields=False, include_attributes=False)


def find_def(tree: ast.Module, qualname: str) -> ast.AST:
    """The ``def``/``class`` named by ``qualname`` (``Value.__mul__``, ``topological_sort``)."""
    body, node = tree.body, None
    for part in qualname.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                       ast.ClassDef)) and n.name == part), None)
        if node is None:
            raise MutationError(f"no definition {qualname!r} (missing {part!r})")
        body = node.body
    return node


def _closures(node: ast.AST) -> list[ast.FunctionDef]:
    """The ``_backward`` closures defined inside ``node`` (one per operation)."""
    return [n for n in ast.walk(node) if isinstance(n, ast.FunctionDef) and n.name == "_backward"]


def _grad_updates(node: ast.AST) -> list[ast.AugAssign]:
    """``x.grad += ...`` / ``x.grad -= ...`` statements inside ``node``, in source order."""
    found = [n for n in ast.walk(node) if isinstance(n, ast.AugAssign)
             and isinstance(n.target, ast.Attribute) and n.target.attr == "grad"]
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def _closure(fn: ast.AST) -> ast.FunctionDef:
    found = _closures(fn)
    if len(found) != 1:
        raise MutationError(f"expected one _backward closure in {getattr(fn, 'name', fn)}, "
                            f"found {len(found)}")
    return found[0]


class _Swap(ast.NodeTransformer):
    """Exchange every subtree equal to ``a`` with ``b`` and vice versa (simultaneously)."""

    def __init__(self, a: str, b: str) -> None:
        self.pairs = {_key(_expr(a)): _expr(b), _key(_expr(b)): _expr(a)}
        self.count = 0

    def visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.expr):
            new = self.pairs.get(_key(node))
            if new is not None:
                self.count += 1
                return ast.copy_location(copy.deepcopy(new), node)
        return self.generic_visit(node)


# ----- transforms: each rewrites a def in place and returns how many places it changed -------
Transform = Callable[[ast.AST], int]


def flip_sign() -> Transform:
    """The first gradient update of the op's closure subtracts instead of adding (or back)."""
    def run(fn: ast.AST) -> int:
        updates = _grad_updates(_closure(fn))
        if not updates or not isinstance(updates[0].op, (ast.Add, ast.Sub)):
            return 0
        updates[0].op = ast.Sub() if isinstance(updates[0].op, ast.Add) else ast.Add()
        return 1
    return run


def drop_factor() -> Transform:
    """The first gradient update loses the leftmost factor of its local derivative (or its
    divisor); a derivative that is a constant (``+= out.grad``) is doubled instead."""
    def run(fn: ast.AST) -> int:
        updates = _grad_updates(_closure(fn))
        if not updates:
            return 0
        rhs = updates[0].value
        if isinstance(rhs, ast.BinOp) and isinstance(rhs.op, ast.Div):
            updates[0].value = rhs.left
            return 1
        if isinstance(rhs, ast.BinOp) and isinstance(rhs.op, ast.Mult):
            parent, node = None, rhs   # descend to the innermost product of a left-nested chain
            while isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Mult):
                parent, node = node, node.left
            if parent is None:
                updates[0].value = node.right
            else:
                parent.left = node.right
            return 1
        updates[0].value = ast.BinOp(ast.Constant(2), ast.Mult(), rhs)
        return 1
    return run


def swap(a: str, b: str, *, scope: str = "closure") -> Transform:
    """Exchange expressions ``a`` and ``b`` in the op's ``_backward`` closure
    (``scope="closure"``) or anywhere in the def (``scope="def"``)."""
    def run(fn: ast.AST) -> int:
        where = _closure(fn) if scope == "closure" else fn
        swapper = _Swap(a, b)
        for i, stmt in enumerate(where.body):
            where.body[i] = swapper.visit(stmt)
        return swapper.count
    return run


def replace(a: str, b: str) -> Transform:
    """Replace every expression equal to ``a`` by ``b`` anywhere in the def."""
    def run(fn: ast.AST) -> int:
        target, new = _key(_expr(a)), _expr(b)
        count = 0

        class R(ast.NodeTransformer):
            def visit(self, node: ast.AST) -> ast.AST:
                nonlocal count
                if isinstance(node, ast.expr) and _key(node) == target:
                    count += 1
                    return ast.copy_location(copy.deepcopy(new), node)
                return self.generic_visit(node)

        R().visit(fn)
        return count
    return run


def assign_not_accumulate() -> Transform:
    """Every ``x.grad += d`` / ``x.grad -= d`` in every ``_backward`` becomes ``x.grad = ±d``."""
    def run(cls: ast.AST) -> int:
        count = 0
        for closure in _closures(cls):
            for parent in ast.walk(closure):
                for name in ("body", "orelse"):
                    stmts = getattr(parent, name, None)
                    if not isinstance(stmts, list):
                        continue
                    for i, s in enumerate(stmts):
                        if s in _grad_updates(closure):
                            value = s.value if isinstance(s.op, ast.Add) else ast.UnaryOp(
                                ast.USub(), s.value)
                            stmts[i] = ast.copy_location(
                                ast.Assign([copy.deepcopy(s.target)], value), s)
                            count += 1
        return count
    return run


def unwrap_reversed() -> Transform:
    """``for x in reversed(seq)`` becomes ``for x in seq``."""
    def run(fn: ast.AST) -> int:
        count = 0
        for loop in ast.walk(fn):
            if (isinstance(loop, ast.For) and isinstance(loop.iter, ast.Call)
                    and isinstance(loop.iter.func, ast.Name) and loop.iter.func.id == "reversed"
                    and len(loop.iter.args) == 1):
                loop.iter = loop.iter.args[0]
                count += 1
        return count
    return run


def delete_statement(src: str) -> Transform:
    """Delete every expression statement equal to ``src`` (an emptied block gets ``pass``)."""
    def run(fn: ast.AST) -> int:
        target, count = _key(_expr(src)), 0
        for parent in ast.walk(fn):
            for name in ("body", "orelse", "finalbody"):
                stmts = getattr(parent, name, None)
                if not isinstance(stmts, list) or not stmts or not isinstance(stmts[0], ast.stmt):
                    continue
                kept = [s for s in stmts if not (isinstance(s, ast.Expr) and _key(s.value) == target)]
                count += len(stmts) - len(kept)
                stmts[:] = kept or [ast.Pass()]
        return count
    return run


def body_does_nothing() -> Transform:
    """The def keeps its docstring and signature; its body becomes ``pass``."""
    def run(fn: ast.AST) -> int:
        doc = fn.body[:1] if (fn.body and isinstance(fn.body[0], ast.Expr)
                              and isinstance(fn.body[0].value, ast.Constant)
                              and isinstance(fn.body[0].value.value, str)) else []
        rest = fn.body[len(doc):]
        if not rest or all(isinstance(s, ast.Pass) for s in rest):
            return 0
        fn.body = doc + [ast.Pass()]
        return 1
    return run


# ----- the mutants ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Mutant:
    """One fault: a rewrite of the def ``target`` in ``code/mlpbook/<module>.py``."""

    name: str
    module: str
    target: str
    kind: str
    description: str
    transform: Transform = field(repr=False, compare=False)
    page: str = ""  # the one page that --single-page (and the fast test) executes for it

    @property
    def path(self) -> Path:
        return PACKAGE / f"{self.module}.py"


# Every operation of the engine with a local derivative, by method name.
ENGINE_OPS = {"add": "__add__", "mul": "__mul__", "pow": "__pow__", "neg": "__neg__",
              "exp": "exp", "log": "log", "tanh": "tanh", "sigmoid": "sigmoid", "relu": "relu"}
# "Swapped operands" per op: the local derivative reads the wrong operand. add and neg have a
# constant local derivative (+-1) that reads no operand: a swap there is an equivalent mutant.
SWAPS = {
    "mul": ("self.data", "other.data", "each input's gradient uses its own value, not the other's"),
    "pow": ("p", "p - 1", "p and p - 1 swapped: (p - 1) x^p instead of p x^(p-1)"),
    "exp": ("out.data", "self.data", "uses the input x instead of the output e^x"),
    "log": ("self.data", "out.data", "divides by the output log(x) instead of the input x"),
    "tanh": ("t", "self.data", "1 - x^2 (the input) instead of 1 - tanh(x)^2 (the output)"),
    "sigmoid": ("s", "self.data", "x (1 - x) (the input) instead of s (1 - s) (the output)"),
    "relu": ("self.data", "0", "comparison operands swapped: passes the gradient where x < 0"),
}
EQUIVALENT = {"add-swap": "d(a+b)/da = d(a+b)/db = 1: swapping operands changes nothing",
              "neg-swap": "-x has one operand and a constant derivative: nothing to swap"}
ENGINE_PAGE = "book/backprop"


def _engine_mutants() -> list[Mutant]:
    out = []
    for op, method in ENGINE_OPS.items():
        target = f"Value.{method}"
        out.append(Mutant(f"{op}-sign", "engine", target, "wrong sign",
                          f"{op} backward: the first input's gradient gets the wrong sign",
                          flip_sign(), ENGINE_PAGE))
        out.append(Mutant(f"{op}-factor", "engine", target, "wrong factor",
                          f"{op} backward: the local derivative loses a factor "
                          f"(doubled if it is a constant)", drop_factor(), ENGINE_PAGE))
        if op in SWAPS:
            a, b, what = SWAPS[op]
            out.append(Mutant(f"{op}-swap", "engine", target, "swapped operands",
                              f"{op} backward: {what}", swap(a, b), ENGINE_PAGE))
    return out


MUTANTS: list[Mutant] = _engine_mutants() + [
    Mutant("accumulate-assign", "engine", "Value", "= instead of +=",
           "every _backward assigns its contribution (=) instead of accumulating it (+=)",
           assign_not_accumulate(), ENGINE_PAGE),
    Mutant("topo-reversed", "engine", "Value.backward", "topological order",
           "backward() runs the _backward closures inputs-first (topological order not reversed)",
           unwrap_reversed(), ENGINE_PAGE),
    Mutant("topo-incomplete", "engine", "topological_sort", "topological order",
           "topological_sort follows only the first input of each node: nodes are missing",
           replace("node.prev", "node.prev[:1]"), ENGINE_PAGE),
    Mutant("value-zero-grad-noop", "engine", "Value.zero_grad", "zero_grad",
           "Value.zero_grad does nothing", body_does_nothing(), ENGINE_PAGE),
    Mutant("module-zero-grad-noop", "nn", "Module.zero_grad", "zero_grad",
           "nn.Module.zero_grad (Neuron/Layer/MLP on Value) does nothing", body_does_nothing(),
           ENGINE_PAGE),
    Mutant("mlp-layer-order", "nn", "MLP.__call__", "layer order",
           "the scalar MLP applies its layers last to first", replace("self.layers",
                                                                      "self.layers[::-1]"),
           ENGINE_PAGE),
    Mutant("central-difference-h", "gradcheck", "central_difference", "finite differences",
           "central difference divides by h instead of 2h", replace("2 * h", "h"),
           "book/autograd"),
    Mutant("central-difference-sign", "gradcheck", "central_difference", "finite differences",
           "central difference computes f(x - h) - f(x + h): the slope's sign is flipped",
           swap("f(x + h)", "f(x - h)", scope="def"), "book/autograd"),
    Mutant("make-mlp-no-activation", "models", "make_mlp", "MLP builder",
           "make_mlp drops the activations: Linear, Linear, ..., Linear",
           delete_statement("layers.append(act.torch_module())"), "book/mlp"),
    Mutant("train-skips-zero-grad", "train", "train", "training loop",
           "train() never calls optimizer.zero_grad(): gradients accumulate across steps",
           delete_statement("optimizer.zero_grad()"), "book/practice"),
    Mutant("collapse-transpose", "models", "collapse_linear", "linear collapse",
           "collapse_linear stores W transposed in the single Linear layer",
           replace("out.weight.copy_(W)", "out.weight.copy_(W.T)"), "book/mlp"),
]
FAST = ["mul-factor", "accumulate-assign", "central-difference-h", "make-mlp-no-activation"]


_BLOCKS = ("body", "orelse", "finalbody")


def _same_header(a: ast.AST, b: ast.AST) -> bool:
    """Same node type and the same fields, apart from the nested statement blocks."""
    return type(a) is type(b) and all(
        _key(va) == _key(vb) if isinstance(va, ast.AST) else
        [_key(x) if isinstance(x, ast.AST) else x for x in va] ==
        [_key(x) if isinstance(x, ast.AST) else x for x in vb] if isinstance(va, list) else va == vb
        for (name, va), (_, vb) in zip(ast.iter_fields(a), ast.iter_fields(b)) if name not in _BLOCKS)


def _replacements(old: ast.AST, new: ast.AST) -> list[tuple[int, int, int, str]]:
    """The smallest statements of ``old`` that differ in ``new``: (first line, last line,
    indentation, new source). ``new`` is ``old`` after a transform, so the two have the same
    shape except where the transform changed something."""
    found = []
    for name in _BLOCKS:
        a, b = getattr(old, name, None), getattr(new, name, None)
        if not isinstance(a, list) or not a or not isinstance(a[0], ast.stmt):
            continue
        if len(a) != len(b):
            found.append((a[0].lineno, a[-1].end_lineno, a[0].col_offset,
                          "\n".join(ast.unparse(t) for t in b)))
            continue
        for s, t in zip(a, b):
            if _key(s) == _key(t):
                continue
            if _same_header(s, t) and any(getattr(s, n, None) for n in _BLOCKS):
                found += _replacements(s, t)
            else:
                found.append((s.lineno, s.end_lineno, s.col_offset, ast.unparse(t)))
    return found


def _splice(lines: list[str], reps: list[tuple[int, int, int, str]]) -> str:
    for start, end, indent, text in sorted(reps, reverse=True):
        lines[start - 1:end] = [textwrap.indent(text, " " * indent) + "\n"]
    return "".join(lines)


def mutate_source(source: str, mutant: Mutant) -> tuple[str, list[str]]:
    """Apply ``mutant`` to the module's source; return the new source and the changed lines.

    Only the statements that the AST rewrite changed are replaced in the text (unparsed, at
    their indentation; the whole target def if that fails), so the rest of the file, comments
    included, is untouched. The result is verified: it parses to exactly the rewritten AST.
    Raises MutationError if the target or the pattern is missing or nothing changed.
    """
    tree = ast.parse(source)
    node = find_def(tree, mutant.target)
    original = copy.deepcopy(node)
    before = ast.unparse(node)
    n = mutant.transform(node)
    if not n:
        raise MutationError(f"mutant {mutant.name}: pattern not found in {mutant.path}::"
                            f"{mutant.target}")
    ast.fix_missing_locations(node)
    after = ast.unparse(node)
    if after == before:
        raise MutationError(f"mutant {mutant.name}: the rewrite of {mutant.target} changed nothing")
    want = _key(tree)
    start = min([d.lineno for d in getattr(original, "decorator_list", [])] + [original.lineno])
    candidates = [_replacements(original, node) if _same_header(original, node) else [],
                  [(start, original.end_lineno, original.col_offset, after)]]
    for reps in candidates:
        if not reps:
            continue
        new = _splice(source.splitlines(keepends=True), reps)
        try:
            if _key(ast.parse(new)) == want:
                break
        except SyntaxError:
            pass
    else:  # pragma: no cover - a bug of a transform
        raise MutationError(f"mutant {mutant.name}: could not write the rewritten {mutant.target}")
    change = [ln for ln in difflib.unified_diff(before.splitlines(), after.splitlines(),
                                                lineterm="", n=0)
              if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    return new, [re.sub(r"^([+-])\s+", r"\1 ", ln) for ln in change]


def apply_mutant(root: Path, mutant: Mutant) -> list[str]:
    """Rewrite the mutant's module inside the repository copy ``root``; return the change."""
    path = root / mutant.path
    new, change = mutate_source(path.read_text(encoding="utf-8"), mutant)
    path.write_text(new, encoding="utf-8")
    return change


# ----- running the build ---------------------------------------------------------------------
FAILED = re.compile(r"^FAILED (?P<path>\S+?\.md)(?::(?P<line>\d+))? "
                    r"\((?:cell (?P<cell>\d+)|kernel)\) after [\d.]+s: (?P<error>\S*)", re.M)
BAR = "=" * 78
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SPHINX_WARNING = re.compile(r"^(?P<path>[^\s:]+?)(?::(?P<line>\d+))?: (?P<level>WARNING|ERROR|"
                            r"CRITICAL): (?P<message>.*)$", re.M)


@dataclass
class Outcome:
    """What one build of a repository copy did."""

    returncode: int
    seconds: float
    failures: list[dict]
    executed: list[str]
    tail: str = ""
    warnings: list[dict] = field(default_factory=list)  # Sphinx's, when it rendered


def parse_failures(stderr: str) -> list[dict]:
    """Each ``FAILED book/x.md:LINE (cell N) ...: Error`` block of build.py's report."""
    failures = []
    for block in stderr.split(BAR + "\n"):
        m = FAILED.search(block)
        if not m:
            continue
        tb = block.split("--- traceback ---", 1)[-1]
        lines = [ln.strip() for ln in tb.splitlines() if ln.strip()
                 and not ln.startswith("[build]")]
        # IPython's traceback starts with "AssertionError   Traceback (most recent call last)"
        # and ends with "AssertionError: message" and maybe more lines of message.
        head = re.search(r"^(\S+)\s+Traceback \(most recent call last\)", tb, re.M)
        error = head[1] if head else m["error"]
        last = max((i for i, ln in enumerate(lines) if ln.startswith(error + ":")), default=None)
        message = " / ".join(lines[last:last + 3]) if last is not None else (lines or [""])[-1]
        failures.append({
            "page": m["path"], "line": int(m["line"]) if m["line"] else None,
            "cell": int(m["cell"]) if m["cell"] else None, "error": error,
            "message": message[:300],
        })
    return failures


def build(root: Path, *, jobs: int, execute_only: bool = True, only: list[str] = (),
          timeout: float = 3600) -> Outcome:
    """Run the copy's own ``tools/build.py`` on the copy and collect what failed where."""
    cmd = [sys.executable, str(root / "tools" / "build.py"), "--root", str(root),
           "--jobs", str(jobs)] + (["--execute-only"] if execute_only else [])
    for page in only:
        cmd += ["--only", page]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    except subprocess.TimeoutExpired as exc:
        return Outcome(-1, time.perf_counter() - start, [], [], f"timed out after {exc.timeout}s")
    seconds = time.perf_counter() - start
    report_path = root / "_build" / "exec-report.json"
    executed = json.loads(report_path.read_text())["executed"] if report_path.exists() else []
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
    warnings = [{"page": str(Path(w["path"]).resolve().relative_to(root.resolve()))
                 if Path(w["path"]).resolve().is_relative_to(root.resolve()) else w["path"],
                 "line": int(w["line"]) if w["line"] else None, "cell": None,
                 "error": f"Sphinx {w['level']}", "message": w["message"][:300]}
                for w in SPHINX_WARNING.finditer(ANSI.sub("", proc.stdout))]
    return Outcome(proc.returncode, seconds, parse_failures(proc.stderr), executed, tail, warnings)


def snapshot(dest: Path, source: Path = ROOT, with_cache: bool = True) -> Path:
    """Copy the working tree (never .venv, .git, _build) and, if present, its execution cache."""
    return copy_repo(source, dest, with_cache=with_cache)


@dataclass
class Record:
    """The result of one mutant, as written to bench/mutation.json."""

    mutant: str
    module: str
    target: str
    kind: str
    description: str
    change: list[str] = field(default_factory=list)
    status: str = "error"          # killed | survived | error | timeout
    killed: bool = False
    stage: str | None = None       # execute | render: the stage of the build that failed
    killed_by: list[dict] = field(default_factory=list)
    rendered: bool = False         # survived execution, then the full build was tried too
    executed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""


def run_mutant(base: Path, mutant: Mutant, work: Path, *, build_jobs: int = 1,
               pages: list[str] = (), render: Callable[[], tuple[bool, str]] | None = None,
               keep: bool = False) -> Record:
    """Copy ``base``, apply the mutant, build (``--execute-only``), and classify it.

    ``pages``: execute only these. ``render``: if execution survives, ask it whether the
    unmutated book renders ((ok, why)); if so, re-try the mutant with the full build.
    """
    rec = Record(mutant.name, mutant.module, mutant.target, mutant.kind, mutant.description)
    start = time.perf_counter()
    root = work / mutant.name
    try:
        snapshot(root, base)
        rec.change = apply_mutant(root, mutant)
        out = build(root, jobs=build_jobs, only=pages)
        rec.executed = out.executed
        if out.returncode == -1:
            rec.status, rec.error = "timeout", out.tail
        elif out.returncode != 0 and out.failures:
            rec.status, rec.killed, rec.stage, rec.killed_by = "killed", True, "execute", out.failures
        elif out.returncode != 0:
            rec.status, rec.error = "error", f"the build failed without a FAILED page:\n{out.tail}"
        elif render is not None and not pages:
            ok, why = render()
            rec.status = "survived"
            if not ok:
                rec.error = f"not re-tried with the render: {why}"
            else:
                full = build(root, jobs=build_jobs, execute_only=False)
                rec.rendered = True
                if full.returncode != 0:
                    rec.status, rec.killed, rec.stage = "killed", True, "render"
                    rec.killed_by = full.failures or full.warnings or [
                        {"page": None, "line": None, "cell": None, "error": "render",
                         "message": full.tail[-300:]}]
        else:
            rec.status = "survived"
    except MutationError as err:
        rec.status, rec.error = "error", str(err)
    finally:
        rec.seconds = round(time.perf_counter() - start, 1)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return rec


# ----- reporting -----------------------------------------------------------------------------
def where(rec: Record, short: bool = False) -> str:
    """Where the build caught the mutant: ``book/x.md:LINE cell N Error`` (or why not)."""
    if rec.status != "killed":
        return rec.error.splitlines()[0][:70] if rec.error else (
            "no page failed: execution, then the full render" if rec.rendered else
            "no page failed")
    parts = []
    for f in rec.killed_by:
        at = f"{f['page']}:{f['line']}" if f.get("page") else "?"
        cell = f" cell {f['cell']}" if f.get("cell") is not None else ""
        parts.append(f"{'render: ' if rec.stage == 'render' else ''}{at}{cell} {f['error']}")
    if short and len(parts) > 1:
        return f"{parts[0]} (+{len(parts) - 1} more page{'s' if len(parts) > 2 else ''})"
    return "; ".join(parts)


def table(records: list[Record]) -> str:
    rows = [("mutant", "target", "result", "killed by (page:line cell, error)", "s")]
    rows += [(r.mutant, f"{r.module}.{r.target}", r.status.upper() if r.status != "killed"
              else "killed", where(r, short=True), f"{r.seconds:.0f}") for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4].rjust(4)
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def print_list(mutants: list[Mutant], root: Path = ROOT) -> int:
    """Show every mutant and its rewrite, applied in memory to the current package."""
    errors = 0
    for m in mutants:
        try:
            _, change = mutate_source((root / m.path).read_text(encoding="utf-8"), m)
            shown = "\n".join("      " + ln for ln in change)
        except MutationError as err:
            errors += 1
            shown = f"      ERROR: {err}"
        print(f"{m.name:26} {m.module}.{m.target}  [{m.kind}] page {m.page}\n"
              f"      {m.description}\n{shown}")
    for name, why in EQUIVALENT.items():
        print(f"{name:26} not generated: equivalent mutant ({why})")
    print(f"{len(mutants)} mutant(s), {errors} error(s)")
    return 2 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the repository to mutate (default: this one); it is not modified")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="cores to use in total (default: all)")
    parser.add_argument("--build-jobs", type=int, default=1,
                        help="workers of each build; jobs // build-jobs mutants run at once "
                             "(default 1: on 2 idle cores, 2 mutants at a time with 1 worker each "
                             "beat 1 mutant with 2 workers by ~7%%: no idle core at a build's tail)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutants")
    parser.add_argument("--fast", action="store_true", help=f"the fast subset: {', '.join(FAST)}")
    parser.add_argument("--list", action="store_true", help="list the mutants and their rewrites")
    parser.add_argument("--single-page", action="store_true",
                        help="execute only each mutant's designated page (quick, partial)")
    parser.add_argument("--no-render", action="store_true",
                        help="do not re-try survivors with the full build (Sphinx render)")
    parser.add_argument("--keep", action="store_true", help="keep the repository copies")
    parser.add_argument("--out", type=Path, help="JSON results (default: bench/mutation.json "
                        "for a full run, _build/mutation-partial.json otherwise)")
    args = parser.parse_args(argv)

    by_name = {m.name: m for m in MUTANTS}
    names = args.only or (FAST if args.fast else list(by_name))
    unknown = [n for n in names if n not in by_name]
    if unknown:
        parser.error(f"unknown mutant(s): {', '.join(unknown)}; see --list")
    mutants = [by_name[n] for n in names]
    if args.list:
        return print_list(mutants, args.root)
    full_run = not (args.only or args.fast or args.single_page)
    out_path = args.out or (ROOT / ("bench/mutation.json" if full_run
                                    else "_build/mutation-partial.json"))
    build_jobs = max(1, min(args.build_jobs, args.jobs))
    parallel = max(1, args.jobs // build_jobs)

    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="mlpbook-mutate-"))
    try:
        # One snapshot of the tree: every mutant runs the same book, whatever is edited meanwhile.
        base = snapshot(work / "_baseline", args.root.resolve())
        # Errors of the tool first: every rewrite must apply to the snapshot's package.
        errors = []
        for m in mutants:
            try:
                mutate_source((base / m.path).read_text(encoding="utf-8"), m)
            except MutationError as err:
                errors.append(m.name)
                print(f"[mutate] ERROR: {err}", file=sys.stderr, flush=True)
        pages = sorted({m.page for m in mutants}) if args.single_page else []
        print(f"[mutate] baseline: building the unmutated snapshot"
              f"{' (pages ' + ', '.join(pages) + ')' if pages else ''} ...", flush=True)
        baseline = build(base, jobs=args.jobs, only=pages)
        if baseline.returncode != 0:
            bad = ", ".join(f"{f['page']}:{f['line']} (cell {f['cell']}) {f['error']}"
                            for f in baseline.failures) or baseline.tail
            print(f"[mutate] BASELINE FAILED, no mutant is reported: the unmutated book does not "
                  f"build: {bad}", file=sys.stderr)
            return 2
        print(f"[mutate] baseline ok: executed {len(baseline.executed)} page(s) in "
              f"{baseline.seconds:.1f}s; {len(mutants)} mutant(s), {parallel} at a time, "
              f"build --jobs {build_jobs}", flush=True)

        lock, gate = threading.Lock(), {}

        def render_gate() -> tuple[bool, str]:
            """Render the unmutated book once (on its own copy), the first time it is asked."""
            with lock:
                if not gate:
                    print("[mutate] a mutant survived execution: checking that the unmutated "
                          "book renders ...", flush=True)
                    out = build(snapshot(work / "_baseline-render", base), jobs=build_jobs,
                                execute_only=False)
                    gate["ok"] = out.returncode == 0
                    gate["why"] = "" if gate["ok"] else "the unmutated book does not render: " + (
                        "; ".join(f"{w['page']}:{w['line']}: {w['message']}"
                                  for w in out.warnings[:3]) or out.tail[-300:])
                    if not gate["ok"]:
                        print(f"[mutate] WARNING: {gate['why']}; survivors are not re-tried with "
                              f"the render", file=sys.stderr, flush=True)
                return gate["ok"], gate["why"]

        records: dict[str, Record] = {}
        todo = [m for m in mutants if m.name not in errors]
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            futures = {pool.submit(run_mutant, base, m, work, build_jobs=build_jobs,
                                   pages=[m.page] if args.single_page else [],
                                   render=None if args.no_render else render_gate,
                                   keep=args.keep): m for m in todo}
            for i, fut in enumerate(as_completed(futures), 1):
                rec = fut.result()
                records[rec.mutant] = rec
                print(f"[mutate] {i}/{len(todo)} {rec.mutant}: {rec.status} "
                      f"{where(rec, short=True)} ({rec.seconds:.0f}s)", flush=True)
        for name in errors:
            m = by_name[name]
            records[name] = Record(m.name, m.module, m.target, m.kind, m.description,
                                   status="error", error="pattern not found (see above)")
        ordered = [records[m.name] for m in mutants]
        wall = time.perf_counter() - t0
        print()
        print(table(ordered))
        counts = {s: sum(r.status == s for r in ordered)
                  for s in ("killed", "survived", "error", "timeout")}
        print(f"\n{counts['killed']}/{len(ordered)} killed, {counts['survived']} survived, "
              f"{counts['error']} error(s), {counts['timeout']} timeout(s); wall {wall:.0f}s "
              f"(baseline {baseline.seconds:.0f}s)")
        for r in ordered:
            if r.status == "error":
                print(f"[mutate] ERROR {r.mutant}: {r.error}", file=sys.stderr)
        result = {
            "mode": ("execute only designated pages" if args.single_page else
                     "build --execute-only; survivors re-tried with the full render"
                     if not args.no_render else "build --execute-only"),
            "jobs": args.jobs, "build_jobs": build_jobs, "parallel_mutants": parallel,
            "wall_seconds": round(wall, 1), "baseline_seconds": round(baseline.seconds, 1),
            "summary": counts,
            "equivalent_not_generated": EQUIVALENT,
            "mutants": [asdict(r) for r in ordered],
        }
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
        print(f"[mutate] wrote {out_path}")
        if counts["error"] or counts["timeout"]:
            return 2
        return 1 if counts["survived"] else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"[mutate] kept the copies in {work}")


if __name__ == "__main__":
    sys.exit(main())
