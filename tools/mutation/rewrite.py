"""Applying a mutant: to a module's source text (only the changed statements rewritten), to a
repository copy, or in process (``patched``)."""

from __future__ import annotations

import __future__
import ast
import contextlib
import copy
import difflib
import importlib
import re
import textwrap

from pathlib import Path
from typing import Iterator

from mutation.syntax import AST_LOCK, MutationError, _key, find_def, parse
from mutation.operators import Mutant


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
    tree = parse(source)
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
            if _key(parse(new)) == want:
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
    node = find_def(parse(new), mutant.target)
    with AST_LOCK:
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
