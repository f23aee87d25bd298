"""make grade: the lab graded as an instructor would, on notebooks a class could hand in.

One grading run (module fixture) over a folder of notebooks: the untouched student notebook, the
instructor notebook, and the ways a submission goes wrong or cheats. Each test then reads the
grade and feedback of one of them, as the instructor would. The notebooks are the ones the
build writes (the Colab converter's ``notebooks/lab.ipynb`` and
``_build/instructor/lab-solutions.ipynb``): setup cell, stripped plumbing and all.
"""

from __future__ import annotations

import ast
import copy
import csv
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grade  # noqa: E402  (tools/grade.py, on the path through conftest)

pytestmark = pytest.mark.book  # the notebooks graded are the ones the build writes
if not (grade.LAB.parent / "solutions" / "lab.md").is_file():
    pytest.skip("no book/solutions/ here (a public copy): the grader proves itself on the "
                "solutions first", allow_module_level=True)

LIMITS = grade.Limits(timeout=60, cell=10, check=10)  # margins for a loaded machine
LAB = grade.read_lab()
LAB_PAGE = grade.LAB
FULL = float(len(LAB.exercises))


def _with_cell(nb, source: str, at: int | None = None):
    nb = copy.deepcopy(nb)
    cell = nbformat.v4.new_code_cell(source)
    nb.cells.insert(len(nb.cells) if at is None else at, cell)
    return nb


def _replace(nb, old: str, new: str, *, regex: bool = False):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = (re.sub(old, new, cell.source) if regex else
                           cell.source.replace(old, new))
    return nb


def _insert_after(nb, anchor: str, text: str):
    """``text`` added after the first ``anchor`` of every code cell that holds it."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and anchor in cell.source:
            cell.source = cell.source.replace(anchor, anchor + text, 1)
    return nb


def _after_imports(nb) -> int:
    """The index right after the lab's imports (after the notebook's setup cell)."""
    return next(i for i, c in enumerate(nb.cells)
                if c.cell_type == "code" and "import mlpbook" in c.source) + 1


def _after_lab_imports(nb) -> int:
    """The index right after the lab's own imports cell (the book's first ``grader`` cell)."""
    return next(i for i, c in enumerate(nb.cells)
                if c.cell_type == "code" and "from mlpbook.checks import" in c.source) + 1


def _code_number(nb, at: int) -> int:
    """The number (1-based, among code cells) of a code cell inserted at index ``at``."""
    return sum(1 for c in nb.cells[:at] if c.cell_type == "code") + 1


@pytest.fixture(scope="module")
def lab_notebooks(built_book: Path) -> dict[str, nbformat.NotebookNode]:
    """The lab's notebooks as the build writes them: the student's and the instructor's."""
    return {"student": nbformat.read(built_book / "notebooks" / "lab.ipynb", as_version=4),
            "instructor": nbformat.read(built_book.parent / "instructor" / "lab-solutions.ipynb",
                                        as_version=4)}


ALWAYS_PASS = """
import mlpbook.checks as C
def _pass(*args, **kwargs):
    return C.CheckResult("check", True, "passed")
for _name in [n for n in dir(C) if n.startswith("check_")]:
    setattr(C, _name, _pass)
    globals()[_name] = _pass
C.CheckResult.__bool__ = lambda self: True
"""

NAMESPACE_ONLY = """
def check_tanh(fn, **kwargs):
    print("✅ check_tanh: all good")
    return CheckResult("check_tanh", True, "all good")
"""

OVERWRITE_CHECKS = """
import mlpbook.checks
with open(mlpbook.checks.__file__, "a") as f:
    f.write("\\ndef check_tanh(*a, **k):\\n    return CheckResult('check_tanh', True, 'ok')\\n")
"""

# Cheats that reach the checks through what they call rather than through their names: a
# default tolerance changed in place, a method of a C base class shadowed, torch internals.
LOOSER_DEFAULTS = """
import mlpbook.checks
mlpbook.checks.check_tanh.__kwdefaults__["atol"] = 1e9
"""

