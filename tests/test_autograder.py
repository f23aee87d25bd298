"""make autograder: the Gradescope autograder, run in a simulated Gradescope root.

``AUTOGRADER_ROOT`` points ``run_autograder`` at a temporary folder laid out as Gradescope lays
out ``/autograder`` (``source/`` the unzipped autograder, ``submission/``, ``results/``); the
notebooks are the ones the build writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import autograder  # noqa: E402  (tools/autograder.py)

if not (autograder.ROOT / "book" / "solutions" / "lab.md").is_file():
    pytest.skip("no book/solutions/ here (a public copy)", allow_module_level=True)
from test_grade import ALWAYS_PASS, SWALLOWS_EVERYTHING, _with_cell  # noqa: E402

pytestmark = [pytest.mark.book, pytest.mark.slow]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    zip_path = autograder.build(tmp_path_factory.mktemp("build"))
    root = tmp_path_factory.mktemp("unzipped") / "source"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root)
        names = zf.namelist()
    assert {"setup.sh", "run_autograder", "requirements-autograder.txt"} <= set(names)
    for name in ("setup.sh", "run_autograder"):
        (root / name).chmod(0o755)
    return root


def _run(source: Path, tmp: Path, submission: object, name: str = "lab.ipynb",
         **env: str) -> dict:
    """Lay out a Gradescope root around ``source``, run run_autograder, read results.json."""
    root = tmp / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    (root / "source").symlink_to(source)
    path = root / "submission" / name
    if isinstance(submission, bytes):
        path.write_bytes(submission)
    else:
        nbformat.write(submission, path)
    subprocess.run(["bash", str(source / "run_autograder")], check=True, timeout=600,
                   env={**os.environ, "AUTOGRADER_ROOT": str(root),
                        "AUTOGRADER_PYTHON": sys.executable, **env})
    data = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    for test in data["tests"]:
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
    return data


def _visible(data: dict) -> str:
    return data["output"] + "\n".join(t["output"] for t in data["tests"]
                                      if t["visibility"] != "hidden")


@pytest.fixture(scope="module")
def notebooks(built_book: Path) -> dict:
    return {"student": nbformat.read(built_book / "notebooks" / "lab.ipynb", as_version=4),
            "instructor": nbformat.read(built_book.parent / "instructor" / "lab-solutions.ipynb",
                                        as_version=4)}


def test_the_instructor_notebook_scores_full_marks(source, tmp_path, notebooks) -> None:
    data = _run(source, tmp_path, notebooks["instructor"])
    exercises = [t for t in data["tests"] if t["visibility"] == "visible"]
    assert data["score"] == len(exercises) == 5
    assert all(t["score"] == t["max_score"] == 1 for t in exercises)
    assert "✅ check_tanh" in exercises[0]["output"]


def test_the_untouched_student_notebook_scores_zero(source, tmp_path, notebooks) -> None:
    data = _run(source, tmp_path, notebooks["student"])
    assert data["score"] == 0
    assert "❌ check_tanh" in _visible(data)


def test_tampering_scores_zero_with_the_reason_hidden(source, tmp_path, notebooks) -> None:
    data = _run(source, tmp_path, _with_cell(notebooks["instructor"], ALWAYS_PASS))
    assert data["score"] == 0
    hidden = [t for t in data["tests"] if t["visibility"] == "hidden"]
    assert hidden and "tampering" in hidden[0]["output"]
    assert "tamper" not in _visible(data) and "mlpbook.checks" not in _visible(data)


def test_a_timeout_and_a_file_that_is_not_a_notebook_still_get_results(
        source, tmp_path, notebooks) -> None:
    data = _run(source, tmp_path / "loop", _with_cell(notebooks["instructor"],
                                                      SWALLOWS_EVERYTHING, 3),
                AUTOGRADER_TIMEOUT="25", AUTOGRADER_CELL_TIMEOUT="5")
    assert data["score"] == 0 and len(data["tests"]) >= 5
    data = _run(source, tmp_path / "text", b"print('my lab')", name="lab.py")
    assert data["score"] == 0 and "No notebook found" in data["output"]
