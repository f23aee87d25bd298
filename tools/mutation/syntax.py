"""The AST helpers every part of the mutation tool shares: definitions found by qualified
name, nodes by location, and parsing that is safe in threads."""

from __future__ import annotations

import ast
import threading
from typing import Iterator


class MutationError(Exception):
    """A mutant could not be generated or applied: its target or its site is not in the code."""


# CPython 3.11.7 keeps the AST constructor's recursion depth in interpreter-wide state
# (python/cpython#106905, fixed in later releases): two threads turning source into an AST at
# once (ast.parse) or an AST into code (compile) can fail with "SystemError: AST constructor
# recursion depth mismatch". The mutants run in a thread pool (make mutate, tests/test_mutation),
# so every parse and compile of this tool holds one lock; it costs milliseconds per mutant.
AST_LOCK = threading.Lock()


def parse(source: str, mode: str = "exec") -> ast.AST:
    """``ast.parse``, one thread at a time (see AST_LOCK)."""
    with AST_LOCK:
        return ast.parse(source, mode=mode)


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
