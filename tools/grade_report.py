"""What a grading run writes into the submissions folder, and the students' LMS identifiers.

- ``feedback/<name>.md``: what the student is told (scores, every self-check message, causes);
  ``feedback/<name>.json``: the whole ``Graded`` (so that ``--only`` regrades one submission and
  the files below are rebuilt from all of them);
- ``grades.csv``: ``submission``, ``student_id`` (from the file name, ``ID_PATTERNS``), one
  column per exercise, ``total``, ``flag`` (codes needing review) and ``note``;
- ``summary.md``: per-exercise means and pass rates, the commonest failure of each self-check,
  then "Needs review" (flags) apart from "Information" (notes);
- ``answers.md``: the written answers, by exercise, for marking.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections import Counter
from pathlib import Path

from grade_lab import Lab
from grade_score import Graded

# The file names an LMS gives the submissions it exports (its "download all"):
#   Canvas: doejane_12345_6789012_lab.ipynb, doejane_LATE_12345_6789012_lab.ipynb
#           (login name, Canvas user id, submission id, the student's file name)
#   Moodle: Jane Doe_123456_assignsubmission_file_lab.ipynb
#           (full name, participant id, plugin; in folders: "Jane Doe_123456_assignsubmission_file_/lab.ipynb")
ID_PATTERNS = {
    "canvas": r"^(?P<name>[^_]+)_(?:LATE_)?(?P<id>\d+)_\d+_",
    "moodle": r"^(?P<name>.+?)_(?P<id>\d+)_assign(?:submission|feedback)_",
    "stem": r"^(?P<id>.+?)(?:\.ipynb)?$",
}
DEFAULT_ID_PATTERN = "auto"  # canvas, else moodle, else the file name without .ipynb


def student_id(filename: str, pattern: str = DEFAULT_ID_PATTERN) -> str:
    """The student identifier in a submission's file name: group ``id`` of ``pattern`` (a
    name of ``ID_PATTERNS``, ``auto``, or a regular expression with a group ``id``)."""
    tries = ([ID_PATTERNS["canvas"], ID_PATTERNS["moodle"], ID_PATTERNS["stem"]]
             if pattern == "auto" else [ID_PATTERNS.get(pattern, pattern)])
    for regex in tries:
        m = re.search(regex, filename)
        if m and m.groupdict().get("id"):
            return m["id"]
    return ""


def check_pattern(pattern: str) -> str:
    """``pattern`` if usable, else ValueError saying what is expected."""
    if pattern == "auto" or pattern in ID_PATTERNS:
        return pattern
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise ValueError(f"--id-pattern: not a regular expression ({err})") from None
    if "id" not in regex.groupindex:
        raise ValueError("--id-pattern needs a group named id, e.g. '_(?P<id>\\d+)_', or one "
                         f"of: auto, {', '.join(ID_PATTERNS)}")
    return pattern


def feedback(g: Graded, lab: Lab) -> str:
    """The feedback file of one submission (Markdown)."""
    out = [f"# Lab feedback: {g.name}", "",
           f"**Total: {g.total:g} / {len(lab.exercises)}** (each exercise: the share of its "
           "self-checks that pass, with credit for each part of a check)", "",
           "| exercise | score |", "| --- | --- |"]
    out += [f"| {ex.number}. {ex.title} | {g.scores[ex.label]:g} |" for ex in lab.exercises]
    for ex in lab.exercises:
        out += ["", f"## Exercise {ex.number}: {ex.title} ({g.scores[ex.label]:g} / 1)", ""]
        out += [f"    {line}" for line in g.sections.get(ex.label, [])] or ["    (nothing)"]
    if g.notes or g.info:
        out += ["", "## Notes", ""] + [f"- {n}" for n in g.notes + g.info]
    return "\n".join(out) + "\n"


def save(directory: Path, g: Graded, lab: Lab) -> None:
    """One submission's feedback (Markdown for the student, JSON for the grader)."""
    folder = directory / "feedback"
    folder.mkdir(exist_ok=True)
    stem = Path(g.name).stem
    (folder / f"{stem}.md").write_text(feedback(g, lab), encoding="utf-8")
    (folder / f"{stem}.json").write_text(json.dumps(dataclasses.asdict(g), indent=1),
                                         encoding="utf-8")


