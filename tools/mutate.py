"""Mutation testing: does the book build catch every single fault in the gradient code?

A mutant is ONE fault at ONE site of ``code/mlpbook``. Mutants are generated from the code's AST
(functions found by qualified name, sites by structure, never by line number), so the set
follows the code:

* **Every local rule of the engine.** The engine's operations are the methods of ``Value`` that
  define a ``_backward`` closure (``engine_ops``). Each gradient contribution in a closure,
  ``x.grad += d``, is a *site*, mutated in each of these ways, one at a time:
  ``assign`` (``=`` instead of ``+=``), ``sign`` (``-=``), ``drop[f]`` (each factor ``f`` of
  ``d`` left out in turn: a lone factor becomes 1), ``read[a->b]`` (``d`` reads another operand
  of the operation: the input instead of the output, one input instead of the other) and
  ``swap[e]`` (the operands of a non-commutative operation ``e`` inside ``d`` exchanged).
* **The rest of the gradient machinery** (``TARGETS``: ``backward``, ``topological_sort``,
  both ``zero_grad``s, the training loop, ``collapse_linear``, ``make_mlp``, the scalar MLP
  forward, and the gradient checker, i.e. every function of ``gradcheck`` that computes a
  gradient or decides a verdict: ``central_difference``, ``numerical_grad``, ``_report``,
  ``GradcheckReport.__bool__``/``__str__``, ``check_scalar``, ``check_value_fn``,
  ``check_torch_fn``, ``torch_gradcheck``, ``_out``): every statement and expression outside
  input validation, with the generic operators ``delete`` (a statement), ``assign`` (``=`` for
  ``+=``), ``negate`` (a condition), ``operator`` (``+``/``-``, ``*``/``/``), ``swap`` (operands
  of ``-``, ``/``, ``**``, ``@``, a comparison), ``constant`` (0 -> 1, n -> n - 1, a bool
  flipped), ``reversed`` (``reversed(x)`` -> ``x``), ``scale`` (a tolerance or step, a float
  constant in (0, 1), x 1000: in the body, and as a parameter's default when the whole def is
  the target) and ``verdict`` (what a def annotated ``-> bool`` returns, or an ``all(...)`` /
  ``any(...)``, replaced by ``True`` and by ``False``).

A mutant argued to be equivalent is listed in ``EQUIVALENT`` with its argument. It is still
generated and run, to confirm that it survives, and is reported as such, never skipped.

For each mutant: copy a snapshot of the repository, rewrite one site, and execute, one page at
a time with the copy's own ``tools/build.py --execute-only --only PAGE``, the pages that import
the mutated module (directly or through another ``mlpbook`` module), the most likely killer
first (learned from the previous results file, then from this run). The first failing page
kills the mutant; the page, line, cell and error come from the build's structured report
(``pages.read_report``). A mutant that survives every page is re-tried with the full build
(Sphinx render, warnings as errors). The unmutated snapshot is built first: if it fails, no
mutant is reported.

Usage: python tools/mutate.py [--jobs N] [--only PATTERN ...] [--fast] [--list] [--all-pages]
                              [--no-render] [--no-history] [--keep] [--out FILE]
"""

from __future__ import annotations

import __future__
import argparse
import ast
import contextlib
import copy
import difflib
import fnmatch
import hashlib
import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pages import REPORT, book_pages, copy_repo, cpu_name, read_report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path("code") / "mlpbook"
RESULTS = Path("bench") / "mutation.json"


class MutationError(Exception):
    """A mutant could not be generated or applied: its target or its site is not in the code."""


# ----- AST helpers ---------------------------------------------------------------------------
Loc = tuple[tuple[str, "int | None"], ...]  # a node's location inside a def: (field, index) steps


def _key(node: ast.AST) -> str:
    return ast.dump(node, annotate_fields=False, include_attributes=False)


def _src(node: ast.AST, width: int = 48) -> str:
    """One-line source of ``node``, shortened to ``width`` characters."""
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= width else text[:width - 3] + "..."


def find_def(tree: ast.AST, qualname: str) -> ast.AST:
    """The ``def``/``class`` named by ``qualname`` (``Value.__mul__``, ``topological_sort``)."""
    body, node = tree.body, None
    for part in qualname.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                       ast.ClassDef)) and n.name == part), None)
        if node is None:
            raise MutationError(f"no definition {qualname!r} (missing {part!r})")
        body = node.body
    return node


def _walk(node: ast.AST, loc: Loc = ()) -> Iterator[tuple[Loc, ast.AST]]:
    """Every node under ``node`` with its location, in source order."""
    yield loc, node
    for name, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield from _walk(item, loc + ((name, i),))
        elif isinstance(value, ast.AST):
            yield from _walk(value, loc + ((name, None),))


def _get(node: ast.AST, loc: Loc) -> ast.AST:
    for name, i in loc:
        node = getattr(node, name) if i is None else getattr(node, name)[i]
    return node


def _put(root: ast.AST, loc: Loc, new: ast.AST) -> None:
    parent, (name, i) = _get(root, loc[:-1]), loc[-1]
    if i is None:
        setattr(parent, name, new)
    else:
        getattr(parent, name)[i] = new


def _closures(node: ast.AST) -> list[tuple[Loc, ast.FunctionDef]]:
    """The ``_backward`` closures defined inside ``node`` (one per operation)."""
    return [(loc, n) for loc, n in _walk(node)
            if isinstance(n, ast.FunctionDef) and n.name == "_backward"]


def _is_grad_update(node: ast.AST) -> bool:
    return (isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Attribute)
            and node.target.attr == "grad" and isinstance(node.op, (ast.Add, ast.Sub)))


# ----- the mutants ---------------------------------------------------------------------------
Edit = Callable[[ast.AST], None]


@dataclass(frozen=True)
class Mutant:
    """One fault: a rewrite of one site of the def ``target`` in ``code/mlpbook/<module>.py``."""

    name: str
    module: str
    target: str
    site: str
    kind: str
    description: str
    loc: Loc = field(default=(), repr=False, compare=False)
    expect: str = field(default="", repr=False, compare=False)  # _key of the node at loc
    edit: Edit | None = field(default=None, repr=False, compare=False)

    @property
    def path(self) -> Path:
        return PACKAGE / f"{self.module}.py"

    def rewrite(self, fn: ast.AST) -> None:
        """Apply the fault to the def ``fn`` (a fresh parse), checking that the site is there."""
        try:
            node = _get(fn, self.loc)
        except (AttributeError, IndexError) as err:
            raise MutationError(f"mutant {self.name}: site not found in {self.target}") from err
        if _key(node) != self.expect:
            raise MutationError(f"mutant {self.name}: the site in {self.target} changed")
        self.edit(fn)


