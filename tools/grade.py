"""Grade the lab notebooks students hand in: ``make grade SUBMISSIONS=DIR``.

For every ``DIR/*.ipynb`` it writes one row of ``DIR/grades.csv`` (``submission``, one column
per exercise, ``total``) and ``DIR/feedback/<name>.md``: the self-check messages the student
would have seen, and the reason for every zero.

How it scores: the self-check cells of ``book/lab.md`` (the cells tagged ``grader``), taken from
the book and never from the notebook, run on the names the notebook defines; an exercise scores
the share of its self-checks that pass (1 point each, 5 in all). Before grading anything it
grades the lab's own solutions, which must score full marks.

How it distrusts the notebook: each one runs in its own process, forked from a server
(``tools/grade_worker.py``) that imported torch and a private copy of ``mlpbook`` once, in a
folder of its own, with time limits per cell and per self-check and a hard limit per notebook,
bounded memory, no network and a read-only file system (Linux user namespaces via ``unshare``;
without them, an in-process network guard and a hash check of the grader's private copy of
``mlpbook``). Tampering with the checks, endless loops, exceptions, invalid JSON and renamed
functions are graded (0 where due) with a reason, and the run goes on.

Usage: python tools/grade.py DIR [--jobs N] [--timeout S] [--cell-timeout S]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "book" / "lab.md"
WORKER = Path(__file__).resolve().with_name("grade_worker.py")
GRADER_TAG = "grader"  # a cell the grader runs from the book, never from the submission
MAX_BYTES = 50 << 20  # a notebook larger than this is not read
CALIBRATION_SECONDS = 300.0  # the lab's own solutions: a loaded machine must not fail them
sys.path.insert(0, str(ROOT / "tools" / "sphinxext"))
from editions import DIRECTIVE, page_cells  # noqa: E402  (MyST directives, solutions: one place)


# --------------------------------------------------------------------------------------------
# The lab, as the book defines it
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exercise:
    """One exercise of the lab: its label (``ex-lab-tanh``), title and number."""

    label: str
    title: str
    number: int

    @property
    def column(self) -> str:
        """The CSV column: the label without its ``ex-lab-`` prefix."""
        return self.label.removeprefix("ex-lab-")


@dataclass(frozen=True)
class LabCell:
    """A code cell of the lab page, with where it sits."""

    source: str
    tags: tuple[str, ...]
    exercise: str | None  # the label of the exercise it belongs to, None before the first
    in_solution: bool


@dataclass
class Lab:
    """The lab page, read with jupytext: its exercises and code cells."""

    exercises: list[Exercise]
    cells: list[LabCell]

    def trusted(self, label: str | None) -> list[str]:
        """The ``grader`` cells of an exercise (or, for None, the setup before them)."""
        return [c.source for c in self.cells if GRADER_TAG in c.tags and not c.in_solution
                and c.exercise == label]

    def code(self, *, solutions: bool) -> list[str]:
        """The code cells a notebook of the lab holds, with or without the solutions.

        Build plumbing (``remove-cell`` cells) is not part of a notebook (ROSTER contract 4).
        """
        return [c.source for c in self.cells if "remove-cell" not in c.tags
                and (solutions or not c.in_solution)]


def read_lab(path: Path = LAB) -> Lab:
    """Parse the lab page: exercises from ``exercise-start``, solutions as the editions define
    them (``editions.page_cells``)."""
    exercises: list[Exercise] = []
    cells: list[LabCell] = []
    current = None
    for cell, in_solution in page_cells(path.read_text(encoding="utf-8")):
        if cell.cell_type == "code":
            cells.append(LabCell(cell.source, tuple(cell.metadata.get("tags", [])), current,
                                 in_solution))
            continue
        body = cell.source.splitlines()
        for i, line in enumerate(body):
            m = DIRECTIVE.match(line)
            if m and m["name"] == "exercise-start":
                title = line[m.end():].strip()
                label = next((ln.split(":label:", 1)[1].strip() for ln in body[i + 1:i + 4]
                              if ln.startswith(":label:")), None)
                if label is None:
                    raise ValueError(f"{path}: exercise {title!r} has no :label:")
                current = label
                exercises.append(Exercise(label, title, len(exercises) + 1))
    return Lab(exercises, cells)


# --------------------------------------------------------------------------------------------
# A submission
# --------------------------------------------------------------------------------------------


# Code that can reach past a notebook's own namespace into the grader's process: scored as
# usual, but named in the feedback so that an instructor can look (see README).
SUSPICIOUS = re.compile(r"gc\.get_(?:objects|referrers|referents)|sys\._getframe|"
                        r"\bf_(?:back|locals|globals)\b|inspect\.(?:stack|currentframe)|"
                        r"\bctypes\b|os\._exit|__code__\s*=|signal\.signal|events\.jsonl|/proc/|"
                        r"os\.(?:dup2?|write)\(")


def suspicious(cells: list[str]) -> list[str]:
    """The constructs of ``SUSPICIOUS`` the notebook uses, once each."""
    return sorted({m.group(0) for src in cells for m in SUSPICIOUS.finditer(src)})


def notebook_cells(data: bytes) -> list[str]:
    """The code cells of a notebook file; ValueError says why it is not a usable notebook."""
    if len(data) > MAX_BYTES:
        raise ValueError(f"the file is larger than {MAX_BYTES >> 20} MB")
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not a notebook: the file is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"not a notebook: invalid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("not a notebook: no list of cells")
    sources = []
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise ValueError("not a notebook: a code cell's source is not text")
        sources.append(source)
    if not sources:
        raise ValueError("the notebook has no code cells")
    return sources


@dataclass
class Graded:
    """The grade of one submission, and what the student is told."""

    name: str
    scores: dict[str, float]
    sections: dict[str, list[str]] = field(default_factory=dict)  # label -> feedback lines
    notes: list[str] = field(default_factory=list)  # what the instructor should look at
    info: list[str] = field(default_factory=list)  # for the student only
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return round(sum(self.scores.values()), 2)


# --------------------------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------------------------

# The fork server starts in new user, mount and network namespaces where every mount is
# read-only except the folder of the notebooks' folders ($WORK; /dev, /proc and /sys stay).
# Each notebook then runs in a child with its own mount and PID namespaces (grade_worker.py).
NAMESPACE_SCRIPT = """
mount --bind "$WORK" "$WORK" && cd "$WORK" || exit 97
for m in $(awk '{print $5}' /proc/self/mountinfo); do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|"$WORK") continue;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null
done
exec "$PY" -I -B "$WORKER" "$WORK" "$HERE" 1
"""


@dataclass
class Limits:
    """Time limits (seconds) and memory (MB)."""

    timeout: float = 120.0
    cell: float = 20.0
    check: float = 30.0
    memory_mb: int = 4096


class Sandbox:
    """A fork server (``grade_worker.py``) that runs each notebook in a child of its own.

    The server imports torch, mlpbook and the rest once, from a private copy of ``mlpbook`` and of
    the worker, and never runs notebook code; each child starts from that state in a fresh
    folder. ``run`` may be called from several threads at once.
    """

    READY_SECONDS = 300.0

    def __init__(self, limits: Limits, namespaces: bool = True) -> None:
        self.limits = limits
        self.home = Path(tempfile.mkdtemp(prefix="mlpbook-grade-"))
        self.jobs, self.here = self.home / "jobs", self.home / "here"
        self.jobs.mkdir()
        self.here.mkdir()
        self.trusted = self.home / "trusted"
        shutil.copytree(ROOT / "code" / "mlpbook", self.trusted / "mlpbook",
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(WORKER, self.trusted / WORKER.name)
        self.digests = self._digests()
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._started: dict[str, int] = {}
        self._exited: dict[str, int] = {}
        self.namespaces = namespaces and bool(shutil.which("unshare")) and \
            self._start(namespaces=True)
        if not self.namespaces and not self._start(namespaces=False):
            raise SystemExit(f"grade: the grading server did not start:\n{self._stderr_tail()}")

    # -- the server ------------------------------------------------------------------------

    def _start(self, namespaces: bool) -> bool:
        worker = self.trusted / WORKER.name
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.jobs),
               "MPLCONFIGDIR": str(self.jobs), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8",
               "WORK": str(self.jobs), "HERE": str(self.here), "PY": sys.executable,
               "WORKER": str(worker)}
        if namespaces:
            cmd = [shutil.which("unshare") or "unshare", "--user", "--map-root-user", "--mount",
                   "--net", "sh", "-c", NAMESPACE_SCRIPT]
        else:
            cmd = [sys.executable, "-I", "-B", str(worker), str(self.jobs), str(self.here), "0"]
        self._stderr = open(self.home / f"server-{int(namespaces)}.txt", "wb")  # noqa: SIM115
        self.server = subprocess.Popen(cmd, cwd=self.jobs, env=env, stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=self._stderr,
                                       start_new_session=True)
        self._ready = threading.Event()
        threading.Thread(target=self._read, args=(self.server,), daemon=True).start()
        ok = self._ready.wait(self.READY_SECONDS)
        if not ok or self.server.poll() is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.server.pid, 9)
            self.server.wait()
            return False
        return True

    def _read(self, server: subprocess.Popen) -> None:
        for raw in server.stdout:
            words = raw.decode("utf-8", "replace").split()
            with self._changed:
                if words == ["ready"]:
                    self._ready.set()
                elif len(words) == 3 and words[0] == "started":
                    self._started[words[1]] = int(words[2])
                elif len(words) == 3 and words[0] == "exited":
                    self._exited[words[1]] = int(words[2])
                self._changed.notify_all()
        self._ready.set()  # the server ended: nobody waits for it
        with self._changed:
            self._changed.notify_all()

    def _stderr_tail(self) -> str:
        texts = [p.read_bytes()[-2000:].decode("utf-8", "replace")
                 for p in sorted(self.home.glob("server-*.txt"))]
        return "\n".join(texts)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.server.stdin.close()
        with contextlib.suppress(OSError):
            os.killpg(self.server.pid, 9)
        self.server.wait()
        shutil.rmtree(self.home, ignore_errors=True)

    # -- the grader's own files ------------------------------------------------------------

    def _digests(self) -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in sorted(self.trusted.rglob("*")) if p.is_file()}

    def trusted_intact(self) -> bool:
        """Whether the grader's private copy is as it was; restore it if not."""
        if self._digests() == self.digests:
            return True
        shutil.rmtree(self.trusted, ignore_errors=True)
        for path, data in self.digests.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return False

    # -- one notebook ----------------------------------------------------------------------

    def _wait(self, table: dict[str, int], job_id: str, seconds: float) -> int | None:
        deadline = time.monotonic() + seconds
        with self._changed:
            while job_id not in table:
                left = deadline - time.monotonic()
                if left <= 0 or self.server.poll() is not None:
                    return table.get(job_id)
                self._changed.wait(min(left, 1.0))
            return table[job_id]

    def run(self, cells: list[str], lab: Lab,
            timeout: float | None = None) -> tuple[list[dict], str]:
        """Grade ``cells`` in a child of the server; return its events and the server's errors."""
        job_id = secrets.token_hex(8)
        folder = self.jobs / job_id
        folder.mkdir()
        token = secrets.token_hex(16)
        job = {"token": token, "cells": cells, "setup": lab.trusted(None),
               "exercises": [{"label": e.label, "cells": lab.trusted(e.label)}
                             for e in lab.exercises],
               "cell_limit": self.limits.cell, "check_limit": self.limits.check,
               "memory_mb": self.limits.memory_mb}
        with self._lock:
            try:
                self.server.stdin.write((json.dumps({"id": job_id, "job": job}) + "\n").encode())
                self.server.stdin.flush()
            except OSError:
                return [{"event": "exit", "code": "the grading server has stopped"}], \
                    self._stderr_tail()
        pid = self._wait(self._started, job_id, 60)
        code = self._wait(self._exited, job_id, timeout or self.limits.timeout)
        timed_out = code is None and pid is not None
        if timed_out:
            with contextlib.suppress(OSError):
                os.killpg(pid, 9)
            self._wait(self._exited, job_id, 10)
        events = _events(folder, token)
        shutil.rmtree(folder, ignore_errors=True)
        if timed_out:
            events.append({"event": "timeout"})
        elif not any(e["event"] in ("done", "tampered") for e in events):
            events.append({"event": "exit", "code": code})
        return events, self._stderr_tail() if code else ""