SHADOWS_TENSOR_MAX = """
torch.Tensor.max = lambda self, *args, **kwargs: torch.zeros((), dtype=torch.float64)
"""

PATCHES_TORCH_INTERNALS = """
import sys, torch.optim.sgd
sys.modules["torch.optim.sgd"].sgd = lambda *args, **kwargs: None
torch.nn.Sequential.forward = lambda self, x: 0.0 * x[:, :1]
"""

# A wrong mlp_backward (zero gradients) that torch, patched, would let pass both self-checks.
ZERO_GRADIENTS = "    return [torch.zeros_like(p) for p in (W1, b1, W2, b2)]"
PATCHES_WHAT_CHECKS_CALL = """
import torch.autograd.gradcheck
torch.allclose = lambda *args, **kwargs: True
torch.autograd.gradcheck = lambda *args, **kwargs: True
"""

# A correct train_loop that patches torch while the self-check calls it.
PATCHES_DURING_THE_CHECK = """
_train_loop = train_loop
def train_loop(*args, **kwargs):
    torch.allclose = lambda *a, **k: True
    return _train_loop(*args, **kwargs)
"""

# Honest code that uses more of torch than the lab does must not count as tampering.
USES_MORE_TORCH = """
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(3)
torch.set_printoptions(precision=3)
X_ = torch.randn(64, 2)
y_ = (X_.sum(1, keepdim=True) > 0).float()
m_ = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
for make in (torch.optim.RMSprop, torch.optim.AdamW, torch.optim.Adagrad):
    opt = make(m_.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2)
    for xb, yb in DataLoader(TensorDataset(X_, y_), batch_size=16, shuffle=True):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(m_(xb), yb).backward()
        opt.step()
        sched.step()
print(torch.func.grad(lambda x: (x ** 2).sum())(torch.ones(3)))
"""

SNOOPS = """
import os
jobs = os.path.join(os.path.dirname(os.getcwd()), "jobs")
assert not os.listdir(jobs), "other notebooks are visible"
"""

# (It waits rather than spins: the hard limit stops a process whatever it does, and a spinning
# loop would take a core from the rest of the suite for the whole minute.)
SWALLOWS_EVERYTHING = """
import time
while True:
    try:
        while True:
            time.sleep(0.05)
    except BaseException:
        pass
"""


AUTOGRAD_BACKWARD = """
def mlp_backward(X, y, W1, b1, W2, b2):
    with torch.enable_grad():
        params = [p.clone().requires_grad_(True) for p in (W1, b1, W2, b2)]
        loss = ((torch.relu(X @ params[0].T + params[1]) @ params[2].T + params[3] - y)
                ** 2).mean()
        return torch.autograd.grad(loss, params)
"""

OWN_TANH = ("v.grad = v.grad + out.grad * (1 - t * t)  # mine\n"
            "        assert isinstance(v.grad, float)")


def _rename_second(nb, old: str, new: str):
    """The second code cell holding ``old`` (the solution's, after the starter's) renamed."""
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
    cells[1].source = cells[1].source.replace(old, new)
    return nb


def _with_answer(nb, after: str, text: str):
    """A Markdown cell ``text`` written after the first cell holding ``after``."""
    nb = copy.deepcopy(nb)
    at = next(i for i, c in enumerate(nb.cells) if after in c.source) + 1
    nb.cells.insert(at, nbformat.v4.new_markdown_cell(text))
    return nb


WRITTEN = "The widest network overfits the sixty noisy points; held-out loss decides, qwertyuiop."


