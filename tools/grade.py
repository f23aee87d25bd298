"""Grade the lab notebooks students hand in: ``make grade SUBMISSIONS=DIR [ONLY=name]``.

For every ``DIR/*.ipynb`` it writes ``DIR/feedback/<name>.md`` (the self-check messages the
student would have seen, and the real cause of every lost point), one row of
``DIR/grades.csv`` (``submission``, ``student_id``, one column per exercise, ``total``, ``flag``,
``note``), ``DIR/summary.md`` (per-exercise statistics; what needs review apart from
information) and ``DIR/answers.md`` (the written answers, for marking). ``--only NAME``
regrades one submission into the files already there.

How it scores: the self-check cells of ``book/lab.md`` (the cells tagged ``grader``, read by
``grade_lab.read_lab``, the one manifest of the lab's exercises), taken from the book and never
from the notebook, run on the names the notebook defines; an exercise scores the mean of its
self-checks' points (``grade_score``). Before grading anything it grades the lab's own
solutions, which must score full marks. Each notebook runs in a sandbox of its own
(``grade_sandbox``, ``grade_worker``, ``grade_run``, ``grade_snapshot``). Submissions whose code
cells match the book's solutions or another submission's (normalised code) are flagged.

Usage: python tools/grade.py DIR [--only NAME] [--jobs N] [--timeout S] [--cell-timeout S]
                             [--id-pattern auto|canvas|moodle|stem|REGEX]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from grade_lab import (LAB, MAX_BYTES, Lab, defined_names, normalised,  # noqa: F401
                       notebook_cells, notebook_markdown, read_lab)
from grade_report import (DEFAULT_ID_PATTERN, ID_PATTERNS, check_pattern, student_id,
                          write_results)
from grade_sandbox import Limits, Sandbox  # noqa: F401  (the tests' API)
from grade_score import Graded, all_zero, score

CALIBRATION_SECONDS = 300.0  # the lab's own solutions: a loaded machine must not fail them
MIN_SHARED_LINES = 3  # a cell two submissions share counts as a copy from this many lines


# --------------------------------------------------------------------------------------------
# Copies and written answers (read from the files, nothing run)
# --------------------------------------------------------------------------------------------


def similarity(payloads: dict[str, bytes], lab: Lab) -> dict[str, list[tuple[str, str]]]:
    """Flags for submissions whose code cells, normalised (``grade_lab.normalised``), are the
    book's solutions, or another submission's own code (cells that are not the starters)."""
    graded = set(lab.hand_in())
    given = {normalised(c.source) for c in lab.cells if not c.in_solution}
    solutions = {normalised(c.source) for c in lab.cells if c.in_solution} - given - {""}
    owners: dict[str, set[str]] = {}
    cells: dict[str, list[str]] = {}
    for name, data in payloads.items():
        try:  # the graded cells: those that define a name the grader reads
            cells[name] = [normalised(c) if defined_names(c) & graded else ""
                           for c in notebook_cells(data)]
        except ValueError:
            continue
        for code in set(cells[name]) - given - solutions - {""}:
            if code.count("\n") + 1 >= MIN_SHARED_LINES:
                owners.setdefault(code, set()).add(name)
    flags: dict[str, list[tuple[str, str]]] = {}
    for name, codes in cells.items():
        book = [i + 1 for i, code in enumerate(codes) if code and code in solutions]
        if book:
            flags.setdefault(name, []).append((
                "copy:book", f"code cell(s) {', '.join(map(str, book))} match the book's "
                "solutions (normalised code)"))
        peers = sorted({other for code in set(codes) for other in owners.get(code, ())} - {name})
        if peers:
            flags.setdefault(name, []).append((
                "copy:peer", "code identical to " + ", ".join(peers[:5])))
    return flags


# What the Colab converter writes into a notebook's Markdown (included code, dropdowns, the
# headers of solutions): never a student's answer.
BOOK_MARKUP = re.compile(r"^```|<details>|^\*\*Solution to Exercise", re.MULTILINE)


def _shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}


def written_answers(markdown: list[str], page_text: str, lab: Lab) -> dict[str, list[str]]:
    """The Markdown cells a student wrote (most of their 5-word runs are not in the lab page),
    keyed by the exercise they follow (``-`` before the first)."""
    page = _shingles(page_text)
    titles = [(ex.label, ex.title.lower()[:40]) for ex in lab.exercises]
    current, found = "-", {}
    for text in markdown:
        low = " ".join(text.lower().split())
        hit = next((label for label, title in titles if title in low), None)
        if hit:
            current = hit
            continue
        words = re.findall(r"[a-z0-9]+", low)
        if len(words) < 3 or BOOK_MARKUP.search(text):  # the converter's, not a student's
            continue
        mine = _shingles(text)
        if len(mine & page) < 0.5 * len(mine):
            found.setdefault(current, []).append(text)
    return found


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


class Progress:
    """A progress bar on stderr (a line every 10 % when stderr is not a terminal)."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.start = total, 0, time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.shown = -1

    def step(self, label: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done)
        width = 30
        filled = width * self.done // self.total
        bar = "█" * filled + "░" * (width - filled)
        text = (f"[grade] {bar} {self.done}/{self.total}  {_mmss(elapsed)} elapsed, "
                f"~{_mmss(left)} left  {label[:30]}")
        if self.tty:
            sys.stderr.write("\r" + text.ljust(110) + ("\n" if self.done == self.total else ""))
        elif self.done * 10 // self.total != self.shown or self.done == self.total:
            self.shown = self.done * 10 // self.total
            sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _mmss(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def calibrate(sandbox: Sandbox, lab: Lab, facts: dict) -> dict[str, int]:
    """Grade the lab's own solutions: each exercise's number of self-checks; all must pass.

    ``facts`` receives how isolated the notebooks are (namespaces, network, grader files)."""
    cells = lab.code(solutions=True)
    events, tail = sandbox.run(cells, lab,
                               timeout=max(sandbox.limits.timeout, CALIBRATION_SECONDS))
    expected = {}
    problems = [f"{e['event']}: {e}" for e in events
                if e["event"] in ("cell-error", "tampered", "grader-error", "timeout", "exit")]
    for ex in lab.exercises:
        e = next((e for e in events if e["event"] == "exercise" and e["label"] == ex.label), None)
        if e is None or e.get("error") or e.get("rebound") or e.get("tampered") or \
                e.get("restored") or \
                not e.get("checks") or not all(c["passed"] for c in e["checks"]):
            problems.append(f"{ex.label}: {e}")
        else:
            expected[ex.label] = len(e["checks"])
    if problems:
        raise SystemExit("grade: the lab's own solutions do not get full marks, so the grader "
                         "cannot be trusted:\n  " + "\n  ".join(problems) + f"\n{tail}")
    found = next((e for e in events if e["event"] == "sandbox"), {})
    facts.update(namespaces=sandbox.namespaces, network=found.get("network"),
                 files=found.get("files"))
    weaker = "" if sandbox.namespaces else (
        " (no Linux user namespaces: unshare is missing or refused). The notebooks run with "
        "your permissions: grade untrusted work in a container or a VM, or allow unprivileged "
        "user namespaces (README, 'The lab as graded homework')")
    print(f"[grade] sandbox: network {facts['network']}, grader files {facts['files']}{weaker}",
          flush=True)
    return expected


def grade(directory: Path, jobs: int = os.cpu_count() or 1, limits: Limits | None = None,
          lab_path: Path = LAB, quiet: bool = False, facts: dict | None = None,
          only: str | None = None, id_pattern: str = DEFAULT_ID_PATTERN) -> list[Graded]:
    """Grade every ``*.ipynb`` in ``directory`` (or only the one named ``only``, into the files
    already there); write grades.csv, summary.md, answers.md and the feedback files.

    ``facts`` (optional) receives how isolated the notebooks ran (see ``calibrate``)."""
    lab = read_lab(lab_path)
    submissions = sorted(p for p in directory.glob("*.ipynb") if p.is_file())
    everyone = {p.name: p.read_bytes()[:MAX_BYTES + 1] for p in submissions}  # read all first
    if only is not None and only not in everyone:
        raise SystemExit(f"grade: {directory / only} is not a notebook of the folder")
    payloads = {only: everyone[only]} if only is not None else everyone
    copies = similarity(everyone, lab)
    page_text = lab_path.read_text(encoding="utf-8")
    sandbox = Sandbox(limits or Limits())
    try:
        try:
            expected = calibrate(sandbox, lab, facts if facts is not None else {})
        except SystemExit as err:
            if not sandbox.namespaces:
                raise
            print(f"[grade] the namespaces sandbox failed on the lab's own solutions; trying "
                  f"without it:\n{err}", file=sys.stderr)
            sandbox.close()
            sandbox = Sandbox(limits or Limits(), namespaces=False)
            expected = calibrate(sandbox, lab, facts if facts is not None else {})
        graded: list[Graded] = []
        progress = Progress(max(1, len(payloads)))

        active: set[str] = set()  # notebooks running now, and since the last intact check
        suspects: set[str] = set()
        guard = threading.Lock()

        def one(name: str) -> tuple[Graded, bool]:
            """Grade one notebook; also say whether the grader's files changed meanwhile."""
            start = time.perf_counter()
            try:
                cells = notebook_cells(payloads[name])
            except ValueError as err:
                g = all_zero(Graded(name, {}), lab, str(err))
                g.notes.append(str(err))
                g.student_id = student_id(name, id_pattern)
                return g, False
            with guard:
                active.add(name)
            events, _ = sandbox.run(cells, lab)
            g = score(name, events, lab, expected, cells)
            for code, text in copies.get(name, []):
                g.flag(code, text)
            g.answers = written_answers(notebook_markdown(payloads[name]), page_text, lab)
            with guard:  # the grader's files can only change without namespaces
                changed = not sandbox.trusted_intact()
                if changed:
                    suspects.update(active)  # one of these changed them: re-run them alone
                active.discard(name)
            g.seconds = time.perf_counter() - start
            g.student_id = student_id(name, id_pattern)
            return g, changed

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(one, name): name for name in payloads}
            for future in as_completed(futures):
                graded.append(future.result()[0])
                if not quiet:
                    progress.step(futures[future])
        for name in sorted(suspects):  # alone, so that what changes the files is known
            g, changed = one(name)
            if changed:
                g = all_zero(Graded(name, {}), lab, "the notebook changed the grader's own "
                              "files (tampering)")
                g.notes.append("the notebook changed the grader's private copy of mlpbook; it "
                               "was restored")
                g.flag("tampering", "changed the grader's private copy of mlpbook")
                g.student_id = student_id(name, id_pattern)
            graded = [x for x in graded if x.name != name] + [g]
    finally:
        sandbox.close()
    write_results(directory, graded, lab)
    return graded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="a folder of .ipynb files")
    parser.add_argument("--only", help="regrade this one notebook (a file name in the folder) "
                        "into the existing grades.csv, summary and feedback")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=Limits.timeout,
                        help="hard limit per notebook, seconds (default %(default)g)")
    parser.add_argument("--cell-timeout", type=float, default=Limits.cell,
                        help="limit per code cell and per self-check, seconds "
                             "(default %(default)g)")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb)
    parser.add_argument("--id-pattern", default=os.environ.get("ID_PATTERN") or
                        DEFAULT_ID_PATTERN, help="the student id in a file name: auto, "
                        f"{', '.join(ID_PATTERNS)} or a regular expression with a group 'id'")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder (make grade SUBMISSIONS=DIR)")
    if not any(args.submissions.glob("*.ipynb")):
        parser.error(f"{args.submissions} holds no .ipynb file")
    try:
        pattern = check_pattern(args.id_pattern)
    except ValueError as err:
        parser.error(str(err))
    only = Path(args.only).name if args.only else None
    if only and not only.endswith(".ipynb"):
        only += ".ipynb"
    limits = Limits(args.timeout, args.cell_timeout, args.cell_timeout, args.memory_mb)
    start = time.perf_counter()
    graded = grade(args.submissions, args.jobs, limits, only=only, id_pattern=pattern)
    lab = read_lab()
    flagged = [g for g in graded if g.flags]
    out = args.submissions
    print(f"[grade] graded {len(graded)} notebook(s) in {_mmss(time.perf_counter() - start)} "
          f"with {args.jobs} worker(s): {out / 'grades.csv'}, {out / 'summary.md'}, "
          f"{out / 'answers.md'}, feedback in {out / 'feedback'}/")
    mean = sum(g.total for g in graded) / max(1, len(graded))
    print(f"[grade] mean total {mean:.2f} / {len(lab.exercises)}; {len(flagged)} need review:")
    for g in sorted(flagged, key=lambda g: g.name):
        print(f"  {g.name}: {g.total:g}; " + "; ".join(c for c, _ in g.flags))
    return 0


if __name__ == "__main__":
    sys.exit(main())
