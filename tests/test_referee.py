"""The backprop page's gradient checks can fail: a referee that always says PASS is noticed.

Every gradient claim of the engine rests on ``check_value_fn`` (and the report it builds). If
that referee were broken so that it never says no, every engine rule would still "pass" and the
build would stay green: no engine mutant can show this, since the engine is right. So the page
shows the referee rejecting a local rule with a slip, and this test breaks the referee in the
two ways hand-made faults did (a verdict that is always PASS; the engine's gradients replaced
by the finite differences they are compared with) and runs the page's check cells, which must
fail. Without the build: a second or two.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import test_rule_coverage as coverage  # the page's check cells, sliced (tests/ is on the path)

import mlpbook.gradcheck as gradcheck


def _always_pass(report: Callable) -> Callable:
    def broken(name, analytic, numeric, atol, rtol):
        out = report(name, analytic, numeric, atol, rtol)
        out.passed = True
        return out
    return broken


def _analytic_is_numeric(report: Callable) -> Callable:
    def broken(name, analytic, numeric, atol, rtol):
        return report(name, list(numeric), numeric, atol, rtol)
    return broken


@pytest.mark.parametrize("fault", [_always_pass, _analytic_is_numeric],
                         ids=["verdict-always-pass", "compares-numeric-with-itself"])
def test_a_referee_that_never_says_no_fails_the_page(monkeypatch, fault) -> None:
    cells = coverage.check_slice(coverage.PAGE, coverage.SECTIONS)
    assert coverage.run_cells(cells) is None, "the page's checks fail without any fault"
    monkeypatch.setattr(gradcheck, "_report", fault(gradcheck._report))
    error = coverage.run_cells(cells)
    assert error is not None, (
        f"with gradcheck broken ({fault.__name__}) the check cells of {coverage.PAGE.name} "
        f"still pass: no cell shows the referee rejecting a wrong gradient")