def submissions(student, instructor) -> dict[str, object]:
    """Name -> notebook (or raw bytes for files that are not notebooks)."""
    at = _after_imports(student)
    return {
        "student.ipynb": student,
        "instructor.ipynb": instructor,
        # cheating: every check rebound to pass, in the module and in the notebook's names
        "rebinds-checks.ipynb": _with_cell(instructor, ALWAYS_PASS),
        "rebinds-checks-unfinished.ipynb": _with_cell(student, ALWAYS_PASS),
        "rebinds-name-only.ipynb": _with_cell(_replace(instructor, "v.grad += (1 - t**2)",
                                                       "v.grad += (1 + t**2)"), NAMESPACE_ONLY),
        "patches-torch.ipynb": _with_cell(instructor, "torch.allclose = lambda *a, **k: True"),
        "loosens-defaults.ipynb": _with_cell(
            _replace(student, 'raise NotImplementedError("tanh\'s _backward")', "pass"),
            LOOSER_DEFAULTS),
        "shadows-tensor-max.ipynb": _with_cell(student, SHADOWS_TENSOR_MAX),
        "patches-torch-internals.ipynb": _with_cell(student, PATCHES_TORCH_INTERNALS),
        "uses-more-torch.ipynb": _with_cell(instructor, USES_MORE_TORCH),
        # a cheat through the library, on wrong code: the library is put back, the code fails
        "patches-what-checks-call.ipynb": _with_cell(
            _replace(instructor, "    return dW1, db1, dW2, db2", ZERO_GRADIENTS),
            PATCHES_WHAT_CHECKS_CALL, at),
        "patches-during-a-check.ipynb": _with_cell(instructor, PATCHES_DURING_THE_CHECK),
        # honest: exercise 1 is "add tanh's backward to the engine", so a student does
        "tanh-on-value.ipynb": _with_cell(_insert_after(instructor, "    return out\n",
                                                        "\n\nValue.tanh = tanh"),
                                          "print(Value(0.5).tanh().data)"),
        # honest: a notebook kept as a student keeps one in Colab, magics and an install
        "magics.ipynb": _with_cell(_with_cell(
            _replace(instructor, "runs = {(w, d): fit(w, d)", "%%time\nruns = {(w, d): fit(w, d)"),
            "%matplotlib inline\n%load_ext autoreload\n%autoreload 2", at),
            "!pip install -q mlpbook\n%time n_summed = 5", at),
        # honest: the book does its gradient checks in float64 (rebinds torch.Storage)
        "float64.ipynb": _with_cell(instructor, "torch.set_default_dtype(torch.float64)",
                                    _after_lab_imports(instructor)),
        # endless loops: in a cell (stopped, the rest graded), in a function a check calls,
        # and one that swallows every interruption (the hard limit)
        "loop-cell.ipynb": _with_cell(instructor, "while True:\n    pass", at),
        "loop-function.ipynb": _replace(instructor, "v.grad += (1 - t**2) * out.grad",
                                        "while True:\n            pass"),
        "loop-unstoppable.ipynb": _with_cell(instructor, SWALLOWS_EVERYTHING, at),
        "syntax-error.ipynb": _replace(student, "def tanh(v: Value) -> Value:",
                                       "def tanh(v: Value) -> Value"),
        "syntax-error-in-solution.ipynb": _replace(instructor, "v.grad += (1 - t**2) * out.grad",
                                                   "v.grad += (1 - t**2) * out.grad)"),
        "renamed.ipynb": _replace(instructor, r"(?<![.\w])tanh\b", "my_tanh", regex=True),
        "exits.ipynb": _with_cell(instructor, "import os\nos._exit(0)"),
        "raises.ipynb": _with_cell(instructor, "raise RuntimeError('oops')", at),
        "network.ipynb": _with_cell(
            instructor, "import urllib.request\nurllib.request.urlopen('http://example.com', "
                        "timeout=3)"),
        "memory.ipynb": _with_cell(instructor, "import torch\nx = torch.ones(10**10)  # 40 GB", at),
        "writes-book.ipynb": _with_cell(instructor, f"open({str(grade.LAB)!r}, 'a').write('x')"),
        # rewrite the grader's own copy of the checks, for the notebooks graded after this one
        "writes-checks.ipynb": _with_cell(student, OVERWRITE_CHECKS),
        # looks for the other notebooks being graded at the same time
        "snoops.ipynb": _with_cell(instructor, SNOOPS),
        # the eight cases of a real class (issue 24): strong, partial, = for +=, the autograd
        # shortcut, a fixed function beside the graded one, a slow sweep, copies, the library's
        # answer
        "partial.ipynb": _replace(instructor, "db1 = dZ.sum(dim=0)", "db1 = 2 * dZ.sum(dim=0)"),
        "overwrites-grad.ipynb": _replace(instructor, "v.grad += (1 - t**2) * out.grad",
                                          "v.grad = (1 - t**2) * out.grad"),
        "autograd-shortcut.ipynb": _with_cell(instructor, AUTOGRAD_BACKWARD),
        "fixed-beside.ipynb": _rename_second(instructor, "def train_loop(",
                                             "def train_loop_fixed("),
        "slow-sweep.ipynb": _replace(instructor, "runs = {(w, d): fit(w, d)",
                                     f"import time\ntime.sleep({LIMITS.cell + 2})\n"
                                     "runs = {(w, d): fit(w, d)"),
        "copy-a_111_222_lab.ipynb": _with_answer(_replace(
            student, 'raise NotImplementedError("tanh\'s _backward")', OWN_TANH),
            "best_train = ...", WRITTEN),
        "copy-b_333_444_lab.ipynb": _replace(
            student, 'raise NotImplementedError("tanh\'s _backward")', OWN_TANH),
        "library-tanh.ipynb": _with_cell(instructor, "tanh = lambda v: v.tanh()"),
        "not-a-notebook.ipynb": b"this is not JSON {",
        "empty.ipynb": b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory, lab_notebooks) -> dict:
    folder = tmp_path_factory.mktemp("submissions")
    for name, nb in submissions(lab_notebooks["student"], lab_notebooks["instructor"]).items():
        path = folder / name
        if isinstance(nb, bytes):
            path.write_bytes(nb)
        else:
            nbformat.write(nb, path)
    lab_before = grade.LAB.read_bytes()
    start = time.perf_counter()
    facts: dict = {}
    results = grade.grade(folder, jobs=2, limits=LIMITS, quiet=True, facts=facts)
    seconds = time.perf_counter() - start
    assert grade.LAB.read_bytes() == lab_before, "a submission changed the book"
    rows = list(csv.DictReader(open(folder / "grades.csv", encoding="utf-8")))
    return {"by_name": {g.name: g for g in results}, "rows": rows, "folder": folder,
            "seconds": seconds, "namespaces": facts["namespaces"], "notebooks": lab_notebooks}


