"""The grader's sandbox: a fork server that runs each notebook in a child of its own.

The server (``grade_worker.py``, with ``grade_run.py`` and ``grade_snapshot.py``, copied to a
private folder with ``mlpbook``) imports torch and ``mlpbook`` once, inside new user, mount and
network namespaces (``unshare``) where every mount is read-only except the grader's scratch
folder; each notebook runs in a forked child with its own folder, time and memory limits.
Without user namespaces it runs with an in-process network guard and a hash check of the
private copy (``trusted_intact``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from grade_lab import ROOT, Lab

TOOLS = Path(__file__).resolve().parent
WORKER = TOOLS / "grade_worker.py"
WORKER_FILES = ("grade_worker.py", "grade_run.py", "grade_snapshot.py")


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
        for name in WORKER_FILES:
            shutil.copy2(TOOLS / name, self.trusted / name)
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
               "exercises": [{"label": e.label, "cells": lab.trusted(e.label),
                              "names": lab.names(e.label)} for e in lab.exercises],
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
