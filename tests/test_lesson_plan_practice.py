"""The practice session, the lab, the references and the instructor guide cover the lesson plan.

Two kinds of test. (1) Traceability: every row of the seed's practice table, each pitfall to
pre-empt, each reference and each lab exercise maps to a label that is defined on the page that
serves it, and that page is in ``_toc.yml``; the rows are quoted from the lesson plan, which is a
page of the book (``book/lesson-plan.md``). (2) The lab's solutions pass their own self-checks:
the lab page is run in-process, top to bottom, and every starter must be reported as failing
(gracefully, no traceback) and every solution as passing.
"""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from conftest import ROOT
from grade_lab import manifest
from pages import book_pages, page_text

PLAN = ROOT / "book" / "lesson-plan.md"  # the lesson plan, part of the repository

LABEL = re.compile(r"^\(([\w-]+)\)=\s*$|^:label:\s*([\w-]+)\s*$", re.MULTILINE)

# Each row of the practice table (seed text) -> (page, label) that serves it.
PRACTICE_ROWS = {
    "Setup & recap": ("book/practice", "sec-practice-setup"),
    "Build an MLP with nn.Module live and train it on a small task":
        ("book/practice", "sec-practice-train"),
    "Inspect .grad after a backward pass and show the effect of zero_grad":
        ("book/practice", "sec-practice-grad"),
    "Break": ("book/instructor", "sec-instructor-practice-break"),
    "Compare a hand-computed gradient with autograd on a tiny example":
        ("book/practice", "sec-practice-hand-gradient"),
    "Wrap-up & lab brief": ("book/practice", "sec-practice-wrap-up"),
}

# The two "common pitfalls to pre-empt" (the first names two habits) -> their executed cells.
PITFALLS = {
    "Zero the gradients each step": [("book/practice", "sec-practice-pitfall-zero-grad")],
    "compare against torch.autograd.gradcheck": [
        ("book/practice", "sec-practice-pitfall-gradcheck"),
        ("book/lab", "ex-lab-mlp-backward")],
    "Without a nonlinearity an MLP collapses to a linear model": [
        ("book/practice", "sec-practice-pitfall-linear"), ("book/lab", "ex-lab-linear")],
}

# The lab (homework): each exercise and the self-checks that judge it, from the lab's one
# manifest (tools/grade_lab.py: the page's exercise-start labels and grader cells).
LAB = {e["label"]: e["checks"] for e in manifest()}

# The instructor guide: the lesson plan as a timetable.
INSTRUCTOR = ["page-instructor", "sec-instructor-lecture", "sec-instructor-practice",
              "sec-instructor-break", "sec-instructor-buffer", "sec-instructor-predict",
              "sec-instructor-misconception", "sec-instructor-pitfalls"]


def labels_by_page() -> dict[str, set[str]]:
    """Every ``(label)=`` and ``:label:`` defined on each page listed in _toc.yml."""
    return {p.docname: {a or b for a, b in LABEL.findall(p.text)} for p in book_pages()}


def where(label: str, labels: dict[str, set[str]]) -> list[str]:
    return [doc for doc, found in labels.items() if label in found]


def test_practice_table_rows_are_served() -> None:
    labels = labels_by_page()
    for row, (page, label) in PRACTICE_ROWS.items():
        assert page in labels, f"{page} (serving {row!r}) is not in _toc.yml"
        assert label in labels[page], f"practice row {row!r}: label {label} missing from {page}.md"


def test_pitfalls_are_shown_by_executed_cells() -> None:
    labels = labels_by_page()
    practice = (ROOT / "book" / "practice.md").read_text(encoding="utf-8")
    for pitfall, targets in PITFALLS.items():
        for page, label in targets:
            assert label in labels.get(page, set()), f"pitfall {pitfall!r}: {label} not in {page}"
    # each pitfall section of the practice page contains at least one code cell
    sections = re.split(r"^\(sec-practice-pitfall-[\w-]+\)=\s*$", practice, flags=re.MULTILINE)[1:]
    assert len(sections) == 3
    for body in sections:
        assert "```{code-cell}" in body.split("\n(sec-")[0]


def test_lab_exercises_have_labels_and_solutions() -> None:
    labels = labels_by_page()
    lab = page_text(ROOT / "book" / "lab.md")  # with book/solutions/, where it exists
    assert LAB, "the lab's manifest lists no exercise"
    has_solutions = "{solution-start}" in lab
    for label, checks in LAB.items():
        assert where(label, labels) == ["book/lab"], f"{label} must be defined once, on the lab"
        if has_solutions:
            assert re.search(rf"^```{{solution-start}} {label}\n:class: dropdown$", lab,
                             re.MULTILINE), f"{label} has no collapsed (dropdown) gated solution"
        assert checks, f"{label}: no grader cell calls a mlpbook.checks self-check"