def _g(graded, name) -> grade.Graded:
    return graded["by_name"][name]


def _feedback(graded, name) -> str:
    return (graded["folder"] / "feedback" / f"{Path(name).stem}.md").read_text(encoding="utf-8")


def test_lab_as_the_grader_reads_it() -> None:
    page = LAB_PAGE.read_text(encoding="utf-8")
    labels = re.findall(r"^```\{exercise-start\}.*\n:label: (ex-lab-[\w-]+)$", page, re.MULTILINE)
    assert [e.label for e in LAB.exercises] == labels and len(set(labels)) == len(labels)
    assert [e.column for e in LAB.exercises] == [la.removeprefix("ex-lab-") for la in labels]
    for ex in LAB.exercises:
        assert LAB.trusted(ex.label), f"{ex.label} has no self-check cell tagged grader"
    assert LAB.trusted(None), "the setup cell (imports) is tagged grader"
    assert not any(c.in_solution and "grader" in c.tags for c in LAB.cells)


def test_csv_has_one_column_per_exercise(graded) -> None:
    rows = graded["rows"]
    assert list(rows[0]) == ["submission", "student_id", *(e.column for e in LAB.exercises),
                             "total", "flag", "note"]
    nbs = graded["notebooks"]
    assert {r["submission"] for r in rows} == set(submissions(nbs["student"], nbs["instructor"]))