def _events(work: Path, token: str) -> list[dict]:
    """The worker's events: only lines with this run's token, at most 4 MB read."""
    path = work / "events.jsonl"
    if not path.exists():
        return []
    with open(path, "rb") as f:
        data = f.read(4 << 20)
    events = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("token") == token:
            events.append(event)
    return events


# --------------------------------------------------------------------------------------------
# Scores and feedback
# --------------------------------------------------------------------------------------------


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
                return _all_zero(g, lab, "tampering with the grader")
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
                return _all_zero(g, lab, "the notebook changes the library beyond repair")
            g.notes.append(f"the notebook changes the self-checks or the grader: {reason}. "
                           "Nothing is graded (tampering)")
            return _all_zero(g, lab, "the notebook tampers with the self-checks")
        elif e["event"] == "grader-error":
            g.notes.append(f"the grader failed: {e.get('error')}")
    ended = None
    where = f" while running cell {running + 1}" if running is not None else ""
    if any(e["event"] == "timeout" for e in events):
        ended = f"stopped at the notebook's time limit{where}"
    elif any(e["event"] == "exit" for e in events):
        code = next(e["code"] for e in events if e["event"] == "exit")
        ended = f"the notebook ended the grader's process (exit code {code}){where}"
    if ended:
        g.notes.append(ended)
    if found := suspicious(cells):
        g.notes.append("for review: the notebook uses " + ", ".join(f"`{s}`" for s in found) +
                       ", which can reach the grader's own process; the score stands unless "
                       "you find tampering")
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
            continue
        passed = sum(1 for c in checks if c.get("passed") is True)
        g.scores[ex.label] = round(min(passed, expected[ex.label]) / expected[ex.label], 2)
        lines += [str(c.get("text", "")) for c in checks]
        if e.get("error"):
            lines.append(f"❌ the self-check could not run: {e['error']}" + _hint(e["error"]))
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


