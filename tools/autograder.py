"""The lab as a Gradescope autograder: ``make autograder``, and what runs inside Gradescope.

``python tools/autograder.py build`` writes ``_build/autograder/autograder.zip`` for a
Gradescope *programming assignment*. Gradescope unzips it into ``/autograder/source`` and runs
``setup.sh`` once (it installs Python, the pinned CPU stack of ``requirements.txt`` and
``mlpbook`` from the zip), then ``run_autograder`` for each submission in a container of its
own. ``run_autograder`` calls ``python tools/autograder.py run``: the notebook in
``/autograder/submission/`` is graded by the same grader and self-checks as ``make grade``
(``tools/grade.py``: its own sandboxed process, time and memory limits) and
``/autograder/results/results.json`` is written in Gradescope's format: ``score``, and
``tests``, one per exercise (``name``, ``score``, ``max_score``, ``output``: the self-check
messages the student sees), plus one ``hidden`` test holding what the instructor must look at
(tampering, a broken rule, a copy), which Gradescope never shows the student. A submission that
is not a notebook, or that runs out of time, still gets a ``results.json``.

``AUTOGRADER_ROOT`` replaces ``/autograder`` (for tests); ``AUTOGRADER_TIMEOUT`` and
``AUTOGRADER_CELL_TIMEOUT`` the grader's limits.

The zip holds the lab's solutions (the grader proves itself on them first): upload it to
Gradescope only, never to the public repository.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import traceback
import zipfile
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
OUT = ROOT / "_build" / "autograder"
# What the grader needs from the repository (paths relative to it; folders whole).
PAYLOAD = ["book/lab.md", "book/solutions", "code/mlpbook", "code/pyproject.toml",
           "tools/autograder.py", "tools/grade.py", "tools/grade_lab.py", "tools/grade_report.py",
           "tools/grade_run.py", "tools/grade_sandbox.py", "tools/grade_score.py",
           "tools/grade_snapshot.py", "tools/grade_worker.py", "tools/sphinxext/editions.py",
           "tools/sphinxext/solutions.py"]
# The pins of requirements.txt the grader imports (jupytext and Sphinx read the lab page).
PINNED = ("torch", "numpy", "matplotlib", "jupytext", "nbformat", "ipython", "sphinx",
          "docutils", "pyyaml", "markdown-it-py", "mdit-py-plugins")
HIDDEN_TEST = "Instructor notes"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
set -euo pipefail
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip util-linux >/dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q torch=={torch} --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/pip install -q -r /autograder/source/requirements-autograder.txt
/autograder/venv/bin/pip install -q --no-deps /autograder/source/code
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope copies this to /autograder/run_autograder and runs it for every submission; it
# always leaves results/results.json.
cd "${AUTOGRADER_ROOT:-/autograder}/source"
exec "${AUTOGRADER_PYTHON:-/autograder/venv/bin/python}" tools/autograder.py run
"""


def _pins() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if "==" in ln and not ln.lstrip().startswith("#")
            and ln.split("==")[0].strip().lower() in PINNED and not ln.startswith("torch")]