def test_the_graded_notebooks_are_the_builds(graded) -> None:
    """The converter's notebooks, as a student downloads them: its setup cell first, the
    book's hidden cells without their plumbing, the solutions only in the instructor's."""
    student, instructor = graded["notebooks"]["student"], graded["notebooks"]["instructor"]
    for nb in (student, instructor):
        assert nb.cells[0].metadata.get("tags") == ["mlpbook-setup"]
        assert not [c for c in nb.cells[1:] if c.cell_type == "code" and "glue(" in c.source]
    assert not [c for c in student.cells if "solution" in c.metadata.get("tags", [])]
    assert [c for c in instructor.cells if "solution" in c.metadata.get("tags", [])]


def test_untouched_student_notebook_scores_zero_and_runs_clean(graded) -> None:
    g = _g(graded, "student.ipynb")
    assert g.total == 0
    assert not g.notes, f"the unfinished notebook must run top to bottom: {g.notes}"
    text = _feedback(graded, "student.ipynb")
    assert "❌ check_tanh" in text and "NotImplementedError" in text  # what the student saw
    assert "✅" not in text


def test_instructor_notebook_scores_full_marks(graded) -> None:
    g = _g(graded, "instructor.ipynb")
    assert g.total == FULL and not g.notes, g.notes
    assert [c for c, _ in g.flags] == ["copy:book"]  # the book's solutions, verbatim
    assert _feedback(graded, "instructor.ipynb").count("✅") >= 10


@pytest.mark.parametrize("name", ["rebinds-checks.ipynb", "rebinds-checks-unfinished.ipynb",
                                  "loosens-defaults.ipynb"])
def test_tampering_with_the_checks_scores_zero(graded, name) -> None:
    """The checks themselves changed (``mlpbook.checks.*``, a check's defaults): nothing is
    graded, even where the code underneath is the instructor's."""
    g = _g(graded, name)
    assert g.total == 0
    assert "tamper" in _feedback(graded, name)
    assert "mlpbook.checks." in _feedback(graded, name)


# name -> (what the submission's own code deserves, what it changed in the library)
LIBRARY_PATCHES = {
    "patches-torch.ipynb": (FULL, "torch.allclose was replaced"),  # the instructor's code
    "shadows-tensor-max.ipynb": (0, "torch.Tensor.max was added"),  # the unfinished starters
    "patches-torch-internals.ipynb": (0, "torch.nn.modules.container.Sequential.forward"),
    "patches-what-checks-call.ipynb": (FULL - 1, "torch.autograd.gradcheck was replaced"),
}


@pytest.mark.parametrize("name", LIBRARY_PATCHES)
def test_a_patched_library_is_put_back_and_the_code_itself_graded(graded, name) -> None:
    """A cheat through mlpbook, torch or numpy gains nothing: the grader puts the originals
    back before its checks run, scores what the notebook's own code deserves, and says so."""
    deserves, changed = LIBRARY_PATCHES[name]
    g = _g(graded, name)
    assert g.total == deserves, g.notes
    note = next(n for n in g.notes if "put the originals back" in n)
    assert changed in note
    if name == "patches-what-checks-call.ipynb":  # the zero gradients are what fails
        assert g.scores["ex-lab-mlp-backward"] == 0
        assert "❌ check_mlp_backward" in _feedback(graded, name)


def test_the_library_cheat_would_pass_the_checks_unrestored() -> None:
    """Why putting the library back matters: the patches of ``patches-what-checks-call``
    make both self-checks of exercise 2 pass zero gradients, in a process that keeps them."""
    import torch

    import mlpbook.checks as C

    def zeros(X, y, W1, b1, W2, b2):
        return [torch.zeros_like(p) for p in (W1, b1, W2, b2)]

    originals = torch.allclose, torch.autograd.gradcheck
    try:
        exec(PATCHES_WHAT_CHECKS_CALL, {})  # noqa: S102 - the cheat, as the notebook runs it
        cheated = [C.check_mlp_backward(zeros, verbose=False),
                   C.check_gradcheck(zeros, verbose=False)]
    finally:
        torch.allclose, torch.autograd.gradcheck = originals
    assert all(r.passed for r in cheated)
    assert not any(r.passed for r in [C.check_mlp_backward(zeros, verbose=False),
                                      C.check_gradcheck(zeros, verbose=False)])


