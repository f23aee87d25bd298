"""Running a mutant: copy a snapshot, apply it, execute its candidate pages with the copy's
own build, record what killed it."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pages import REPORT, copy_repo, read_report
from mutation import ROOT
from mutation.syntax import MutationError
from mutation.operators import Mutant
from mutation.sites import EQUIVALENT
from mutation.rewrite import apply_mutant
from mutation.planner import Planner


# ----- running the build on a copy -------------------------------------------------------------
@dataclass
class Run:
    """One run of a copy's ``tools/build.py``: exit code, wall and CPU seconds (the build and
    every process it waited for: page workers, kernels), its report, the tail of its output."""

    returncode: int
    seconds: float
    cpu: float
    report: dict | None
    tail: str = ""


def _kill_tree(pid: int) -> None:
    """Kill ``pid`` and every process it started (kernels run in sessions of their own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo, tree = [pid], []
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children.get(p, [])
    for p in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGKILL)


# Runs a command as a child subreaper: processes it orphans (a page's worker, its kernel) are
# re-parented to this one and reaped, so the CPU time of the whole tree is counted.
REAPER = """
import ctypes, os, resource, subprocess, sys
try:
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
except (AttributeError, OSError):  # not Linux: orphans' CPU time is not counted
    pass
code = subprocess.call(sys.argv[2:])
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(str(usage.ru_utime + usage.ru_stime))
sys.exit(code)
"""


def _run(cmd: list[str], cwd: Path, timeout: float) -> Run:
    """Run ``cmd``; ``returncode`` -1 if it was killed (with all it started) at ``timeout``."""
    with tempfile.TemporaryDirectory(prefix="mlpbook-run-") as tmp:
        log_path, cpu_path = Path(tmp) / "log", Path(tmp) / "cpu"
        start = time.perf_counter()
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, "-c", REAPER, str(cpu_path), *cmd],
                                    cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
            try:
                proc.wait(timeout=timeout)
                code = proc.returncode
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                proc.wait()
                code = -1
        seconds = time.perf_counter() - start
        tail = "\n".join(log_path.read_text(errors="replace").strip().splitlines()[-25:])
        cpu = float(cpu_path.read_text()) if cpu_path.exists() else 0.0
    try:
        report = read_report(cwd)
    except (OSError, ValueError):
        report = None
    return Run(code, seconds, cpu, report, tail)


def build(root: Path, *, jobs: int, execute_only: bool = True, only: list[str] = (),
          timeout: float = 900) -> Run:
    """Run the copy's own ``tools/build.py`` on the copy (its previous report removed first)."""
    with contextlib.suppress(FileNotFoundError):
        (root / REPORT).unlink()
    cmd = [sys.executable, str(root / "tools" / "build.py"), "--root", str(root),
           "--jobs", str(jobs)] + (["--execute-only"] if execute_only else [])
    for page in only:
        cmd += ["--only", page]
    return _run(cmd, root, timeout)


def snapshot(dest: Path, source: Path = ROOT, with_cache: bool = True) -> Path:
    """Copy the working tree (never .venv, .git, _build) and, if asked, its execution cache."""
    return copy_repo(source, dest, with_cache=with_cache)


@dataclass
class Record:
    """The result of one mutant, as written to bench/mutation.json."""

    mutant: str
    module: str
    target: str
    site: str
    kind: str
    description: str
    change: list[str] = field(default_factory=list)
    status: str = "error"          # killed | survived | equivalent | error | timeout
    killed: bool = False
    stage: str | None = None       # execute | render: the stage of the build that failed
    killed_by: list[dict] = field(default_factory=list)  # the build report's failures
    tried: list[dict] = field(default_factory=list)      # [{page, killed, seconds, cpu}]
    candidates: list[str] = field(default_factory=list)  # the pages importing the module
    equivalent: str | None = None  # the argument, for a mutant argued to be equivalent
    rendered: bool = False         # survived execution, then the full build was tried too
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    error: str = ""