def build(out: Path = OUT) -> Path:
    """Write ``out/autograder.zip``; return its path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "autograder.zip"
    torch_pin = next(ln.split("==")[1].strip() for ln in
                     (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
                     if ln.startswith("torch=="))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        def add_text(name: str, text: str, mode: int = 0o644) -> None:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text)

        add_text("setup.sh", SETUP_SH.format(torch=torch_pin), 0o755)
        add_text("run_autograder", RUN_AUTOGRADER, 0o755)
        add_text("requirements-autograder.txt", "\n".join(_pins()) + "\n")
        for rel in PAYLOAD:
            src = ROOT / rel
            files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file()
                                                       and "__pycache__" not in p.parts)
            for f in files:
                zf.write(f, f.relative_to(ROOT).as_posix())
    return path


# --------------------------------------------------------------------------------------------
# Inside Gradescope
# --------------------------------------------------------------------------------------------


def _result(score: float, tests: list[dict], output: str) -> dict:
    return {"score": round(score, 4), "output": output, "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def _failed(message: str, lab=None) -> dict:
    """Zero for every exercise with one message the student sees."""
    tests = [{"name": f"Exercise {ex.number}: {ex.title}", "score": 0.0, "max_score": 1.0,
              "output": message, "visibility": "visible"} for ex in (lab.exercises if lab else [])]
    return _result(0.0, tests, message)


def results(g, lab) -> dict:
    """Gradescope's results.json for one ``Graded``: a test per exercise, the instructor's
    flags and notes in a hidden test."""
    tampered = any(code == "tampering" for code, _ in g.flags)
    tests = []
    for ex in lab.exercises:
        lines = g.sections.get(ex.label, [])
        if tampered:  # the reason is the instructor's to give
            lines = ["0: this submission could not be graded automatically; your instructor "
                     "will look at it."]
        tests.append({"name": f"Exercise {ex.number}: {ex.title}",
                      "score": float(g.scores.get(ex.label, 0.0)), "max_score": 1.0,
                      "output": "\n".join(lines) or "(nothing)", "visibility": "visible"})
    hidden = [f"{code}: {text}" for code, text in g.flags] + list(g.notes)
    if hidden:
        tests.append({"name": HIDDEN_TEST, "score": 0.0, "max_score": 0.0,
                      "output": "\n".join(hidden), "visibility": "hidden"})
    student_notes = [] if tampered else list(g.info) + [n for n in g.notes if "tamper" not in n]
    return _result(g.total, tests, "\n".join(student_notes))


def run(root: Path) -> dict:
    """Grade the notebook in ``root/submission``; write and return ``root/results/results.json``.
    Never raises: any failure becomes a result that says so."""
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    lab = None
    try:
        sys.path.insert(0, str(TOOLS))
        import grade

        lab = grade.read_lab()
        found = sorted(p for p in (root / "submission").rglob("*") if p.is_file())
        notebooks = [p for p in found if p.suffix == ".ipynb"]
        if not notebooks:
            names = ", ".join(p.name for p in found[:5]) or "nothing"
            data = _failed(f"No notebook found: hand in the lab as one .ipynb file (you handed "
                           f"in {names}).", lab)
        else:
            work = Path(tempfile.mkdtemp(prefix="autograder-"))
            try:
                shutil.copy2(notebooks[0], work / "submission.ipynb")
                limits = grade.Limits(
                    timeout=float(os.environ.get("AUTOGRADER_TIMEOUT", grade.Limits.timeout)),
                    cell=float(os.environ.get("AUTOGRADER_CELL_TIMEOUT", grade.Limits.cell)),
                    check=float(os.environ.get("AUTOGRADER_CELL_TIMEOUT", grade.Limits.check)))
                g = grade.grade(work, jobs=1, limits=limits, quiet=True)[0]
                data = results(g, lab)
                if len(notebooks) > 1:
                    data["output"] = (f"Graded {notebooks[0].name}; also handed in: "
                                      + ", ".join(p.name for p in notebooks[1:]) + "\n"
                                      + data["output"])
            finally:
                shutil.rmtree(work, ignore_errors=True)
    except BaseException as err:  # noqa: BLE001 - Gradescope must always get a result
        data = _failed("The autograder failed on this submission; your instructor will grade "
                       "it by hand.", lab)
        data["tests"].append({"name": HIDDEN_TEST, "score": 0.0, "max_score": 0.0,
                              "visibility": "hidden", "output": "".join(
                                  traceback.format_exception(err))[-4000:]})
    out.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return data


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["build"]:
        print(f"[autograder] {build()} (upload it to a Gradescope programming assignment; it "
              "holds the solutions: never publish it)")
        return 0
    if args[:1] == ["run"]:
        run(Path(os.environ.get("AUTOGRADER_ROOT") or "/autograder"))
        return 0
    print("usage: python tools/autograder.py build|run", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