KINDS = {  # kind -> what it means, for the report
    "assign": "`=` instead of `+=`",
    "sign": "contribution with the wrong sign",
    "drop": "a factor of the contribution left out",
    "read": "the contribution reads another operand of the operation",
    "swap": "operands of a non-commutative operation exchanged",
    "delete": "a statement deleted",
    "negate": "a condition negated",
    "operator": "an arithmetic operator replaced",
    "constant": "a constant changed",
    "reversed": "reversed(x) replaced by x",
    "scale": "a tolerance or step (a float constant or default in (0, 1)) multiplied by 1000",
    "verdict": "a verdict replaced by a constant (True, False)",
}
NONCOMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.MatMult)
OPPOSITE = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}
SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
FLIP = {ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
        ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt,
        ast.Gt: ast.LtE, ast.LtE: ast.Gt}


def _swapped(node: ast.expr) -> ast.expr:
    """``a op b`` with its operands exchanged (a one-operator comparison too)."""
    if isinstance(node, ast.BinOp):
        return ast.BinOp(copy.deepcopy(node.right), node.op, copy.deepcopy(node.left))
    return ast.Compare(copy.deepcopy(node.comparators[0]), node.ops,
                       [copy.deepcopy(node.left)])


def _swappable(node: ast.AST) -> bool:
    return ((isinstance(node, ast.BinOp) and isinstance(node.op, NONCOMMUTATIVE))
            or (isinstance(node, ast.Compare) and len(node.ops) == 1
                and isinstance(node.ops[0], (ast.Lt, ast.LtE, ast.Gt, ast.GtE))))


def _replace_at(loc: Loc, new: Callable[[ast.AST], ast.AST]) -> Edit:
    def edit(fn: ast.AST) -> None:
        _put(fn, loc, ast.copy_location(new(_get(fn, loc)), _get(fn, loc)))
    return edit


def _delete_at(loc: Loc) -> Edit:
    def edit(fn: ast.AST) -> None:
        block = getattr(_get(fn, loc[:-1]), loc[-1][0])
        del block[loc[-1][1]]
        if not block:
            block.append(ast.Pass())
    return edit


# --- the engine's local rules
def engine_ops(source: str) -> dict[str, str]:
    """The engine's operations, found in its code: ``{op: method}`` for every method of
    ``Value`` that defines a ``_backward`` closure, e.g. ``{"mul": "__mul__", "exp": "exp"}``."""
    cls = find_def(ast.parse(source), "Value")
    return {m.name.strip("_"): m.name for m in cls.body
            if isinstance(m, ast.FunctionDef) and _closures(m)}


def _factors(expr: ast.expr) -> list[tuple[ast.expr, type]]:
    """A product/quotient as its factors: ``a * b / c`` -> [(a, Mult), (b, Mult), (c, Div)]."""
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Mult, ast.Div)):
        return _factors(expr.left) + [(expr.right, type(expr.op))]
    return [(expr, ast.Mult)]


def _product(factors: list[tuple[ast.expr, type]]) -> ast.expr:
    acc = None
    for f, op in factors:
        f = copy.deepcopy(f)
        if acc is None:
            acc = f if op is ast.Mult else ast.BinOp(ast.Constant(1), ast.Div(), f)
        else:
            acc = ast.BinOp(acc, op(), f)
    return acc if acc is not None else ast.Constant(1.0)


def _operands(method: ast.FunctionDef) -> tuple[list[str], dict[str, str]]:
    """The values an operation can read: ``(["self.data", "other.data", "out.data"],
    {alias: value})``. Inputs are the ``_prev`` of the output ``Value(...)``; the output is the
    node whose ``_backward`` is set; a local name is an alias of the output if the output is
    built from it (``t`` in tanh), of an input if it is assigned ``input.data``."""
    out_name = next((n.targets[0].value.id for n in ast.walk(method)
                     if isinstance(n, ast.Assign) and len(n.targets) == 1
                     and isinstance(n.targets[0], ast.Attribute)
                     and n.targets[0].attr == "_backward"
                     and isinstance(n.targets[0].value, ast.Name)), None)
    ctor = next((n.value for n in ast.walk(method) if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == out_name for t in n.targets)
                 and isinstance(n.value, ast.Call)), None)
    if out_name is None or ctor is None:
        return [], {}
    prev = next((k.value for k in ctor.keywords if k.arg == "_prev"), None)
    inputs = [e.id for e in getattr(prev, "elts", []) if isinstance(e, ast.Name)]
    values = [f"{i}.data" for i in inputs] + [f"{out_name}.data"]
    aliases = {}
    if ctor.args and isinstance(ctor.args[0], ast.Name):
        aliases[ctor.args[0].id] = f"{out_name}.data"
    for n in ast.walk(method):
        if (isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
                and ast.unparse(n.value) in values[:-1]):
            aliases[n.targets[0].id] = ast.unparse(n.value)
    return values, aliases


def _rule_mutants(module: str, cls: str, method: ast.FunctionDef) -> Iterator[Mutant]:
    """Every single-site mutant of the contributions in ``method``'s ``_backward`` closure."""
    op, target = method.name.strip("_"), f"{cls}.{method.name}"
    values, aliases = _operands(method)
    for cloc, closure in _closures(method):
        for sloc, stmt in _walk(closure, cloc):
            if not _is_grad_update(stmt):
                continue
            who = _src(stmt.target.value)
            site = f"{op}.{who}"
            rhs, neg = stmt.value, isinstance(stmt.op, ast.Sub)
            shown = f"{who}.grad {'-' if neg else '+'}= {_src(rhs)}"

            def make(kind: str, label: str, what: str, loc: Loc, edit: Edit,
                     _site: str = site) -> Mutant:
                name = f"{_site}:{kind}" + (f"[{label}]" if label else "")
                return Mutant(name, module, target, _site, kind,
                              f"{op} backward, `{shown}`: {what}", loc,
                              _key(_get(method, loc)), edit)

            yield make("assign", "", "`=` instead of `+=` (the contribution replaces the sum)",
                       sloc, _replace_at(sloc, lambda s: ast.Assign(
                           [copy.deepcopy(s.target)],
                           ast.UnaryOp(ast.USub(), copy.deepcopy(s.value))
                           if isinstance(s.op, ast.Sub) else copy.deepcopy(s.value))))
            yield make("sign", "", "the contribution is subtracted instead of added"
                       if not neg else "the contribution is added instead of subtracted",
                       sloc, _replace_at(sloc, lambda s: ast.AugAssign(
                           copy.deepcopy(s.target), ast.Add() if isinstance(s.op, ast.Sub)
                           else ast.Sub(), copy.deepcopy(s.value))))
            vloc = sloc + (("value", None),)
            factors = _factors(rhs)
            for i, (f, _) in enumerate(factors):
                rest = factors[:i] + factors[i + 1:]
                yield make("drop", _src(f, 24), f"the factor `{_src(f)}` is left out",
                           vloc, _replace_at(vloc, lambda v, i=i: _product(
                               _factors(v)[:i] + _factors(v)[i + 1:])))
            for eloc, e in _walk(rhs, vloc):
                value = (f"{e.value.id}.data" if isinstance(e, ast.Attribute)
                         and e.attr == "data" and isinstance(e.value, ast.Name) else
                         aliases.get(e.id) if isinstance(e, ast.Name) else None)
                if value not in values or isinstance(getattr(e, "ctx", None), ast.Store):
                    continue
                for other in values:
                    if other != value:
                        yield make("read", f"{_src(e)}->{other}",
                                   f"reads `{other}` instead of `{_src(e)}`", eloc,
                                   _replace_at(eloc, lambda _, o=other: ast.parse(
                                       o, mode="eval").body))
            for eloc, e in _walk(rhs, vloc):
                if _swappable(e):
                    yield make("swap", _src(e, 24), f"`{_src(e)}` becomes "
                               f"`{_src(_swapped(e))}`", eloc, _replace_at(eloc, _swapped))


