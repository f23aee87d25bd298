"""The generic single-site operators for the rest of the gradient machinery (``TARGETS``),
the mutants argued equivalent, and ``generate``: every mutant, from the code."""

from __future__ import annotations

import ast
import copy

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from mutation import PACKAGE, ROOT
from mutation.syntax import Loc, MutationError, _get, _key, _src, _walk, find_def, parse
from mutation.operators import (FLIP, OPPOSITE, SYMBOL, Edit, Mutant, _delete_at, _replace_at,
                                 _rule_mutants, _swappable, _swapped, engine_ops)


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
    fn = find_def(parse((root / PACKAGE / f"{t.module}.py").read_text(encoding="utf-8")),
                  t.qualname)
    for kind, label, what, loc, edit in _generic_sites(fn, t.scope(fn)):
        yield Mutant(f"{t.qualname}:{kind}[{label}]", t.module, t.qualname, t.what, kind,
                     f"{t.what}: {what}", loc, _key(_get(fn, loc)), edit)


def generate(root: Path = ROOT) -> list[Mutant]:
    """Every single-site mutant of the package at ``root``, in source order, with unique names
    (a repeated name gets ``#2``, ``#3``... in source order)."""
    source = (root / PACKAGE / "engine.py").read_text(encoding="utf-8")
    cls = find_def(parse(source), "Value")
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