def _failures(run: Run) -> list[dict]:
    return [{k: f.get(k) for k in ("page", "path", "line", "cell", "error", "message")}
            for f in (run.report or {}).get("failures", [])]


def _dirname(name: str) -> str:
    """A directory name for a mutant's copy: no path separator (``:`` would split the
    kernel's PYTHONPATH and silently import another copy of mlpbook)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60] + "-" + hashlib.sha1(
        name.encode()).hexdigest()[:8]


def imports_from(root: Path) -> str:
    """Where a kernel of ``root``'s build imports ``mlpbook`` from (build.py puts
    ``root/code`` first on PYTHONPATH); must be inside ``root``."""
    out = subprocess.run([sys.executable, "-c", "import mlpbook; print(mlpbook.__file__)"],
                         capture_output=True, text=True, cwd="/",
                         env={**os.environ, "PYTHONPATH": str(root / "code")})
    return out.stdout.strip() or out.stderr.strip()[-300:]


def run_mutant(base: Path, mutant: Mutant, work: Path, *, planner: Planner | None = None,
               pages: list[str] | None = None, all_pages: bool = False,
               render: Callable[[], tuple[bool, str]] | None = None, timeout: float = 900,
               keep: bool = False) -> Record:
    """Copy ``base``, apply the mutant, and execute the pages that can kill it, one at a time,
    most likely killer first, until one fails (``all_pages``: run every one). ``pages``: run
    these instead. ``render``: if every page passes, ask it whether the unmutated book renders
    ((ok, why)); if so, re-try the mutant with the full build (Sphinx, warnings as errors)."""
    rec = Record(mutant.name, mutant.module, mutant.target, mutant.site, mutant.kind,
                 mutant.description, equivalent=EQUIVALENT.get(mutant.name))
    start = time.perf_counter()
    root = work / _dirname(mutant.name)
    try:
        snapshot(root, base, with_cache=False)
        rec.change = apply_mutant(root, mutant)
        rec.candidates = planner.candidates(mutant) if planner else list(pages or [])
        todo = list(pages) if pages is not None else planner.order(mutant)
        for page in todo:
            run = build(root, jobs=1, only=[page], timeout=timeout)
            rec.cpu_seconds += run.cpu
            failures = _failures(run)
            if run.returncode == -1:
                rec.status, rec.error = "timeout", f"{page}: no result after {timeout:.0f}s"
                break
            if run.returncode != 0 and not failures:
                rec.status, rec.error = "error", f"{page}: the build failed without a failing " \
                                                 f"page:\n{run.tail}"
                break
            killed = bool(failures)
            rec.tried.append({"page": page, "killed": killed, "seconds": round(run.seconds, 2),
                              "cpu": round(run.cpu, 2)})
            if planner:
                planner.learn(mutant.target, page, killed, run.seconds)
            if killed:
                if not rec.killed:
                    rec.status, rec.killed, rec.stage = "killed", True, "execute"
                rec.killed_by += failures
                if not all_pages:
                    break
        else:
            if not rec.killed:
                rec.status = "equivalent" if rec.equivalent else "survived"
        if rec.status == "survived" and render is not None and pages is None:
            ok, why = render()
            if not ok:
                rec.error = f"not re-tried with the render: {why}"
            else:
                full_root = snapshot(work / (root.name + "-full"), base)
                apply_mutant(full_root, mutant)
                full = build(full_root, jobs=1, execute_only=False, timeout=timeout)
                rec.cpu_seconds += full.cpu
                rec.rendered = True
                if full.returncode != 0:
                    rec.status, rec.killed, rec.stage = "killed", True, "render"
                    rec.killed_by = _failures(full) or [
                        {"page": None, "path": None, "line": None, "cell": None,
                         "error": "render", "message": full.tail[-300:]}]
                if not keep:
                    shutil.rmtree(full_root, ignore_errors=True)
    except MutationError as err:
        rec.status, rec.error = "error", str(err)
    finally:
        rec.seconds = round(time.perf_counter() - start, 1)
        rec.cpu_seconds = round(rec.cpu_seconds, 1)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return rec