def test_references_each_cited_on_the_references_page() -> None:
    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    keys = re.findall(r"^@\w+\{([\w-]+),", bib, re.MULTILINE)
    assert len(keys) == 11
    refs = (ROOT / "book" / "references.md").read_text(encoding="utf-8")
    assert "```{bibliography}" in refs
    assert "(page-references)=" in refs
    for key in keys:
        assert re.search(rf"\{{cite:[pt]\}}`{key}`", refs), f"{key} is not cited in references.md"


def test_instructor_guide_labels_and_links() -> None:
    labels = labels_by_page()
    for label in INSTRUCTOR:
        assert label in labels.get("book/instructor", set()), f"{label} missing from instructor.md"
    text = (ROOT / "book" / "instructor.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\{ref\}`([\w-]+)`", text))
    defined = set().union(*labels.values())
    # every block of the practice table is linked, and every link resolves (for written pages)
    for page, label in PRACTICE_ROWS.values():
        assert label in linked, f"the instructor guide never links {label}"
    table = "```{lab-exercises}" in text  # the lab's table, generated from its manifest
    for label in LAB:
        assert table or label in linked, f"the instructor guide never links {label}"
    missing = {lab for lab in linked if lab.startswith(("sec-practice", "ex-lab", "sec-instructor"))
               and lab not in defined}
    assert not missing, f"instructor.md links undefined labels: {sorted(missing)}"


def test_mapping_quotes_the_plan() -> None:
    """The row texts above are the plan's own words, so a changed plan fails here."""
    plan = PLAN.read_text(encoding="utf-8").replace("`", "")
    practice = plan.split("## Practice")[1]
    for row in [*PRACTICE_ROWS, *PITFALLS]:
        assert row in practice, f"{row!r} is not in the practice part of the lesson plan any more"


# ----- (2) every lab solution passes its self-check ------------------------------------------
def lab_cells() -> list[tuple[str, str | None, str]]:
    """(kind, exercise label, source) per code cell of the lab, kind in {'setup','starter','solution'}."""
    from build import read_notebook

    nb = read_notebook(ROOT / "book" / "lab.md")
    kind, label, cells = "setup", None, []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            src = cell.source
            if m := re.search(r"\{exercise-start\}.*\n:label:\s*([\w-]+)", src):
                kind, label = "starter", m.group(1)
            elif m := re.search(r"\{solution-start\}\s*([\w-]+)", src):
                kind, label = "solution", m.group(1)
            elif "{exercise-end}" in src or "{solution-end}" in src:
                kind = "after-" + kind
            continue
        cells.append((kind, label, cell.source))
    return cells


@pytest.fixture(scope="module")
def lab_run() -> dict[str, dict[str, object]]:
    """Run the lab's code cells in order, in-process; record per exercise what was printed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns: dict[str, object] = {"__name__": "lab"}
    record: dict[str, dict[str, object]] = {}
    previous = None
    for kind, label, source in lab_cells():
        if kind == "solution" and previous != (kind, label):  # a new solution starts afresh
            for name in ("result", "results", "result_gradcheck"):
                ns.pop(name, None)
        previous = (kind, label)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(source, f"lab:{label}:{kind}", "exec"), ns)  # a failure fails the test
        ns["glue"] = lambda *args, **kwargs: None  # myst_nb.glue needs a kernel
        plt.close("all")
        entry = record.setdefault(label or "setup", {"starter": "", "solution": "", "checks": []})
        if kind in ("starter", "solution"):
            entry[kind] += out.getvalue()
        if kind == "solution":
            found = [ns[n] for n in ("result", "result_gradcheck") if n in ns]
            found += list(ns.get("results", []))
            entry["checks"] = found
    return record


@pytest.mark.parametrize("label", list(LAB))
def test_lab_starter_fails_gracefully(lab_run: dict, label: str) -> None:
    printed = lab_run[label]["starter"]
    assert "❌" in printed, f"{label}: the self-check did not report the unfinished starter"
    assert "Traceback" not in printed


@pytest.mark.parametrize("label", list(LAB))
def test_lab_solution_passes_its_self_check(lab_run: dict, label: str) -> None:
    if not (ROOT / "book" / "solutions" / "lab.md").is_file():
        pytest.skip("no book/solutions/ here (a public copy)")
    checks = lab_run[label]["checks"]
    assert checks, f"{label}: the solution ran no self-check"
    assert all(c.passed for c in checks), f"{label}: {checks}"
    printed = lab_run[label]["solution"]
    assert "✅" in printed and "❌" not in printed, printed