def test_magics_run_as_in_jupyter_and_make_no_noise(graded) -> None:
    """``%%time`` runs its cell (the runs of exercise 5 are in one), ``%matplotlib`` and
    ``%autoreload`` change nothing: full marks and nothing for the instructor to look at. The
    skipped install is said in the student's feedback."""
    g = _g(graded, "magics.ipynb")
    assert g.total == FULL and not g.notes, g.notes
    text = _feedback(graded, "magics.ipynb")
    assert "skipped" in text and "`!pip install -q mlpbook`" in text
    assert "matplotlib" not in text.split("## Notes")[1]


def test_a_library_change_while_a_check_runs_voids_that_exercise(graded) -> None:
    g = _g(graded, "patches-during-a-check.ipynb")
    assert g.scores["ex-lab-zero-grad"] == 0 and g.total == FULL - 1, g.notes
    assert "while it ran (torch.allclose was replaced" in _feedback(
        graded, "patches-during-a-check.ipynb")


@pytest.mark.parametrize("name", ["tanh-on-value.ipynb", "float64.ipynb"])
def test_honest_work_that_changes_the_library_gets_full_marks(graded, name) -> None:
    """Modifying the library is not cheating: ``Value.tanh = tanh`` is what exercise 1's title
    asks for, and working in float64 rebinds ``torch.Storage``."""
    g = _g(graded, name)
    assert g.total == FULL, g.notes
    assert "tamper" not in _feedback(graded, name)
    if name == "tanh-on-value.ipynb":
        assert g.notes == [next(n for n in g.notes if "mlpbook.engine.Value.tanh was replaced"
                                in n and "put the originals back" in n)]
    else:
        assert not g.notes


def test_honest_code_using_more_of_torch_is_not_tampering(graded) -> None:
    g = _g(graded, "uses-more-torch.ipynb")
    assert "tamper" not in _feedback(graded, "uses-more-torch.ipynb")
    assert g.total == FULL


def test_rebinding_a_name_in_the_notebook_is_caught(graded) -> None:
    g = _g(graded, "rebinds-name-only.ipynb")
    assert g.scores["ex-lab-tanh"] == 0  # a wrong tanh, and a check_tanh that says ✅
    assert "`check_tanh`" in _feedback(graded, "rebinds-name-only.ipynb")
    assert g.total == FULL - 1  # the other exercises are the instructor's, graded as usual


def test_endless_loop_in_a_cell_is_stopped_and_the_rest_graded(graded) -> None:
    g = _g(graded, "loop-cell.ipynb")
    assert g.total == FULL
    assert any("time limit" in n for n in g.notes)


def test_endless_loop_in_a_checked_function_scores_zero_there(graded) -> None:
    g = _g(graded, "loop-function.ipynb")
    assert g.scores["ex-lab-tanh"] == 0 and g.total == FULL - 1
    assert "time limit" in _feedback(graded, "loop-function.ipynb")


def test_a_loop_that_swallows_interrupts_hits_the_hard_limit(graded) -> None:
    g = _g(graded, "loop-unstoppable.ipynb")
    assert g.total == 0
    assert any("time limit" in n for n in g.notes)
    assert g.seconds <= LIMITS.timeout + 15


def test_every_submission_within_its_time_limit(graded) -> None:
    slow = {n: round(g.seconds, 1) for n, g in graded["by_name"].items()
            if g.seconds > LIMITS.timeout + 15}
    assert not slow


@pytest.mark.parametrize("name", ["syntax-error.ipynb", "not-a-notebook.ipynb", "empty.ipynb",
                                  "exits.ipynb"])
def test_broken_submissions_score_zero_with_a_reason(graded, name) -> None:
    g = _g(graded, name)
    assert g.total == 0
    assert g.notes, "a zero needs a reason"
    reason = {"syntax-error.ipynb": "SyntaxError", "not-a-notebook.ipynb": "invalid JSON",
              "empty.ipynb": "no code cells", "exits.ipynb": "ended the grader's process"}[name]
    assert reason in _feedback(graded, name)


