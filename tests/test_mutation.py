"""Mutation testing, the fast subset of `make mutate`: a broken gradient fails the book build.

Each fast mutant is applied to a copy of the repository and the copy's build executes the one
page designated for it (``tools/build.py --execute-only --only PAGE``); the build must fail on
that page. The unmutated book is the ``built_book`` fixture, so a failure here is the mutant's.
`make mutate` runs every mutant against the whole build.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import mutate

BY_NAME = {m.name: m for m in mutate.MUTANTS}


def test_every_mutant_applies_to_the_package() -> None:
    """Every AST rewrite still finds its pattern in the current package (no tool ERROR)."""
    for m in mutate.MUTANTS:
        source = (mutate.ROOT / m.path).read_text(encoding="utf-8")
        new, change = mutate.mutate_source(source, m)
        assert new != source and change, m.name


def test_mutants_cover_the_issue() -> None:
    """Every local derivative of the engine gets a wrong sign and a wrong factor, and the
    other faults of the issue are present."""
    kinds = {(m.target, m.kind) for m in mutate.MUTANTS}
    for method in mutate.ENGINE_OPS.values():
        assert (f"Value.{method}", "wrong sign") in kinds
        assert (f"Value.{method}", "wrong factor") in kinds
    targets = {m.target for m in mutate.MUTANTS}
    assert {"Value", "Value.backward", "topological_sort", "central_difference",
            "Value.zero_grad", "Module.zero_grad", "make_mlp", "train", "collapse_linear",
            "MLP.__call__"} <= targets
    assert len(mutate.MUTANTS) >= 15 and set(mutate.FAST) <= set(BY_NAME)


def test_missing_pattern_is_an_error_not_a_kill() -> None:
    ghost = mutate.Mutant("ghost", "engine", "Value.__mul__", "wrong factor", "no such code",
                          mutate.replace("self.nothing", "1"))
    with pytest.raises(mutate.MutationError, match="pattern not found"):
        mutate.mutate_source((mutate.ROOT / ghost.path).read_text(encoding="utf-8"), ghost)


@pytest.fixture(scope="module")
def fast_records(built_book: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the fast mutants, one page each, as many at a time as there are cores."""
    work = tmp_path_factory.mktemp("mutate")
    base = mutate.snapshot(work / "_baseline", with_cache=False)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        records = pool.map(lambda name: mutate.run_mutant(
            base, BY_NAME[name], work, build_jobs=1, pages=[BY_NAME[name].page]), mutate.FAST)
        return {r.mutant: r for r in records}


@pytest.mark.slow
@pytest.mark.parametrize("name", mutate.FAST)
def test_fast_mutant_is_killed_by_the_build(fast_records: dict, name: str) -> None:
    rec, page = fast_records[name], BY_NAME[name].page
    assert rec.status == "killed", (
        f"mutant {name} ({rec.description}; {' | '.join(rec.change)}) was not caught: "
        f"executing {page} succeeded. {rec.error}")
    assert any(f["page"] == f"{page}.md" and f["cell"] is not None for f in rec.killed_by), \
        rec.killed_by
