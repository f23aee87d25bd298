"""A mutant (one fault at one site) and the engine's local-rule operators: for every
``x.grad += d`` in a ``_backward`` closure, assign, sign, drop, read and swap."""

from __future__ import annotations

import ast
import copy

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from mutation import PACKAGE
from mutation.syntax import (Loc, MutationError, _closures, _get, _is_grad_update, _key, _put, _src,
                             _walk, find_def, parse)


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
    cls = find_def(parse(source), "Value")
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
                                   _replace_at(eloc, lambda _, o=other: parse(
                                       o, mode="eval").body))
            for eloc, e in _walk(rhs, vloc):
                if _swappable(e):
                    yield make("swap", _src(e, 24), f"`{_src(e)}` becomes "
                               f"`{_src(_swapped(e))}`", eloc, _replace_at(eloc, _swapped))