def test_a_broken_solution_cell_costs_only_its_exercise(graded) -> None:
    g = _g(graded, "syntax-error-in-solution.ipynb")
    assert g.scores["ex-lab-tanh"] == 0 and g.total == FULL - 1
    g = _g(graded, "raises.ipynb")
    assert g.total == FULL and any("RuntimeError: oops" in n for n in g.notes)


def test_renamed_function_scores_zero_with_the_name_to_keep(graded) -> None:
    g = _g(graded, "renamed.ipynb")
    assert g.scores["ex-lab-tanh"] == 0 and g.total == FULL - 1
    assert "`tanh`" in _feedback(graded, "renamed.ipynb")


def test_memory_is_bounded(graded) -> None:
    g = _g(graded, "memory.ipynb")
    assert g.total == FULL
    cell = _code_number(graded["notebooks"]["instructor"], _after_imports(
        graded["notebooks"]["instructor"]))  # the memory hog comes right after the imports
    assert any(n.startswith(f"cell {cell} ") for n in g.notes), g.notes


def test_no_network(graded) -> None:
    g = _g(graded, "network.ipynb")
    assert g.total == FULL
    assert any(n.startswith("cell ") and "Error" in n for n in g.notes), g.notes


def test_no_writes_to_the_book_or_the_graders_checks(graded) -> None:
    """The book is read-only to a notebook; the grader's copy of the checks is read-only, or
    restored and the notebook that changed it scores 0; nobody else's grade moves."""
    g = _g(graded, "writes-book.ipynb")
    assert g.total == FULL and any("Error" in n for n in g.notes), g.notes
    g = _g(graded, "writes-checks.ipynb")
    assert g.total == 0 and g.notes
    assert _g(graded, "student.ipynb").total == 0


