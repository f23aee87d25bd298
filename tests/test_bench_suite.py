"""`make bench` times the suite (tools/bench_suite.py): run here on a tiny suite of its own."""

from __future__ import annotations

import re
import time
from pathlib import Path

import bench_suite

SUITE = '''
import pytest

def test_quick():
    assert 1 + 1 == 2

def test_fails():
    assert [1] == [2]

@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n in (1, 2)

@pytest.mark.skip(reason="shown as skipped")
def test_skipped():
    pass
'''


def test_a_run_is_timed_and_counted(tmp_path: Path) -> None:
    (tmp_path / "test_tiny.py").write_text(SUITE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    run = bench_suite.run_pytest(["test_tiny.py"], cwd=tmp_path)
    assert run["exit_code"] == 1 and run["seconds"] > 0
    assert (run["tests"], run["passed"], run["failed"], run["skipped"]) == (5, 3, 1, 1)
    names = {c["test"] for c in run["cases"]}
    assert "test_tiny::test_param[2]" in names and all(c["seconds"] >= 0 for c in run["cases"])


def test_slowest_ten_and_the_report() -> None:
    cases = [{"test": f"t::{i}", "seconds": float(i)} for i in range(15)]
    top = bench_suite.slowest(cases)
    assert [c["seconds"] for c in top] == [14.0 - i for i in range(10)]
    suite = {"fast_tier": {"tests": 900, "passed": 900, "failed": 0, "errors": 0, "seconds": 61.0},
             "whole_suite": {"tests": 1700, "passed": 1699, "failed": 1, "errors": 0, "seconds": 590.4},
             "slowest": top}
    text = "\n".join(bench_suite.report_lines(suite))
    assert "| `make check` (fast tier) | 900 | all passed | 61 s | ≤ 90 s |" in text
    assert "| `make test` (whole suite) | 1700 | 1 failed | 590 s | ≤ 600 s |" in text
    assert "| `t::14` | 14.0 s |" in text and "`t::4`" not in text
    assert bench_suite.report_lines(None) == []  # older results: the table is unchanged


# --- how `make test` splits the suite over its workers (tests/conftest.py) --------------------


def test_bench_times_the_suite_as_make_test_runs_it() -> None:
    """bench_suite's whole suite uses the workers of the Makefile's `test` target."""
    from conftest import ROOT

    found = re.search(r"^SUITE_WORKERS\s*:?=[ \t]*(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert found is not None and found[1].split() == bench_suite.WHOLE_SUITE


def test_the_longest_modules_are_named_as_they_are_and_run_first(request) -> None:
    """conftest.LONGEST_FIRST names modules that exist (a renamed one would silently drop to the
    end of the queue), and the collection puts them first, in that order."""
    from conftest import LONGEST_FIRST, ROOT

    modules = {p.stem for p in (ROOT / "tests").glob("test_*.py")}
    assert set(LONGEST_FIRST) <= modules, set(LONGEST_FIRST) - modules
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    seen = list(dict.fromkeys(item.path.stem for item in request.session.items))
    ranked = [m for m in seen if m in LONGEST_FIRST]
    assert seen[:len(ranked)] == ranked == [m for m in LONGEST_FIRST if m in seen]


def test_the_book_is_built_once_for_all_workers(tmp_path: Path) -> None:
    """conftest.once: of several workers asking at once, one does the work; all get its outcome
    (here a failure, which every worker reports)."""
    from concurrent.futures import ThreadPoolExecutor

    from conftest import once

    calls: list[int] = []

    def work() -> str:
        calls.append(1)
        time.sleep(0.3)  # the others ask while it runs
        return "the book build failed: here is why"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda _: once(tmp_path, "book", work), range(4)))
    assert len(calls) == 1
    assert outcomes == ["the book build failed: here is why"] * 4
    assert once(None, "book", lambda: None) is None  # without xdist: done there and then
