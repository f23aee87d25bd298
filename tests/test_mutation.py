"""Mutation testing, the fast subset of `make mutate`: a single fault fails the book build.

The mutants are generated from the code, one per site and kind (``mutate.generate``). The fast
subset (``mutate.FAST``) is applied to copies of the repository, and each copy's build executes
the one page that must catch it (``tools/build.py --execute-only --only PAGE``); the build must
fail on that page. The unmutated book is the ``built_book`` fixture, so a failure here is the
mutant's. `make mutate` runs every mutant through the build; tests/test_rule_coverage.py runs
every mutant of the engine's rules against the backprop page's checks, in process.
"""

from __future__ import annotations

import ast
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import mutate

MUTANTS = mutate.generate()
BY_NAME = {m.name: m for m in MUTANTS}


def test_every_mutant_applies_to_the_package() -> None:
    """Every generated rewrite applies to the current package and changes it."""
    for m in MUTANTS:
        source = (mutate.ROOT / m.path).read_text(encoding="utf-8")
        new, change = mutate.mutate_source(source, m)
        assert new != source and change, m.name
        ast.parse(new)


def test_names_are_unique_and_stable() -> None:
    assert len(BY_NAME) == len(MUTANTS)
    assert [m.name for m in mutate.generate()] == [m.name for m in MUTANTS]


def test_single_site_mutants_cover_the_issue() -> None:
    """Every contribution of every engine op gets its own `=`, sign and dropped-factor mutant;
    backward, topological_sort, the finite differences, both zero_grads, the training loop,
    collapse_linear and the gradient checker get generic single-site mutants."""
    ops = mutate.engine_ops((mutate.ROOT / mutate.PACKAGE / "engine.py").read_text("utf-8"))
    sites: dict[str, set[str]] = {}
    for m in MUTANTS:
        if m.module == "engine" and m.target.removeprefix("Value.") in ops.values():
            sites.setdefault(m.site, set()).add(m.kind)
    assert {s.split(".")[0] for s in sites} == set(ops)
    assert {"add.self", "add.other", "mul.self", "mul.other"} <= set(sites)
    for site, kinds in sites.items():
        assert {"assign", "sign", "drop"} <= kinds, (site, kinds)
    one_site = [m for m in MUTANTS if m.target == "Value.__mul__" and m.kind == "assign"]
    assert len(one_site) == 2  # one per contribution, never all of them at once
    targets = {m.target for m in MUTANTS}
    assert {"Value.backward", "topological_sort", "central_difference", "Value.zero_grad",
            "Module.zero_grad", "train", "collapse_linear", "numerical_grad", "_report",
            "check_value_fn", "check_torch_fn", "torch_gradcheck"} <= targets
    assert set(mutate.FAST) <= set(BY_NAME)


def test_each_mutant_changes_one_site() -> None:
    """Each mutant changes one statement: one line out, at most one line in."""
    for m in MUTANTS:
        _, change = mutate.mutate_source((mutate.ROOT / m.path).read_text("utf-8"), m)
        assert sum(ln.startswith("-") for ln in change) == 1, (m.name, change)
        assert sum(ln.startswith("+") for ln in change) <= 1, (m.name, change)


def test_every_equivalence_argument_is_about_a_generated_mutant() -> None:
    stale = set(mutate.EQUIVALENT) - set(BY_NAME)
    assert not stale, f"EQUIVALENT argues about mutants no longer generated: {stale}"
    assert all(len(why) > 40 for why in mutate.EQUIVALENT.values())


def test_a_site_that_changed_is_an_error_not_a_kill() -> None:
    m = BY_NAME["mul.self:assign"]
    source = (mutate.ROOT / m.path).read_text("utf-8")
    changed = source.replace("self.grad += other.data * out.grad",
                             "self.grad += out.grad * other.data")
    assert changed != source
    with pytest.raises(mutate.MutationError, match="changed"):
        mutate.mutate_source(changed, m)
    with pytest.raises(mutate.MutationError, match="no definition"):
        mutate.mutate_source(source.replace("def __mul__", "def times"), m)


def test_patched_applies_and_restores() -> None:
    from mlpbook.engine import Value

    with mutate.patched(BY_NAME["mul.self:sign"]):
        a, b = Value(2.0), Value(3.0)
        (a * b).backward()
        assert a.grad == -3.0 and b.grad == 2.0
    a, b = Value(2.0), Value(3.0)
    (a * b).backward()
    assert a.grad == 3.0


def test_only_pages_importing_the_module_are_candidates() -> None:
    modules = mutate.page_modules(mutate.ROOT)
    assert {"engine", "gradcheck"} <= modules["book/backprop"]
    assert "train" in modules["book/autograd"]
    planner = mutate.Planner(mutate.ROOT)
    for m in (BY_NAME["mul.self:assign"], BY_NAME["train:delete[optimizer.zero_grad()]"]):
        pages = planner.candidates(m)
        assert pages and all(m.module in modules[p] for p in pages)
        assert sorted(planner.order(m)) == sorted(pages)


def test_the_previous_results_put_the_killing_page_first() -> None:
    m = BY_NAME["mul.self:assign"]
    history = {"mutants": [{"mutant": m.name, "target": m.target, "tried": [
        {"page": "book/lab", "killed": False, "seconds": 5.0},
        {"page": "book/wrap-up", "killed": True, "seconds": 5.0}]}]}
    assert mutate.Planner(mutate.ROOT, history).order(m)[0] == "book/wrap-up"


class _Finalized:
    """Garbage whose finalizer runs Python code: the collector may switch threads inside it."""

    def __del__(self) -> None:
        sum(range(50))


def test_mutants_apply_from_many_threads_at_once() -> None:
    """CPython 3.11.7 (python/cpython#106905): two threads building ASTs at once can fail with
    "SystemError: AST constructor recursion depth mismatch". The mutants run in a thread pool
    (``fast_records``, make mutate), so the tool parses under one lock; without it this fails
    on 3.11.7 (collections with finalizers switch threads in the middle of a parse)."""
    mutants = [BY_NAME[name] for name in mutate.FAST]
    sources = {m.path: (mutate.ROOT / m.path).read_text("utf-8") for m in mutants}
    expected = {m.name: mutate.mutate_source(sources[m.path], m) for m in mutants}

    def work(m: mutate.Mutant) -> None:
        for _ in range(15):
            for _ in range(30):
                a, b = _Finalized(), _Finalized()
                a.other, b.other = b, a
            assert mutate.mutate_source(sources[m.path], m) == expected[m.name]

    with ThreadPoolExecutor(max_workers=len(mutants)) as pool:
        list(pool.map(work, mutants))


@pytest.fixture(scope="module")
def fast_records(built_book: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the fast mutants, each on its one page, as many at a time as there are cores."""
    work = tmp_path_factory.mktemp("mutate")
    base = mutate.snapshot(work / "_baseline", with_cache=False)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        records = pool.map(lambda name: mutate.run_mutant(
            base, BY_NAME[name], work, pages=[mutate.FAST[name]]), mutate.FAST)
        return {r.mutant: r for r in records}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(mutate.FAST))
def test_fast_mutant_is_killed_by_the_build(fast_records: dict, name: str) -> None:
    rec, page = fast_records[name], mutate.FAST[name]
    assert rec.status == "killed", (
        f"mutant {name} ({rec.description}; {' | '.join(rec.change)}) was not caught: "
        f"executing {page} succeeded. {rec.error}")
    assert any(f["page"] == page and f["cell"] is not None for f in rec.killed_by), \
        rec.killed_by