# --- the other targets: generic single-site operators outside input validation
def _is_check_call(node: ast.AST) -> bool:
    """A call to a validation helper: ``_check*(...)``, ``validation.*(...)`` (the package's
    validation module) or ``warnings.warn(...)``."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    return ((isinstance(f, ast.Name) and f.id.startswith(("_check", "check_")))
            or (isinstance(f, ast.Attribute) and (
                f.attr == "warn" or f.attr.startswith("_check")
                or (isinstance(f.value, ast.Name) and f.value.id == "validation"))))


def _is_validation(stmt: ast.stmt) -> bool:
    """Input validation: ``raise``/``assert``, an ``if`` that only raises or warns, a call to a
    validation helper (alone or assigned). Rejecting bad input is the business of the package's
    unit tests; the book runs on valid input, where validation changes nothing."""
    if isinstance(stmt, (ast.Raise, ast.Assert)):
        return True
    if isinstance(stmt, ast.If):
        return all(_is_validation(s) for s in stmt.body + stmt.orelse)
    if isinstance(stmt, ast.Expr):
        return _is_check_call(stmt.value)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        return _is_check_call(stmt.value)
    return False


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


SIMPLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign)


def _new_constant(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if value == 0:
        return type(value)(1)
    return value - 1


SCALE = 1000


def _is_small_float(node: ast.AST) -> bool:
    """A float constant in (0, 1): a tolerance or a step (``1e-7``, ``h = 1e-6``)."""
    return (isinstance(node, ast.Constant) and type(node.value) is float
            and 0 < node.value < 1)


def _returns_bool(fn: ast.AST) -> bool:
    """A def annotated ``-> bool``: what it returns is a verdict."""
    return (isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            and isinstance(fn.returns, (ast.Name, ast.Constant))
            and getattr(fn.returns, "id", getattr(fn.returns, "value", None)) == "bool")


def _verdicts(loc: Loc, node: ast.expr, where: str) -> Iterator[tuple[str, str, str, Loc, Edit]]:
    for value in (True, False):
        yield ("verdict", f"{_src(node, 32)}->{value}",
               f"the verdict `{_src(node)}` {where} is always `{value}`", loc,
               _replace_at(loc, lambda _, v=value: ast.Constant(v)))


def _scales(loc: Loc, node: ast.Constant, where: str) -> Iterator[tuple[str, str, str, Loc, Edit]]:
    new = float(f"{node.value * SCALE:.12g}")  # 1e-07 -> 0.0001, not 9.999999999999999e-05
    yield ("scale", f"{node.value!r}->{new!r} in {where[:32]}",
           f"`{node.value!r}` becomes `{new!r}` in `{where}`", loc,
           _replace_at(loc, lambda _, v=new: ast.Constant(v)))


def _signature_sites(fn: ast.AST) -> Iterator[tuple[str, str, str, Loc, Edit]]:
    """``scale`` mutants of the def's default tolerances and steps (``atol=1e-7``, ``h=1e-6``)."""
    args = fn.args
    positional = args.posonlyargs + args.args
    pairs = [(positional[len(positional) - len(args.defaults) + i], ("defaults", i), d)
             for i, d in enumerate(args.defaults)]
    pairs += [(a, ("kw_defaults", i), d) for i, (a, d) in enumerate(zip(args.kwonlyargs,
                                                                           args.kw_defaults))]
    for arg, step, default in pairs:
        if default is not None and _is_small_float(default):
            yield from _scales((("args", None), step), default, f"{arg.arg}={default.value!r}")


