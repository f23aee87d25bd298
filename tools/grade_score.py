"""Scores and their reasons: a run's events turned into a ``Graded`` (per exercise, out of 1).

An exercise scores the mean of its self-checks' points (a check made of parts gives credit per
part). ``flags`` are what the instructor must look at (tampering, a broken rule of the page, a
copy, code that reaches the grader); ``notes`` and ``info`` are information. Where an exercise
loses points, ``causes`` names the real cause in the student's feedback: a cell stopped at its
time limit (numbered as the student numbers it), a missing name, a second version of a function
beside the one graded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grade_lab import Lab, defined_names, suspicious


@dataclass
class Graded:
    """The grade of one submission, and what the student is told."""

    name: str
    scores: dict[str, float]
    sections: dict[str, list[str]] = field(default_factory=dict)  # label -> feedback lines
    notes: list[str] = field(default_factory=list)  # what happened, for student and instructor
    info: list[str] = field(default_factory=list)  # for the student only
    flags: list[list[str]] = field(default_factory=list)  # [code, text]: needs review
    checks: dict[str, list[dict]] = field(default_factory=dict)  # label -> verdicts
    answers: dict[str, list[str]] = field(default_factory=dict)  # label -> written answers
    student_id: str = ""
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return round(sum(self.scores.values()), 2)

    def flag(self, code: str, text: str) -> None:
        if [code, text] not in self.flags:
            self.flags.append([code, text])


def _points(check: dict) -> float:
    try:
        value = float(check.get("score", 1.0 if check.get("passed") is True else 0.0))
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, min(1.0, value)) if value == value else 0.0


def cell_label(cells: list[str], i: int) -> str:
    """A code cell as the student finds it: its number after Run all, and its first line."""
    return f"code cell {i + 1} ({_first_line(cells, i)}, shown as [{i + 1}] after Run all)"


def causes(names: dict, events: list[dict], cells: list[str], lab: Lab) -> list[str]:
    """Why an exercise lost points, beyond what its self-checks say: for each name it grades,
    whether the notebook defined it, which cell did, and what else looks like it."""
    failed = {e.get("index"): e.get("error", "") for e in events if e["event"] == "cell-error"}
    running = [e.get("index") for e in events if e["event"] == "cell"]
    if any(e["event"] == "timeout" for e in events) and running:
        failed.setdefault(running[-1], "stopped at the notebook's time limit of the whole run")
    book = set().union(*(defined_names(c.source) for c in lab.cells if not c.in_solution))
    out = []
    for name, info in names.items():
        similar = {n: c for n, c in (info.get("similar") or {}).items() if n not in book}
        others = ", ".join(f"`{n}` ({cell_label(cells, c)})" if c is not None else f"`{n}`"
                           for n, c in similar.items())
        if not info.get("defined"):
            culprit = next((i for i in sorted(failed) if i is not None and i < len(cells)
                            and name in defined_names(cells[i])), None)
            if culprit is not None:
                out.append(f"→ `{name}` was never set: {cell_label(cells, culprit)}, which sets "
                           f"it, did not finish: {failed[culprit]}")
            elif similar:
                out.append(f"→ the grader looks for `{name}`, the name the starter defines; your "
                           f"notebook defines {others}: keep the starter's name")
            else:
                out.append(f"→ the grader looks for `{name}`, the name the starter defines: keep "
                           "it")
        elif (late := next((i for i in sorted(failed) if i is not None and i < len(cells)
                            and i > (info.get("cell") if info.get("cell") is not None else -1)
                            and name in defined_names(cells[i])), None)) is not None:
            out.append(f"→ `{name}` kept an earlier value: {cell_label(cells, late)}, which sets "
                       f"it, did not finish: {failed[late]}")
        elif similar:
            where = info.get("cell")
            at = f" from {cell_label(cells, where)}" if where is not None else ""
            out.append(f"→ the grader graded `{name}`{at}; your notebook also defines {others}. "
                       f"The self-check uses `{name}`: put your final version under that name")
    return out


def score(name: str, events: list[dict], lab: Lab, expected: dict[str, int],
          cells: list[str]) -> Graded:
    """Turn a run's events into scores (each exercise out of 1) and feedback."""
    g = Graded(name, {e.label: 0.0 for e in lab.exercises})
    by_label = {}
    for e in events:
        if e["event"] == "exercise" and e.get("label") in g.scores:
            if e["label"] in by_label:
                g.notes.append("the grader saw two verdicts for one exercise (tampering with "
                               "its channel): 0 for the whole notebook")
                g.flag("tampering", "two verdicts for one exercise")
                return all_zero(g, lab, "tampering with the grader")
            by_label[e["label"]] = e
    running = None
    for e in events:
        if e["event"] == "cell":
            running = e.get("index")
        elif e["event"] == "cell-error":
            i = e.get("index", 0)
            g.notes.append(f"cell {i + 1} ({_first_line(cells, i)}): {e.get('error')}")
        elif e["event"] == "skipped":  # for the student; nothing for the instructor to do
            g.info.append("skipped (no installs or shell commands when grading): "
                          + ", ".join(f"`{c}`" for c in e.get("commands", [])))
        elif e["event"] == "restored" and e.get("phase") == "notebook":
            g.notes.append(_restored_note("the notebook", e.get("changes", [])))
        elif e["event"] == "tampered" and e.get("phase") == "notebook":
            reason = "; ".join(e.get("changes", []))
            if e.get("why") == "irreversible":
                g.notes.append(f"the notebook changes the library in a way the grader cannot "
                               f"undo: {reason}. Nothing is graded (tampering)")
                g.flag("tampering", "the notebook changes the library beyond repair")
                return all_zero(g, lab, "the notebook changes the library beyond repair")
            g.notes.append(f"the notebook changes the self-checks or the grader: {reason}. "
                           "Nothing is graded (tampering)")
            g.flag("tampering", "the notebook changes the self-checks or the grader")
            return all_zero(g, lab, "the notebook tampers with the self-checks")
        elif e["event"] == "grader-error":
            g.notes.append(f"the grader failed: {e.get('error')}")
            g.flag("grader-error", f"the grader failed: {e.get('error')}")
    ended = None
    where = f" while running code cell {running + 1}" if running is not None else ""
    if any(e["event"] == "timeout" for e in events):
        ended = f"stopped at the notebook's time limit{where}"
    elif any(e["event"] == "exit" for e in events):
        code = next(e["code"] for e in events if e["event"] == "exit")
        ended = f"the notebook ended the grader's process (exit code {code}){where}"
    if ended:
        g.notes.append(ended)
        if "ended the grader" in ended:
            g.flag("exit", ended)
    if found := suspicious(cells):
        g.notes.append("for review: the notebook uses " + ", ".join(f"`{s}`" for s in found) +
                       ", which can reach the grader's own process; the score stands unless "
                       "you find tampering")
        g.flag("review-code", "uses " + ", ".join(found))
    for ex in lab.exercises:
        e = by_label.get(ex.label)
        lines = g.sections.setdefault(ex.label, [])
        if e is None:
            lines.append(f"0: not graded ({ended or 'the grader stopped before it'})")
            continue
        checks = e.get("checks", [])
        reason = None
        if e.get("tampered"):
            reason = ("calling the notebook's code changed the self-checks, or the library "
                      "beyond repair: " + "; ".join(e["tampered"]))
        elif e.get("restored"):
            reason = ("the notebook's code, called by this self-check, changed the library "
                      "while it ran (" + "; ".join(e["restored"]) + "; put back since), so "
                      "its verdict cannot be trusted")
        elif e.get("rebound"):
            reason = "the notebook rebinds or edits " + ", ".join(
                f"`{n}`" for n in e["rebound"]) + ", which this exercise's self-check uses"
        if reason:
            what = ("change the library only at the top level of a cell, not in a function "
                    "the self-check calls" if e.get("restored") and not e.get("tampered")
                    else "tampering with the self-checks")
            lines.append(f"0: {reason} ({what}). What the book's self-check says:")
            lines += [str(c.get("text", "")) for c in checks]
            g.notes.append(f"exercise {ex.number}: {reason}: 0 ({what})")
            g.flag("tampering", f"exercise {ex.number}: {reason}")
            continue
        points = sum(_points(c) for c in checks[:expected[ex.label]])
        g.scores[ex.label] = round(min(points, expected[ex.label]) / expected[ex.label], 2)
        g.checks[ex.label] = [{"name": str(c.get("name", "")), "score": _points(c),
                               "text": str(c.get("text", ""))} for c in checks]
        lines += [str(c.get("text", "")) for c in checks]
        for rule in sorted({str(c["flag"]) for c in checks if c.get("flag")}):
            g.flag(f"rule:{rule}", f"exercise {ex.number} breaks the page's rule ({rule})")
        if g.scores[ex.label] < 1:
            lines += causes(e.get("names") or {}, events, cells, lab)
        if e.get("error"):
            lines.append(f"❌ the self-check could not run: {e['error']}")
            g.notes.append(f"exercise {ex.number}: the self-check could not run: {e['error']}"
                           + _hint(e["error"]))
    return g


def _restored_note(who: str, changes: list[str]) -> str:
    return (f"{who} modified the library ({'; '.join(changes)}). That costs nothing and gains "
            "nothing: the grader put the originals back before running the self-checks, so "
            "they checked your own functions against the unmodified mlpbook, torch and numpy")


def _hint(error: str) -> str:
    m = re.match(r"NameError: name '(\w+)' is not defined", error)
    return (f" (the grader looks for `{m[1]}`, the name the starter cell defines: keep it)"
            if m else "")


def _first_line(cells: list[str], i: int) -> str:
    lines = [ln.strip() for ln in cells[i].splitlines() if ln.strip()] if i < len(cells) else []
    text = lines[0] if lines else "empty"
    return f"`{text[:60]}`"


def all_zero(g: Graded, lab: Lab, reason: str) -> Graded:
    for ex in lab.exercises:
        g.scores[ex.label] = 0.0
        g.sections[ex.label] = [f"0: {reason}"]
    return g