def load_all(directory: Path) -> list[Graded]:
    """Every submission graded so far in ``directory`` (whose notebook is still there)."""
    present = {p.name for p in directory.glob("*.ipynb")}
    found = []
    for path in sorted((directory / "feedback").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("name") in present:
            found.append(Graded(**data))
    return found


def write_results(directory: Path, graded: list[Graded], lab: Lab) -> Path:
    """grades.csv, summary.md and answers.md from ``graded`` (feedback files are ``save``d)."""
    for g in graded:
        save(directory, g, lab)
    everyone = {g.name: g for g in load_all(directory)} | {g.name: g for g in graded}
    rows = sorted(everyone.values(), key=lambda g: g.name)
    path = directory / "grades.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "student_id", *(ex.column for ex in lab.exercises),
                         "total", "flag", "note"])
        for g in rows:
            writer.writerow([g.name, g.student_id,
                             *(f"{g.scores.get(ex.label, 0):g}" for ex in lab.exercises),
                             f"{g.total:g}", ";".join(sorted({c for c, _ in g.flags})),
                             " | ".join([t for _, t in g.flags] + g.notes)[:2000]])
    (directory / "summary.md").write_text(summary(rows, lab), encoding="utf-8")
    (directory / "answers.md").write_text(answers_sheet(rows, lab), encoding="utf-8")
    return path


def _failure(text: str) -> str:
    """A failing self-check's message without the numbers that differ from one notebook to the
    next: what it says went wrong."""
    text = text.removeprefix("❌ ").split(" expected ")[0]
    return re.sub(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", "#", text)[:140]


def summary(rows: list[Graded], lab: Lab) -> str:
    n = len(rows)
    out = ["# Lab grades: summary", "", f"{n} submission(s); mean total "
           f"{sum(g.total for g in rows) / max(1, n):.2f} / {len(lab.exercises)}.", "",
           "| exercise | mean | full marks |", "| --- | --- | --- |"]
    for ex in lab.exercises:
        scores = [g.scores.get(ex.label, 0.0) for g in rows]
        full = sum(1 for s in scores if s >= 1)
        out.append(f"| {ex.number}. {ex.column} | {sum(scores) / max(1, n):.2f} | "
                   f"{full}/{n} ({100 * full / max(1, n):.0f} %) |")
    out += ["", "## Commonest failure of each self-check", "",
            "| exercise | self-check | failed | commonest failure |", "| --- | --- | --- | --- |"]
    for ex in lab.exercises:
        by_check: dict[str, Counter] = {}
        for g in rows:
            for c in g.checks.get(ex.label, []):
                counter = by_check.setdefault(c["name"], Counter())
                if c["score"] < 1:
                    counter[_failure(c["text"])] += 1
        for name, counter in by_check.items():
            top = counter.most_common(1)
            text = f"{top[0][0]} ({top[0][1]}×)".replace("|", "\\|") if top else "none"
            out.append(f"| {ex.number} | {name} | {sum(counter.values())} | {text} |")
    flagged = [g for g in rows if g.flags]
    out += ["", "## Needs review", ""]
    out += [f"- **{g.name}** ({g.total:g}): " + "; ".join(f"`{c}` {t}" for c, t in g.flags)
            for g in flagged] or ["Nothing."]
    noted = [g for g in rows if g.notes and not g.flags]
    out += ["", "## Information (no action needed)", ""]
    out += [f"- {g.name} ({g.total:g}): " + "; ".join(n[:160] for n in g.notes[:3])
            for g in noted] or ["Nothing."]
    return "\n".join(out) + "\n"


def answers_sheet(rows: list[Graded], lab: Lab) -> str:
    """The written answers of every submission, exercise by exercise, for marking."""
    out = ["# Written answers", "", "Markdown cells a student wrote (not the book's), under the "
           "exercise they follow. Mark them here; the grades in grades.csv are the self-checks'."]
    for ex in [None, *lab.exercises]:
        key = ex.label if ex else "-"
        entries = [(g, g.answers[key]) for g in rows if g.answers.get(key)]
        if not entries:
            continue
        out += ["", f"## {f'Exercise {ex.number}: {ex.title}' if ex else 'Before exercise 1'}"]
        for g, texts in entries:
            who = f"{g.name} ({g.student_id})" if g.student_id else g.name
            out += ["", f"### {who}", ""] + ["\n\n".join(t.strip() for t in texts)]
    if len(out) == 3:
        out += ["", "No written answers found."]
    return "\n".join(out) + "\n"