def _generic_sites(fn: ast.AST, roots: list[Loc]) -> Iterator[tuple[str, str, str, Loc, Edit]]:
    """(kind, label, description, loc, edit) of every generic single-site mutant under the
    statements at ``roots`` (locations inside ``fn``), outside validation and docstrings."""

    def stmt_sites(loc: Loc, stmt: ast.stmt,
                   owner: ast.AST = fn) -> Iterator[tuple[str, str, str, Loc, Edit]]:
        if _is_validation(stmt) or _is_docstring(stmt):
            return
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            owner = stmt  # its returns are its own
        if (isinstance(stmt, ast.Return) and stmt.value is not None and _returns_bool(owner)
                and not isinstance(stmt.value, ast.Constant)):
            yield from _verdicts(loc + (("value", None),), stmt.value,
                                 f"returned by {owner.name}")
        if isinstance(stmt, SIMPLE):
            yield "delete", _src(stmt), f"`{_src(stmt)}` deleted", loc, _delete_at(loc)
        if isinstance(stmt, ast.AugAssign):
            yield ("assign", _src(stmt), f"`{_src(stmt)}` becomes `=`", loc, _replace_at(
                loc, lambda s: ast.Assign([copy.deepcopy(s.target)], copy.deepcopy(s.value))))
        if isinstance(stmt, (ast.If, ast.While)):
            yield from negate(loc + (("test", None),), stmt.test)
        for name, value in ast.iter_fields(stmt):
            if name in ("annotation", "returns", "decorator_list", "type_comment"):
                continue
            if isinstance(value, list):
                for i, v in enumerate(value):
                    if isinstance(v, ast.stmt):
                        yield from stmt_sites(loc + ((name, i),), v, owner)
                    elif isinstance(v, ast.expr):
                        yield from expr_sites(loc + ((name, i),), v, stmt)
            elif isinstance(value, ast.expr):
                yield from expr_sites(loc + ((name, None),), value, stmt)

    def negate(loc: Loc, test: ast.expr) -> Iterator[tuple[str, str, str, Loc, Edit]]:
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            new = lambda t: copy.deepcopy(t.operand)  # noqa: E731
        elif isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in FLIP:
            new = lambda t: ast.Compare(copy.deepcopy(t.left), [FLIP[type(t.ops[0])]()],  # noqa
                                        copy.deepcopy(t.comparators))
        else:
            new = lambda t: ast.UnaryOp(ast.Not(), copy.deepcopy(t))  # noqa: E731
        yield ("negate", _src(test), f"the condition `{_src(test)}` is negated", loc,
               _replace_at(loc, new))

    def constant_sites(loc: Loc, node: ast.expr, where: ast.AST) -> Iterator[tuple]:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            new = _new_constant(node.value)
            label = f"{node.value!r}->{new!r} in {_src(where, 32)}"
            yield ("constant", label, f"`{node.value!r}` becomes `{new!r}` in `{_src(where)}`",
                   loc, _replace_at(loc, lambda _, v=new: ast.Constant(v)))
            if _is_small_float(node):
                yield from _scales(loc, node, _src(where))

    def expr_sites(loc: Loc, expr: ast.expr, stmt: ast.stmt | None) -> Iterator[tuple]:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return)) and \
                loc[-1][0] == "value":
            yield from constant_sites(loc, expr, stmt)
        slices = {id(n.slice) for n in ast.walk(expr) if isinstance(n, ast.Subscript)}
        for eloc, e in _walk(expr, loc):
            if isinstance(e, ast.BinOp):
                if type(e.op) in OPPOSITE:
                    other = OPPOSITE[type(e.op)]
                    shown = _src(ast.BinOp(e.left, other(), e.right))
                    yield ("operator", f"{SYMBOL[type(e.op)]}->{SYMBOL[other]} in {_src(e, 32)}",
                           f"`{_src(e)}` becomes `{shown}`", eloc,
                           _replace_at(eloc, lambda n, o=other: ast.BinOp(
                               copy.deepcopy(n.left), o(), copy.deepcopy(n.right))))
                if _swappable(e):
                    yield ("swap", _src(e, 32), f"`{_src(e)}` becomes `{_src(_swapped(e))}`",
                           eloc, _replace_at(eloc, _swapped))
                for side in ("left", "right"):
                    yield from constant_sites(eloc + ((side, None),), getattr(e, side), e)
            elif isinstance(e, ast.Compare) and _swappable(e):
                yield ("swap", _src(e, 32), f"`{_src(e)}` becomes `{_src(_swapped(e))}`",
                       eloc, _replace_at(eloc, _swapped))
            elif isinstance(e, ast.IfExp):
                yield from negate(eloc + (("test", None),), e.test)
            elif isinstance(e, (ast.Tuple, ast.List)) and id(e) not in slices:
                for i, item in enumerate(e.elts):
                    yield from constant_sites(eloc + (("elts", i),), item, e)
            elif (isinstance(e, ast.Call) and isinstance(e.func, ast.Name)
                  and e.func.id in ("all", "any") and len(e.args) == 1):
                yield from _verdicts(eloc, e, f"in `{_src(stmt)}`")
            elif (isinstance(e, ast.Call) and isinstance(e.func, ast.Name)
                  and e.func.id == "reversed" and len(e.args) == 1):
                yield ("reversed", _src(e), f"`{_src(e)}` becomes `{_src(e.args[0])}`", eloc,
                       _replace_at(eloc, lambda n: copy.deepcopy(n.args[0])))

    for root in roots:
        yield from stmt_sites(root, _get(fn, root))
    if roots == whole_body(fn):  # the whole def: its default tolerances and steps too
        yield from _signature_sites(fn)


# Scopes: which statements of a target are mutated (locations inside the def).
Scope = Callable[[ast.AST], list[Loc]]


def whole_body(fn: ast.AST) -> list[Loc]:
    """Every statement of the def."""
    return [(("body", i),) for i in range(len(fn.body))]


def loop_calling(method: str) -> Scope:
    """The innermost ``for`` loop whose body calls ``.<method>()`` (the training loop)."""
    def scope(fn: ast.AST) -> list[Loc]:
        loops = [loc for loc, n in _walk(fn) if isinstance(n, ast.For) and any(
            isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
            and c.func.attr == method for s in n.body for c in ast.walk(s))]
        if not loops:
            raise MutationError(f"no for loop calling .{method}() in {fn.name}")
        return [max(loops, key=len)]
    return scope


def block_calling(method: str) -> Scope:
    """The outermost ``with`` block whose statements call ``.<method>(...)``."""
    def scope(fn: ast.AST) -> list[Loc]:
        found = [loc for loc, n in _walk(fn) if isinstance(n, ast.With) and any(
            isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
            and c.func.attr == method for c in ast.walk(n))]
        if not found:
            raise MutationError(f"no with block calling .{method}() in {fn.name}")
        return [min(found, key=len)]
    return scope


@dataclass(frozen=True)
class Target:
    """A function of the gradient machinery, mutated with the generic operators in ``scope``."""

    module: str
    qualname: str
    what: str
    scope: Scope = whole_body


TARGETS = [
    Target("engine", "Value.backward", "backward"),
    Target("engine", "topological_sort", "topological sort"),
    Target("gradcheck", "central_difference", "finite differences"),
    Target("gradcheck", "numerical_grad", "numerical gradient"),
    Target("gradcheck", "_report", "gradcheck verdict"),
    Target("gradcheck", "GradcheckReport.__bool__", "gradcheck verdict"),
    Target("gradcheck", "GradcheckReport.__str__", "gradcheck report"),
    Target("gradcheck", "check_scalar", "gradcheck of a derivative"),
    Target("gradcheck", "check_value_fn", "gradcheck of the engine"),
    Target("gradcheck", "check_torch_fn", "gradcheck of autograd"),
    Target("gradcheck", "torch_gradcheck", "torch.autograd.gradcheck"),
    Target("gradcheck", "_out", "gradcheck values"),
    Target("engine", "Value.zero_grad", "zero_grad"),
    Target("nn", "Module.zero_grad", "zero_grad"),
    Target("train", "train", "training loop", loop_calling("backward")),
    Target("models", "collapse_linear", "collapse_linear", block_calling("copy_")),
    Target("models", "make_mlp", "MLP builder", loop_calling("append")),
    Target("nn", "MLP.__call__", "scalar MLP forward"),
]

