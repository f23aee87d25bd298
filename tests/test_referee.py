"""The pages referee the referee: every single fault in the gradient checker fails a page.

Every gradient claim of the book rests on ``mlpbook.gradcheck`` (``check_value_fn``,
``check_torch_fn``, ``torch_gradcheck``, the report they build). If the checker were broken so
that it never says no, every engine rule would still "pass" and the build would stay green: no
engine mutant can show this, since the engine is right. So the pages show the referees saying
no (backprop: a tanh rule with a slip, and one only 0.01 % off; autograd: a derivative that is
a one-sided difference, backwards with slips of known size, a NaN, a graph broken by
``.item()``) and check in removed cells that each printed report says what it computed.

These tests apply, in process, the single-site mutants that ``tools/mutate.py`` generates for
``mlpbook/gradcheck.py`` (found from the code, like the engine's in test_rule_coverage.py) and
run the check cells of those sections: each mutant must fail one of them, except the argued
equivalents, which must not. A check removed from a page leaves its mutants alive, which the
tests show on scratch copies of the pages. Without the build: seconds.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import test_rule_coverage as coverage  # the page's check cells, sliced (tests/ is on the path)

import mlpbook.gradcheck as gradcheck
import mutate

BOOK = mutate.ROOT / "book"
REFEREES = {  # page: the sections whose cells referee the gradient checker
    "autograd.md": ("sec-autograd-gradcheck", "sec-autograd-referee"),
    "backprop.md": ("sec-backprop-check",),
}


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


# ----- every single-site mutant of the checker ---------------------------------------------
MUTANTS = [m for m in mutate.generate() if m.module == "gradcheck"]


def _slices(pages: dict[str, Path]) -> dict[str, list[str]]:
    """The referee cells of each page (``{name: path}``, a scratch copy or the book's)."""
    import mlpbook

    here = mutate.ROOT / "code"
    assert Path(mlpbook.__file__).resolve().is_relative_to(here.resolve()), (
        f"mlpbook is imported from {mlpbook.__file__}, not from {here} (set PYTHONPATH={here})")
    slices = {name: coverage.check_slice(path, REFEREES[name]) for name, path in pages.items()}
    for name, cells in slices.items():
        error = coverage.run_cells(cells)
        assert error is None, f"the unmutated referee checks of {name} fail: {error!r}"
    return slices


def alive(mutants: list[mutate.Mutant], pages: dict[str, Path] | None = None) -> list[str]:
    """The names of ``mutants`` that no referee cell of ``pages`` kills (the page whose code
    names the mutated function is run first; a mutant stops at its first failing cell)."""
    slices = _slices(pages or {name: BOOK / name for name in REFEREES})
    out = []
    for m in mutants:
        name = m.target.split(".")[-1]
        order = sorted(slices.values(), key=lambda cells: not any(
            re.search(rf"\b{re.escape(name)}\b", src) for src in cells))
        with mutate.patched(m):
            if all(coverage.run_cells(cells) is None for cells in order):
                out.append(m.name)
    return out


def test_every_verdict_function_is_mutated() -> None:
    """Each public function of the checker, each method of its report, and the helpers that
    compute a verdict or read f's values are mutation targets with single-site mutants."""
    public = {name for name in gradcheck.__all__ if inspect.isfunction(getattr(gradcheck, name))}
    report = mutate.find_def(ast.parse(Path(gradcheck.__file__).read_text(encoding="utf-8")),
                             "GradcheckReport")
    methods = {f"GradcheckReport.{n.name}" for n in report.body if isinstance(n, ast.FunctionDef)}
    targets = {m.target for m in MUTANTS}
    missing = (public | methods | {"_report", "_out"}) - targets
    assert not missing, f"functions of mlpbook/gradcheck.py without mutants: {sorted(missing)}"
    kinds = {m.kind for m in MUTANTS}
    assert {"scale", "verdict", "delete", "negate", "operator"} <= kinds, kinds
    for fn in ("check_scalar", "check_value_fn", "check_torch_fn", "torch_gradcheck"):
        scaled = {m.name.split("in ")[-1].split("=")[0] for m in MUTANTS
                  if m.target == fn and m.kind == "scale"}
        assert {"atol", "rtol"} <= scaled, (fn, scaled)  # a default tolerance x 1000


def test_the_pages_kill_every_mutant_of_the_checker() -> None:
    left = alive([m for m in MUTANTS if m.name not in mutate.EQUIVALENT])
    assert not left, (
        "single-site mutants of mlpbook/gradcheck.py that no referee check of the pages kills "
        f"({', '.join(f'{p}: {s}' for p, s in REFEREES.items())}): {left}")


def test_the_argued_equivalents_survive() -> None:
    """An 'equivalent' mutant that a check kills was argued wrongly."""
    argued = [m for m in MUTANTS if m.name in mutate.EQUIVALENT]
    assert argued, "no equivalent of the checker is argued any more: drop this test"
    assert alive(argued) == [m.name for m in argued]


def _without_cells(text: str, word: str) -> str:
    """``text`` (a MyST page) without the code cells that mention ``word``."""
    cells = re.compile(r"```\{code-cell\}[^\n]*\n.*?\n```\n", re.DOTALL)
    out, n = cells.subn(lambda c: "" if word in c[0] else c[0], text)
    assert n and out != text, f"no code cell mentions {word!r}"
    return out


def _unchecked_reports(text: str) -> str:
    """``text`` whose check of the printed reports always says yes."""
    head = "def shows_its_verdict(report):\n"
    assert head in text, "the autograd page no longer checks its printed reports"
    return text.replace(head, head + "    return True\n")


REMOVALS = {  # id: (page, edit, mutants that only this check kills)
    "slip-table": ("autograd.md", lambda t: _without_cells(t, "verdicts"), [
        "check_torch_fn:scale[1e-07->0.0001 in atol=1e-07]",
        "check_torch_fn:scale[1e-05->0.01 in rtol=1e-05]",
        "torch_gradcheck:scale[1e-05->0.01 in atol=1e-05]",
        "torch_gradcheck:scale[0.001->1.0 in rtol=0.001]",
        "torch_gradcheck:verdict[bool(torch.autograd.gradcheck...->True]"]),
    "one-sided-derivative": ("autograd.md", lambda t: _without_cells(t, "one_sided"), [
        "check_scalar:scale[1e-07->0.0001 in atol=1e-07]",
        "check_scalar:scale[1e-05->0.01 in rtol=1e-05]"]),
    "nan-and-item": ("autograd.md", lambda t: _without_cells(t, "sqrt_report"), [
        "_report:verdict[any((math.isnan(e) for e in a...->False]",
        "check_torch_fn:operator[*->/ in [None] * len(xs)]"]),
    "printed-reports": ("autograd.md", _unchecked_reports, [
        "GradcheckReport.__bool__:verdict[self.passed->True]",
        "GradcheckReport.__str__:negate[self.passed]",
        "GradcheckReport.__str__:negate[abs(a - n) <= self.atol + self.rtol * abs(n)]",
        "GradcheckReport.__str__:constant[10->9 in len(self.analytic) - 10]"]),
    "rule-off-by-0.01%": ("backprop.md", lambda t: _without_cells(t, "near_report"), [
        "check_value_fn:scale[1e-07->0.0001 in atol=1e-07]",
        "check_value_fn:scale[1e-05->0.01 in rtol=1e-05]"]),
}


@pytest.mark.parametrize("removal", list(REMOVALS))
def test_removing_a_referee_check_is_noticed(tmp_path: Path, removal: str) -> None:
    """A scratch copy of the pages without one check: the mutants that only it kills live."""
    page, edit, names = REMOVALS[removal]
    by_name = {m.name: m for m in MUTANTS}
    assert set(names) <= set(by_name), set(names) - set(by_name)
    scratch = tmp_path / page
    scratch.write_text(edit((BOOK / page).read_text(encoding="utf-8")), encoding="utf-8")
    pages = {name: BOOK / name for name in REFEREES} | {page: scratch}
    assert alive([by_name[n] for n in names], pages) == names, (
        f"without the {removal} check these mutants should survive")