def _all_zero(g: Graded, lab: Lab, reason: str) -> Graded:
    for ex in lab.exercises:
        g.scores[ex.label] = 0.0
        g.sections[ex.label] = [f"0: {reason}"]
    return g


def feedback(g: Graded, lab: Lab) -> str:
    """The feedback file of one submission (Markdown)."""
    out = [f"# Lab feedback: {g.name}", "",
           f"**Total: {g.total:g} / {len(lab.exercises)}** (each exercise: the share of its "
           "self-checks that pass)", "", "| exercise | score |", "| --- | --- |"]
    out += [f"| {ex.number}. {ex.title} | {g.scores[ex.label]:g} |" for ex in lab.exercises]
    for ex in lab.exercises:
        out += ["", f"## Exercise {ex.number}: {ex.title} ({g.scores[ex.label]:g} / 1)", ""]
        out += [f"    {line}" for line in g.sections.get(ex.label, [])] or ["    (nothing)"]
    if g.notes or g.info:
        out += ["", "## Notes", ""] + [f"- {n}" for n in g.notes + g.info]
    return "\n".join(out) + "\n"


def write_results(directory: Path, graded: list[Graded], lab: Lab) -> Path:
    """DIR/grades.csv and DIR/feedback/<name>.md."""
    path = directory / "grades.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", *(ex.column for ex in lab.exercises), "total"])
        for g in sorted(graded, key=lambda g: g.name):
            writer.writerow([g.name, *(f"{g.scores[ex.label]:g}" for ex in lab.exercises),
                             f"{g.total:g}"])
    folder = directory / "feedback"
    folder.mkdir(exist_ok=True)
    for g in graded:
        (folder / f"{Path(g.name).stem}.md").write_text(feedback(g, lab), encoding="utf-8")
    return path


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
          lab_path: Path = LAB, quiet: bool = False, facts: dict | None = None) -> list[Graded]:
    """Grade every ``*.ipynb`` in ``directory``; write grades.csv and the feedback files.

    ``facts`` (optional) receives how isolated the notebooks ran (see ``calibrate``)."""
    lab = read_lab(lab_path)
    submissions = sorted(p for p in directory.glob("*.ipynb") if p.is_file())
    payloads = {p.name: p.read_bytes()[:MAX_BYTES + 1] for p in submissions}  # read them all first
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
                g = _all_zero(Graded(name, {}), lab, str(err))
                g.notes.append(str(err))
                return g, False
            with guard:
                active.add(name)
            events, _ = sandbox.run(cells, lab)
            g = score(name, events, lab, expected, cells)
            with guard:  # the grader's files can only change without namespaces
                changed = not sandbox.trusted_intact()
                if changed:
                    suspects.update(active)  # one of these changed them: re-run them alone
                active.discard(name)
            g.seconds = time.perf_counter() - start
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
                g = _all_zero(Graded(name, {}), lab, "the notebook changed the grader's own "
                              "files (tampering)")
                g.notes.append("the notebook changed the grader's private copy of mlpbook; it "
                               "was restored")
            graded = [x for x in graded if x.name != name] + [g]
    finally:
        sandbox.close()
    write_results(directory, graded, lab)
    return graded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="a folder of .ipynb files")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=Limits.timeout,
                        help="hard limit per notebook, seconds (default %(default)g)")
    parser.add_argument("--cell-timeout", type=float, default=Limits.cell,
                        help="limit per code cell and per self-check, seconds "
                             "(default %(default)g)")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb)
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder (make grade SUBMISSIONS=DIR)")
    if not any(args.submissions.glob("*.ipynb")):
        parser.error(f"{args.submissions} holds no .ipynb file")
    limits = Limits(args.timeout, args.cell_timeout, args.cell_timeout, args.memory_mb)
    start = time.perf_counter()
    graded = grade(args.submissions, args.jobs, limits)
    lab = read_lab()
    flagged = [g for g in graded if g.notes]
    print(f"[grade] graded {len(graded)} notebook(s) in {_mmss(time.perf_counter() - start)} "
          f"with {args.jobs} worker(s): {args.submissions / 'grades.csv'}, feedback in "
          f"{args.submissions / 'feedback'}/")
    mean = sum(g.total for g in graded) / max(1, len(graded))
    print(f"[grade] mean total {mean:.2f} / {len(lab.exercises)}; {len(flagged)} with notes:")
    for g in sorted(flagged, key=lambda g: g.name):
        print(f"  {g.name}: {g.total:g}; {g.notes[0][:110]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