# Mutants argued to be equivalent: generated and run all the same (to confirm they survive),
# and reported with the argument. An entry whose mutant no longer exists is a tool ERROR.
_ABS_OF_DIFFERENCE = (
    "`a - n` is the argument of `abs`: IEEE-754 subtraction is correctly rounded and rounding "
    "to nearest is symmetric about zero, so `n - a` is exactly `-(a - n)` (for infinities and "
    "NaN too), and `abs` of the two is the same float. ")
EQUIVALENT: dict[str, str] = {
    "_report:swap[a - n]": _ABS_OF_DIFFERENCE + "Every error, hence the verdict, is unchanged",
    "GradcheckReport.__str__:swap[a - n]": _ABS_OF_DIFFERENCE
    + "Each row's mismatch mark is decided on the same error",
    "GradcheckReport.__str__:swap[a - n]#2": _ABS_OF_DIFFERENCE
    + "Each row prints the same absolute error",
    "relu.self:read[self.data->out.data]":
        "relu's output is max(0, x), and max(0, x) > 0 exactly when x > 0: the local derivative "
        "(x > 0) reads the same truth value from the output as from the input",
    "topological_sort:reversed[reversed(node.prev)]":
        "pushing a node's inputs in the other order gives another valid topological order "
        "(every node still comes after all of its inputs), so backward still runs each "
        "closure once, after every closure that adds to its node's gradient. Only the order "
        "in which contributions are added into a shared node changes (the last bit of a sum at "
        "most; the pages compare sums with tolerances), and graph drawings stack a node's "
        "inputs in the other order: no gradient changes",
}


def _target_mutants(root: Path, t: Target) -> Iterator[Mutant]:
    fn = find_def(ast.parse((root / PACKAGE / f"{t.module}.py").read_text(encoding="utf-8")),
                  t.qualname)
    for kind, label, what, loc, edit in _generic_sites(fn, t.scope(fn)):
        yield Mutant(f"{t.qualname}:{kind}[{label}]", t.module, t.qualname, t.what, kind,
                     f"{t.what}: {what}", loc, _key(_get(fn, loc)), edit)


def generate(root: Path = ROOT) -> list[Mutant]:
    """Every single-site mutant of the package at ``root``, in source order, with unique names
    (a repeated name gets ``#2``, ``#3``... in source order)."""
    source = (root / PACKAGE / "engine.py").read_text(encoding="utf-8")
    cls = find_def(ast.parse(source), "Value")
    found: list[Mutant] = []
    methods = {m.name: m for m in cls.body if isinstance(m, ast.FunctionDef)}
    for method in engine_ops(source).values():
        found += _rule_mutants("engine", "Value", methods[method])
    for t in TARGETS:
        found += _target_mutants(root, t)
    seen: dict[str, int] = {}
    unique = []
    for m in found:
        seen[m.name] = seen.get(m.name, 0) + 1
        if seen[m.name] > 1:
            m = Mutant(f"{m.name}#{seen[m.name]}", m.module, m.target, m.site, m.kind,
                       m.description, m.loc, m.expect, m.edit)
        unique.append(m)
    return unique


# ----- applying a mutant to source text --------------------------------------------------------
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
    indentation, new source). ``new`` is ``old`` after a rewrite, so the two have the same
    shape except where the rewrite changed something."""
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

    Only the statements that the rewrite changed are replaced in the text (unparsed, at their
    indentation; the whole target def if that fails), so the rest of the file, comments
    included, is untouched. The result is verified: it parses to exactly the rewritten AST.
    Raises MutationError if the target or the site is missing or nothing changed.
    """
    tree = ast.parse(source)
    node = find_def(tree, mutant.target)
    original = copy.deepcopy(node)
    before = ast.unparse(node)
    mutant.rewrite(node)
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
    else:  # pragma: no cover - a bug of a rewrite
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


@contextlib.contextmanager
def patched(mutant: Mutant) -> Iterator[None]:
    """Run a block with ``mutant`` applied to the imported ``mlpbook`` in this process.

    The mutated def is compiled in its module's namespace and set in place of the original
    (a method on its class, a function on its module) for the duration of the block. Fast:
    no copy, no kernel. Code that holds a reference taken before (``from m import f``) keeps
    the original, so run code that looks the name up afresh.
    """
    module = importlib.import_module(f"mlpbook.{mutant.module}")
    source = Path(module.__file__).read_text(encoding="utf-8")
    new, _ = mutate_source(source, mutant)
    node = find_def(ast.parse(new), mutant.target)
    code = compile(ast.Module([node], type_ignores=[]), module.__file__, "exec",
                   flags=__future__.annotations.compiler_flag, dont_inherit=True)
    namespace = dict(vars(module))
    exec(code, namespace)  # noqa: S102 - the package's own code, rewritten
    *owner_path, name = mutant.target.split(".")
    owner = module
    for part in owner_path:
        owner = getattr(owner, part)
    old = owner.__dict__[name]
    setattr(owner, name, namespace[name])
    try:
        yield
    finally:
        setattr(owner, name, old)



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
    deps = {m: _imported(ast.parse((pkg / f"{m}.py").read_text(encoding="utf-8")), modules)
            - {m} for m in modules}
    out = {}
    for page in book_pages(root):
        if not page.has_code:
            continue
        code = _cell_code(page.path)
        try:
            direct = _imported(ast.parse(code), modules)
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
                self.direct[doc] = _imported(ast.parse(code), pkg_modules)
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


# ----- running the build on a copy -------------------------------------------------------------
@dataclass
class Run:
    """One run of a copy's ``tools/build.py``: exit code, wall and CPU seconds (the build and
    every process it waited for: page workers, kernels), its report, the tail of its output."""

    returncode: int
    seconds: float
    cpu: float
    report: dict | None
    tail: str = ""


def _kill_tree(pid: int) -> None:
    """Kill ``pid`` and every process it started (kernels run in sessions of their own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo, tree = [pid], []
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children.get(p, [])
    for p in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGKILL)


# Runs a command as a child subreaper: processes it orphans (a page's worker, its kernel) are
# re-parented to this one and reaped, so the CPU time of the whole tree is counted.
REAPER = """
import ctypes, os, resource, subprocess, sys
try:
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
except (AttributeError, OSError):  # not Linux: orphans' CPU time is not counted
    pass
