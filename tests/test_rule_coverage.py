"""The backprop page checks every local rule of the engine, for every operation the engine has.

The engine's operations are discovered from its code (``mutate.engine_ops``: every method of
``Value`` with a ``_backward`` closure), and so are their single-site mutants
(``mutate.generate``). Each mutant is applied in this process (``mutate.patched``) and the check
cells of the page's sections ``sec-backprop-check`` and ``sec-backprop-paths`` are executed, with
the earlier cells they need: every mutant must make one of them fail. The page's checks are
generated from the op registry (``mlpbook.ops``: each op's ``checks`` and ``mixes``), so an op
added to the engine with a registry entry is checked by the page with no edit to it; an op added
without an entry, or an entry whose cases do not check its rule, leaves mutants alive and fails
this test, in a second or two and without building the book. (``make mutate`` runs every mutant
through the real build.)
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
from pathlib import Path

import mutate

os.environ.setdefault("MPLBACKEND", "Agg")

PAGE = mutate.ROOT / "book" / "backprop.md"
SECTIONS = ("sec-backprop-check", "sec-backprop-paths")


# ----- the page's cells ----------------------------------------------------------------------
code_cells = mutate.code_cells


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names a cell defines, names it reads)."""
    defined, used = set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, (ast.Store, ast.Del)) else used).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return defined, used


def check_slice(page: Path, sections: tuple[str, ...]) -> list[str]:
    """The sources of the code cells in ``sections``, preceded by the earlier cells that define
    what they read (the latest definition of each name, transitively), in page order."""
    cells = code_cells(page)
    names = [_names(src) for _, src in cells]
    keep = {i for i, (sec, _) in enumerate(cells) if sec in sections}
    if not keep:
        raise AssertionError(f"{page.name} has no code cell in {sections}")
    todo = sorted(keep)
    while todo:
        j = todo.pop()
        for name in names[j][1] - names[j][0]:
            i = next((i for i in range(j - 1, -1, -1) if name in names[i][0]), None)
            if i is not None and i not in keep:
                keep.add(i)
                todo.append(i)
    return [cells[i][1] for i in sorted(keep)]


def run_cells(sources: list[str]) -> BaseException | None:
    """Execute the cells in one fresh namespace; return the first exception (None if all ran)."""
    namespace: dict = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for src in sources:
            try:
                exec(compile(src, "<cell>", "exec"), namespace)  # noqa: S102 - the page's code
            except Exception as exc:  # noqa: BLE001 - any failure of a check kills the mutant
                return exc
            finally:
                import matplotlib.pyplot as plt

                plt.close("all")
    return None


def engine_rule_mutants(root: Path = mutate.ROOT) -> dict[str, list[mutate.Mutant]]:
    """Every single-site mutant of every local rule of the engine, by operation."""
    ops = mutate.engine_ops((root / mutate.PACKAGE / "engine.py").read_text(encoding="utf-8"))
    by_op: dict[str, list[mutate.Mutant]] = {op: [] for op in ops}
    for m in mutate.generate(root):
        if m.module == "engine" and m.target in {f"Value.{meth}" for meth in ops.values()}:
            by_op[m.site.split(".")[0]].append(m)
    return by_op


def survivors(page: Path, sections: tuple[str, ...] = SECTIONS) -> dict[str, list[str]]:
    """``{op: [names of its mutants that the page's checks do not kill]}``, argued equivalents
    excluded. Raises AssertionError if the unmutated checks fail."""
    import mlpbook

    here = mutate.ROOT / "code"
    assert Path(mlpbook.__file__).resolve().is_relative_to(here.resolve()), (
        f"mlpbook is imported from {mlpbook.__file__}, not from {here}: the mutants of this "
        f"repository's code cannot be applied to it (set PYTHONPATH={here})")
    cells = check_slice(page, sections)
    error = run_cells(cells)
    assert error is None, f"the unmutated checks of {page.name} fail: {error!r}"
    alive: dict[str, list[str]] = {}
    for op, mutants in engine_rule_mutants().items():
        for m in mutants:
            if m.name in mutate.EQUIVALENT:
                continue
            with mutate.patched(m):
                if run_cells(cells) is None:
                    alive.setdefault(op, []).append(m.name)
    return alive


# ----- the tests -----------------------------------------------------------------------------
def test_engine_ops_are_found_in_the_code() -> None:
    """The discovery finds the engine's operations, each with gradient contributions."""
    by_op = engine_rule_mutants()
    assert {"add", "mul", "pow", "exp", "tanh"} <= set(by_op), sorted(by_op)
    for op, mutants in by_op.items():
        kinds = {m.kind for m in mutants}
        assert {"assign", "sign", "drop"} <= kinds, (op, kinds)


def _activation_ops() -> dict:
    """Every activation's scalar-engine op (``Value -> Value``), from the activation registry
    (``mlpbook.activations``); before the registry existed, from the scalar MLP's list."""
    try:
        from mlpbook.activations import ACTIVATIONS
    except ImportError:
        from mlpbook.nn import ACTIVATIONS as NAMES
        return {n: (lambda v, n=n: v if n == "linear" else getattr(v, n)()) for n in NAMES}
    return {name: act.value_op for name, act in ACTIVATIONS.items()}


def test_every_activation_is_built_from_engine_ops() -> None:
    """Each activation the package offers on ``Value`` is built from the discovered operations
    (every node of its graph was made by one of their closures), so its local rules are among
    those the page must check."""
    from mlpbook.engine import Value, topological_sort

    ops = mutate.engine_ops((mutate.ROOT / mutate.PACKAGE / "engine.py").read_text("utf-8"))
    for name, op in _activation_ops().items():
        for node in topological_sort(op(Value(0.3))):
            if node.prev:  # made by an operation: Value.<method>.<locals>._backward
                method = node._backward.__qualname__.split(".")[1]
                assert method in ops.values(), (
                    f"activation {name!r} uses {node._backward.__qualname__}, which is not one "
                    f"of the engine's operations found in its code: {sorted(ops.values())}")


def test_the_page_checks_every_rule_of_every_op() -> None:
    alive = survivors(PAGE)
    assert not alive, (
        "book/backprop.md no longer checks every local rule: these single-site mutants of the "
        "engine survive its checks (sections " + ", ".join(SECTIONS) + "): "
        + "; ".join(f"{op}: {', '.join(names)}" for op, names in alive.items()))


def test_every_engine_op_has_a_registry_entry() -> None:
    """The ops whose mutants are applied here are exactly the registry's."""
    from mlpbook import ops

    found = mutate.engine_ops((mutate.ROOT / mutate.PACKAGE / "engine.py").read_text("utf-8"))
    assert found == {op.name: op.method for op in ops.OPS.values()}, (found, sorted(ops.OPS))


def test_removing_an_op_from_the_registry_is_noticed(monkeypatch) -> None:
    """With log's entry gone from the registry, the page no longer checks log: its mutants live."""
    from mlpbook import ops

    monkeypatch.setattr(ops, "OPS", {k: v for k, v in ops.OPS.items() if k != "log"})
    page = PAGE.read_text(encoding="utf-8")
    assert ".log()" not in page.split("(sec-backprop-check)=")[1].split("(sec-backprop-paths)=")[0]
    alive = survivors(PAGE)
    assert set(alive) == {"log"}, alive
    assert len(alive["log"]) == len(engine_rule_mutants()["log"]), alive