def test_the_student_notebook_never_replaces_the_students_work() -> None:
    """Run all of the student notebook: no cell rebinds a name a starter cell defines."""
    cells = [c for c in LAB.cells if not c.in_solution and "remove-cell" not in c.tags]
    owners: dict[str, int] = {}
    for i, cell in enumerate(cells):
        tree = ast.parse(cell.source)
        for node in tree.body:
            names = ([node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else
                     [t.id for n in ([node] if isinstance(node, ast.Assign) else [])
                      for t in n.targets if isinstance(t, ast.Name)])
            for name in names:
                if name in ("result", "results"):  # what each self-check cell returns
                    continue
                assert owners.setdefault(name, i) == i, (
                    f"cell {i} rebinds {name!r}, defined by cell {owners[name]}")


def test_a_notebook_cannot_see_the_others(graded) -> None:
    if not graded["namespaces"]:
        pytest.skip("no Linux user namespaces here: the grader runs with weaker isolation")
    g = _g(graded, "snoops.ipynb")
    assert g.total == FULL and not g.notes, g.notes


# ----- the eight cases of a real class: each scored fairly, with the right reason, flagged ----


def _row(graded, name) -> dict:
    return next(r for r in graded["rows"] if r["submission"] == name)


def _summary(graded) -> str:
    return (graded["folder"] / "summary.md").read_text(encoding="utf-8")


def test_partial_credit_per_gradient_and_stage(graded) -> None:
    g = _g(graded, "partial.ipynb")  # db1 off by 2: 3 of 4 gradients, in both checks
    assert g.scores["ex-lab-mlp-backward"] == 0.75 and g.total == FULL - 0.25, g.scores
    assert "db1" in _feedback(graded, "partial.ipynb")
    g = _g(graded, "overwrites-grad.ipynb")  # = for +=: the gradient right, not accumulated
    assert g.scores["ex-lab-tanh"] == 0.5 and g.total == FULL - 0.5
    assert "+=" in _feedback(graded, "overwrites-grad.ipynb")


def test_the_autograd_shortcut_scores_zero_and_is_flagged(graded) -> None:
    g = _g(graded, "autograd-shortcut.ipynb")
    assert g.scores["ex-lab-mlp-backward"] == 0 and g.total == FULL - 1
    assert "no autograd" in _feedback(graded, "autograd-shortcut.ipynb")
    assert "rule:autograd" in _row(graded, "autograd-shortcut.ipynb")["flag"]
    assert "autograd-shortcut.ipynb" in _summary(graded).split("## Needs review")[1]


def test_the_librarys_answer_earns_nothing(graded) -> None:
    g = _g(graded, "library-tanh.ipynb")
    assert g.scores["ex-lab-tanh"] == 0 and g.total == FULL - 1
    assert "Value.tanh" in _feedback(graded, "library-tanh.ipynb")


def test_a_fixed_function_beside_the_graded_one_is_named(graded) -> None:
    g = _g(graded, "fixed-beside.ipynb")
    assert g.scores["ex-lab-zero-grad"] == 0.5
    text = _feedback(graded, "fixed-beside.ipynb")
    assert "the grader graded `train_loop` from code cell" in text
    assert "`train_loop_fixed`" in text


def test_a_slow_sweep_is_told_the_time_limit_and_its_cell(graded) -> None:
    g = _g(graded, "slow-sweep.ipynb")
    assert g.scores["ex-lab-capacity"] < 1 and g.total >= FULL - 1
    section = "\n".join(g.sections["ex-lab-capacity"])
    assert "did not finish: stopped at the time limit" in section, section
    assert re.search(r"code cell \d+ \(`import time`, shown as \[\d+\]", section), section
    assert "NameError" not in section


def test_copies_are_flagged_in_grades_and_summary(graded) -> None:
    for name in ("copy-a_111_222_lab.ipynb", "copy-b_333_444_lab.ipynb"):
        g = _g(graded, name)
        assert g.scores["ex-lab-tanh"] == 1
        assert "copy:peer" in _row(graded, name)["flag"]
    assert "copy-b_333_444_lab.ipynb" in _row(graded, "copy-a_111_222_lab.ipynb")["note"]
    assert "copy:book" in _row(graded, "instructor.ipynb")["flag"]
    review, info = _summary(graded).split("## Needs review")[1].split("## Information")
    assert "copy-a_111_222_lab.ipynb" in review and "rebinds-checks.ipynb" in review
    honest = _g(graded, "tanh-on-value.ipynb")  # Value.tanh = tanh: information, not a flag
    assert [c for c, _ in honest.flags] == ["copy:book"] and honest.notes
    assert "tampering" in _row(graded, "rebinds-checks.ipynb")["flag"]


def test_student_ids_and_statistics(graded) -> None:
    assert _row(graded, "copy-a_111_222_lab.ipynb")["student_id"] == "111"  # Canvas style
    assert _row(graded, "student.ipynb")["student_id"] == "student"
    text = _summary(graded)
    for ex in LAB.exercises:
        assert re.search(rf"\| {ex.number}\. {ex.column} \| \d\.\d\d \| \d+/\d+", text)
    assert "| 1 | check_tanh |" in text


def test_written_answers_are_collected_in_one_sheet(graded) -> None:
    sheet = (graded["folder"] / "answers.md").read_text(encoding="utf-8")
    part = sheet.split("## Exercise 5")[1]
    assert "copy-a_111_222_lab.ipynb (111)" in part and "qwertyuiop" in part
    assert sheet.count("qwertyuiop") == 1


def test_only_regrades_one_submission_into_the_files(graded) -> None:
    folder = graded["folder"]
    before = {r["submission"]: r for r in graded["rows"]}
    nbformat.write(graded["notebooks"]["instructor"], folder / "student.ipynb")
    grade.grade(folder, jobs=1, limits=LIMITS, quiet=True, only="student.ipynb")
    rows = {r["submission"]: r for r in csv.DictReader(open(folder / "grades.csv",
                                                            encoding="utf-8"))}
    assert set(rows) == set(before)
    assert rows["student.ipynb"]["total"] == f"{FULL:g}"
    assert rows["instructor.ipynb"] == before["instructor.ipynb"]
    assert "Total: 5 / 5" in _feedback(graded, "student.ipynb")