code = subprocess.call(sys.argv[2:])
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(str(usage.ru_utime + usage.ru_stime))
sys.exit(code)
"""


def _run(cmd: list[str], cwd: Path, timeout: float) -> Run:
    """Run ``cmd``; ``returncode`` -1 if it was killed (with all it started) at ``timeout``."""
    with tempfile.TemporaryDirectory(prefix="mlpbook-run-") as tmp:
        log_path, cpu_path = Path(tmp) / "log", Path(tmp) / "cpu"
        start = time.perf_counter()
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, "-c", REAPER, str(cpu_path), *cmd],
                                    cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
            try:
                proc.wait(timeout=timeout)
                code = proc.returncode
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                proc.wait()
                code = -1
        seconds = time.perf_counter() - start
        tail = "\n".join(log_path.read_text(errors="replace").strip().splitlines()[-25:])
        cpu = float(cpu_path.read_text()) if cpu_path.exists() else 0.0
    try:
        report = read_report(cwd)
    except (OSError, ValueError):
        report = None
    return Run(code, seconds, cpu, report, tail)


def build(root: Path, *, jobs: int, execute_only: bool = True, only: list[str] = (),
          timeout: float = 900) -> Run:
    """Run the copy's own ``tools/build.py`` on the copy (its previous report removed first)."""
    with contextlib.suppress(FileNotFoundError):
        (root / REPORT).unlink()
    cmd = [sys.executable, str(root / "tools" / "build.py"), "--root", str(root),
           "--jobs", str(jobs)] + (["--execute-only"] if execute_only else [])
    for page in only:
        cmd += ["--only", page]
    return _run(cmd, root, timeout)


def snapshot(dest: Path, source: Path = ROOT, with_cache: bool = True) -> Path:
    """Copy the working tree (never .venv, .git, _build) and, if asked, its execution cache."""
    return copy_repo(source, dest, with_cache=with_cache)


@dataclass
class Record:
    """The result of one mutant, as written to bench/mutation.json."""

    mutant: str
    module: str
    target: str
    site: str
    kind: str
    description: str
    change: list[str] = field(default_factory=list)
    status: str = "error"          # killed | survived | equivalent | error | timeout
    killed: bool = False
    stage: str | None = None       # execute | render: the stage of the build that failed
    killed_by: list[dict] = field(default_factory=list)  # the build report's failures
    tried: list[dict] = field(default_factory=list)      # [{page, killed, seconds, cpu}]
    candidates: list[str] = field(default_factory=list)  # the pages importing the module
    equivalent: str | None = None  # the argument, for a mutant argued to be equivalent
    rendered: bool = False         # survived execution, then the full build was tried too
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    error: str = ""


def _failures(run: Run) -> list[dict]:
    return [{k: f.get(k) for k in ("page", "path", "line", "cell", "error", "message")}
            for f in (run.report or {}).get("failures", [])]


def _dirname(name: str) -> str:
    """A directory name for a mutant's copy: no path separator (``:`` would split the
    kernel's PYTHONPATH and silently import another copy of mlpbook)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60] + "-" + hashlib.sha1(
        name.encode()).hexdigest()[:8]


def imports_from(root: Path) -> str:
    """Where a kernel of ``root``'s build imports ``mlpbook`` from (build.py puts
    ``root/code`` first on PYTHONPATH); must be inside ``root``."""
    out = subprocess.run([sys.executable, "-c", "import mlpbook; print(mlpbook.__file__)"],
                         capture_output=True, text=True, cwd="/",
                         env={**os.environ, "PYTHONPATH": str(root / "code")})
    return out.stdout.strip() or out.stderr.strip()[-300:]


def run_mutant(base: Path, mutant: Mutant, work: Path, *, planner: Planner | None = None,
               pages: list[str] | None = None, all_pages: bool = False,
               render: Callable[[], tuple[bool, str]] | None = None, timeout: float = 900,
               keep: bool = False) -> Record:
    """Copy ``base``, apply the mutant, and execute the pages that can kill it, one at a time,
    most likely killer first, until one fails (``all_pages``: run every one). ``pages``: run
    these instead. ``render``: if every page passes, ask it whether the unmutated book renders
    ((ok, why)); if so, re-try the mutant with the full build (Sphinx, warnings as errors)."""
    rec = Record(mutant.name, mutant.module, mutant.target, mutant.site, mutant.kind,
                 mutant.description, equivalent=EQUIVALENT.get(mutant.name))
    start = time.perf_counter()
    root = work / _dirname(mutant.name)
    try:
        snapshot(root, base, with_cache=False)
        rec.change = apply_mutant(root, mutant)
        rec.candidates = planner.candidates(mutant) if planner else list(pages or [])
        todo = list(pages) if pages is not None else planner.order(mutant)
        for page in todo:
            run = build(root, jobs=1, only=[page], timeout=timeout)
            rec.cpu_seconds += run.cpu
            failures = _failures(run)
            if run.returncode == -1:
                rec.status, rec.error = "timeout", f"{page}: no result after {timeout:.0f}s"
                break
            if run.returncode != 0 and not failures:
                rec.status, rec.error = "error", f"{page}: the build failed without a failing " \
                                                 f"page:\n{run.tail}"
                break
            killed = bool(failures)
            rec.tried.append({"page": page, "killed": killed, "seconds": round(run.seconds, 2),
                              "cpu": round(run.cpu, 2)})
            if planner:
                planner.learn(mutant.target, page, killed, run.seconds)
            if killed:
                if not rec.killed:
                    rec.status, rec.killed, rec.stage = "killed", True, "execute"
                rec.killed_by += failures
                if not all_pages:
                    break
        else:
            if not rec.killed:
                rec.status = "equivalent" if rec.equivalent else "survived"
        if rec.status == "survived" and render is not None and pages is None:
            ok, why = render()
            if not ok:
                rec.error = f"not re-tried with the render: {why}"
            else:
                full_root = snapshot(work / (root.name + "-full"), base)
                apply_mutant(full_root, mutant)
                full = build(full_root, jobs=1, execute_only=False, timeout=timeout)
                rec.cpu_seconds += full.cpu
                rec.rendered = True
                if full.returncode != 0:
                    rec.status, rec.killed, rec.stage = "killed", True, "render"
                    rec.killed_by = _failures(full) or [
                        {"page": None, "path": None, "line": None, "cell": None,
                         "error": "render", "message": full.tail[-300:]}]
                if not keep:
                    shutil.rmtree(full_root, ignore_errors=True)
    except MutationError as err:
        rec.status, rec.error = "error", str(err)
    finally:
        rec.seconds = round(time.perf_counter() - start, 1)
        rec.cpu_seconds = round(rec.cpu_seconds, 1)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return rec


# ----- reporting -----------------------------------------------------------------------------
def where(rec: Record) -> str:
    """Where the build caught the mutant: ``book/x.md:LINE cell N Error`` (or why not)."""
    if rec.status != "killed":
        return rec.error.splitlines()[0][:70] if rec.error else (
            "argued equivalent; no page failed" if rec.status == "equivalent" else
            "no page failed: execution, then the full render" if rec.rendered else
            "no page failed")
    f = rec.killed_by[0]
    at = f"{f['path']}:{f['line']}" if f.get("path") else "?"
    cell = f" cell {f['cell']}" if f.get("cell") is not None else ""
    more = f" (+{len(rec.killed_by) - 1})" if len(rec.killed_by) > 1 else ""
    return f"{'render: ' if rec.stage == 'render' else ''}{at}{cell} {f['error']}{more}"


def table(records: list[Record]) -> str:
    rows = [("mutant", "result", "killed by (page:line cell, error)", "pages", "s")]
    rows += [(r.mutant[:64], r.status.upper() if r.status not in ("killed", "equivalent")
              else r.status, where(r), str(len(r.tried)), f"{r.seconds:.0f}") for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def summarize(records: list[dict]) -> dict:
    counts = {s: sum(r["status"] == s for r in records)
              for s in ("killed", "survived", "equivalent", "error", "timeout")}
    counts["mutants"] = len(records)
    counts["argued_equivalent_but_killed"] = sum(bool(r["equivalent"]) and r["killed"]
                                                 for r in records)
    counts["page_runs"] = sum(len(r["tried"]) for r in records)
    return counts


def readme_section(result: dict) -> str:
    """The README's generated mutation table, from a full run's results."""
    recs, s = result["mutants"], result["summary"]
    load = result.get("load_average")
    out = [f"**Latest run**: **{s['killed']} of {s['mutants'] - s['equivalent']} non-equivalent "
           f"single-site mutants killed** by the build, {s['survived']} survived, "
           f"{s['equivalent']} argued equivalent (they survive, as argued below)"
           + (f", {s['error']} error(s), {s['timeout']} timeout(s)"
              if s["error"] or s["timeout"] else "") + ".",
           f"`make mutate` took {result['wall_seconds'] / 60:.1f} min of wall time, "
           f"{result['parallel_mutants']} mutants at a time on {result['machine']}"
           + (f" (load average {load[0]:.1f} at the start: other work shared the cores)"
              if load and load[0] > 1.5 else "")
           + f"; the builds used {result['cpu_seconds'] / 60:.1f} min of CPU, "
           f"{result['cpu_seconds'] / max(1, s['mutants']):.1f} s per mutant, in "
           f"{s['page_runs']} page executions ({s['page_runs'] / max(1, s['mutants']):.2f} per "
           f"mutant). Every mutant, with the page, line and cell that killed it: "
           f"`bench/mutation.json`.", "",
           "| function | mutants by kind | killed | equivalent | survived | killed on (first failing page) |",
           "| --- | --- | ---: | ---: | ---: | --- |"]
    groups: dict[str, list[dict]] = {}
    for r in recs:
        groups.setdefault(f"`{r['module']}.{r['target']}`", []).append(r)
    for fn, rs in groups.items():
        kinds: dict[str, int] = {}
        pages: dict[str, int] = {}
        for r in rs:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
            if r["killed"] and r["killed_by"]:
                page = (r["killed_by"][0].get("page") or "render").removeprefix("book/")
                pages[page] = pages.get(page, 0) + 1
        by = ", ".join(f"{p} {n}" for p, n in sorted(pages.items(), key=lambda kv: -kv[1]))
        out.append(f"| {fn} | {', '.join(f'{k} {n}' for k, n in kinds.items())} "
                   f"| {sum(r['status'] == 'killed' for r in rs)} "
                   f"| {sum(r['status'] == 'equivalent' for r in rs)} "
                   f"| {sum(r['status'] == 'survived' for r in rs)} | {by} |")
    eq = [r for r in recs if r["equivalent"]]
    if eq:
        out += ["", "Argued equivalent (generated and run all the same):", ""]
        out += [f"- `{r['mutant']}` ({r['status']}): {r['equivalent']}" for r in eq]
    bad = [r for r in recs if r["status"] in ("survived", "error", "timeout")]
    if bad:
        out += ["", "Not killed:", ""]
        out += [f"- `{r['mutant']}`: {r['status']} {r['error'][:120]}".rstrip() for r in bad]
    return "\n".join(out)


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
        eq = f"\n      EQUIVALENT: {EQUIVALENT[m.name]}" if m.name in EQUIVALENT else ""
        print(f"{m.name}  [{m.module}.{m.target}, {m.kind}]\n      {m.description}\n"
              f"{shown}{eq}")
    kinds: dict[str, int] = {}
    for m in mutants:
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    print(f"{len(mutants)} mutant(s) ({', '.join(f'{k} {n}' for k, n in kinds.items())}), "
          f"{sum(m.name in EQUIVALENT for m in mutants)} argued equivalent, {errors} error(s)")
    return 2 if errors else 0


# The fast subset (`make test`, tests/test_mutation.py): one mutant of each kind of fault the
# pages must catch, with the page that must catch it.
FAST = {
    "mul.self:assign": "book/backprop",
    "add.other:drop[out.grad]": "book/backprop",
    "central_difference:constant[2->1 in 2 * h]": "book/backprop",
    "train:delete[optimizer.zero_grad()]": "book/autograd",
    "check_torch_fn:scale[1e-07->0.0001 in atol=1e-07]": "book/autograd",
    "torch_gradcheck:verdict[bool(torch.autograd.gradcheck...->True]": "book/autograd",
}


def _machine() -> str:
    return f"{os.cpu_count()} cores ({cpu_name()})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the repository to mutate (default: this one); it is not modified")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="mutants run at once, one page build each (default: all cores)")
    parser.add_argument("--only", nargs="+", metavar="PATTERN",
                        help="run only the mutants whose name matches (fnmatch), e.g. 'mul.*'")
    parser.add_argument("--fast", action="store_true", help=f"the fast subset: {', '.join(FAST)}")
    parser.add_argument("--list", action="store_true", help="list the mutants and their rewrites")
    parser.add_argument("--all-pages", action="store_true",
                        help="run every candidate page, not only up to the first failing one")
    parser.add_argument("--no-render", action="store_true",
                        help="do not re-try survivors with the full build (Sphinx render)")
    parser.add_argument("--no-history", action="store_true",
                        help="order pages without the previous results (static prior only)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per page build")
    parser.add_argument("--keep", action="store_true", help="keep the repository copies")
    parser.add_argument("--out", type=Path, help="JSON results (default: bench/mutation.json "
                        "for a full run, _build/mutation-partial.json otherwise)")
    args = parser.parse_args(argv)
    root = args.root.resolve()

    try:
        mutants = generate(root)
    except MutationError as err:
        print(f"[mutate] ERROR: {err}", file=sys.stderr)
        return 2
    by_name = {m.name: m for m in mutants}
    stale = sorted(set(EQUIVALENT) - set(by_name))
    if args.only:
        picked = [m for m in mutants if any(fnmatch.fnmatchcase(m.name, p) for p in args.only)]
        if not picked:
            parser.error(f"no mutant matches {args.only}; see --list")
        mutants = picked
    elif args.fast:
        missing = [n for n in FAST if n not in by_name]
        if missing:
            print(f"[mutate] ERROR: fast mutant(s) no longer generated: {missing}", file=sys.stderr)
            return 2
        mutants = [by_name[n] for n in FAST]
    if args.list:
        code = print_list(mutants, root)
        for name in stale:
            print(f"ERROR: EQUIVALENT argues about {name!r}, which is no longer generated")
        return 2 if stale else code
    full_run = not (args.only or args.fast)
    out_path = args.out or (root / (RESULTS if full_run else "_build/mutation-partial.json"))
    history_path = root / RESULTS
    history = None
    if not args.no_history and history_path.exists():
        with contextlib.suppress(ValueError):
            history = json.loads(history_path.read_text(encoding="utf-8"))

    t0 = time.perf_counter()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    work = Path(tempfile.mkdtemp(prefix="mlpbook-mutate-"))
    try:
        # One snapshot of the tree: every mutant runs the same book, whatever is edited meanwhile.
        base = snapshot(work / "_baseline", root)
        errors = {}
        for m in mutants:  # errors of the tool first: every rewrite must apply
            try:
                mutate_source((base / m.path).read_text(encoding="utf-8"), m)
            except MutationError as err:
                errors[m.name] = str(err)
                print(f"[mutate] ERROR: {err}", file=sys.stderr, flush=True)
        for name in stale:
            print(f"[mutate] ERROR: EQUIVALENT argues about {name!r}, which is no longer "
                  f"generated: update tools/mutate.py", file=sys.stderr)
        where_from = imports_from(base)
        if not where_from.startswith(str(base / "code")):
            print(f"[mutate] ERROR: a build of a copy would import mlpbook from {where_from}, "
                  f"not from the copy: no mutant could be seen", file=sys.stderr)
            return 2
        print("[mutate] baseline: building the unmutated snapshot ...", flush=True)
        baseline = build(base, jobs=args.jobs, timeout=args.timeout * 4)
        if baseline.returncode != 0:
            bad = ", ".join(f"{f['path']}:{f['line']} (cell {f['cell']}) {f['error']}"
                            for f in _failures(baseline)) or baseline.tail
            print(f"[mutate] BASELINE FAILED, no mutant is reported: the unmutated book does not "
                  f"build: {bad}", file=sys.stderr)
            return 2
        planner = Planner(base, history)
        todo = [m for m in mutants if m.name not in errors]
        todo.sort(key=lambda m: m.name not in EQUIVALENT)  # the longest (all pages) first
        print(f"[mutate] baseline ok ({baseline.seconds:.1f}s); {len(todo)} mutant(s), "
              f"{args.jobs} at a time, pages ordered by "
              f"{'the previous results and ' if history else ''}what this run learns",
              flush=True)

        lock, gate = threading.Lock(), {}

        def render_gate() -> tuple[bool, str]:
            """Render the unmutated book once (on its own copy), the first time it is asked."""
            with lock:
                if not gate:
                    print("[mutate] a mutant survived execution: checking that the unmutated "
                          "book renders ...", flush=True)
                    out = build(snapshot(work / "_baseline-render", base), jobs=1,
                                execute_only=False, timeout=args.timeout * 4)
                    gate["ok"] = out.returncode == 0
                    gate["why"] = "" if gate["ok"] else "the unmutated book does not render: " \
                        + out.tail[-300:]
                    if not gate["ok"]:
                        print(f"[mutate] WARNING: {gate['why']}; survivors are not re-tried with "
                              f"the render", file=sys.stderr, flush=True)
                return gate["ok"], gate["why"]

        records: dict[str, Record] = {}
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(run_mutant, base, m, work, planner=planner,
                                   all_pages=args.all_pages, timeout=args.timeout,
                                   render=None if args.no_render else render_gate,
                                   keep=args.keep) for m in todo]
            for i, fut in enumerate(as_completed(futures), 1):
                rec = fut.result()
                records[rec.mutant] = rec
                print(f"[mutate] {i}/{len(todo)} {rec.mutant}: {rec.status} {where(rec)} "
                      f"({len(rec.tried)} page(s), {rec.seconds:.0f}s)", flush=True)
        for name, err in errors.items():
            m = by_name[name]
            records[name] = Record(m.name, m.module, m.target, m.site, m.kind, m.description,
                                   status="error", error=err, equivalent=EQUIVALENT.get(name))
        ordered = [records[m.name] for m in mutants]
        wall = time.perf_counter() - t0
        print()
        print(table(ordered))
        result = {
            "mode": "single-site mutants; candidate pages one at a time, most likely killer "
                    "first, " + ("every candidate page" if args.all_pages else
                                 "stopping at the first failing page")
                    + ("; survivors re-tried with the full render" if not args.no_render else ""),
            "jobs": args.jobs, "parallel_mutants": max(1, args.jobs), "machine": _machine(),
            "load_average": [round(x, 2) for x in load] if load else None,
            "wall_seconds": round(wall, 1), "baseline_seconds": round(baseline.seconds, 1),
            "cpu_seconds": round(sum(r.cpu_seconds for r in ordered), 1),
            "summary": summarize([asdict(r) for r in ordered]),
            "kinds": KINDS,
            "equivalent": EQUIVALENT,
            "mutants": [asdict(r) for r in ordered],
        }
        s = result["summary"]
        print(f"\n{s['killed']}/{s['mutants'] - s['equivalent']} non-equivalent mutants killed, "
              f"{s['survived']} survived, {s['equivalent']} equivalent (argued), "
              f"{s['error']} error(s), {s['timeout']} timeout(s); {s['page_runs']} page runs; "
              f"wall {wall:.0f}s, CPU {result['cpu_seconds']:.0f}s "
              f"({result['cpu_seconds'] / max(1, len(ordered)):.1f}s per mutant)")
        for r in ordered:
            if r.status in ("error", "timeout"):
                print(f"[mutate] {r.status.upper()} {r.mutant}: {r.error}", file=sys.stderr)
            if r.equivalent and r.killed:
                print(f"[mutate] WARNING: {r.mutant} was argued equivalent but the build killed "
                      f"it ({where(r)}): the argument is wrong", file=sys.stderr)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
        print(f"[mutate] wrote {out_path}")
        if full_run:
            from readme import update_readme

            update_readme("mutation", readme_section(result), root)
            print("[mutate] updated the mutation section of README.md")
        if s["error"] or s["timeout"] or stale:
            return 2
        return 1 if s["survived"] or s["argued_equivalent_but_killed"] else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"[mutate] kept the copies in {work}")


if __name__ == "__main__":
    sys.exit(main())
