"""The grader's fork server: import once, fork one child per notebook.

The child process of ``tools/grade.py`` (``grade_sandbox.Sandbox``). It reads job lines (JSON) on
stdin and forks a child for each, started in its own temporary folder with no network and,
where Linux namespaces allow it, a read-only file system; the child runs ``grade_run.Worker``,
which appends events (JSON lines carrying the job's token) to ``events.jsonl`` in its folder.
Nothing here trusts the notebook's objects beyond calling them.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # run with -I: the grader's private copy of its modules
from grade_run import Worker, describe, warm_up  # noqa: E402


def limit_resources(memory_mb: int) -> None:
    """No core files, bounded memory and file sizes (lowered for good: hard limits too)."""
    limits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, 64 << 20)]
    if memory_mb:
        limits.append((resource.RLIMIT_AS, memory_mb << 20))
    for which, value in limits:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, value))


def run_job(job: dict) -> int:
    """In the folder of one notebook: run and grade it; events go to events.jsonl."""
    limit_resources(job.get("memory_mb", 0))
    events = open("events.jsonl", "a", encoding="utf-8")  # noqa: SIM115 - open to the end
    # The notebook's own output goes to a file nobody parses; it reads nothing.
    log = os.open("output.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    worker = Worker(job, events)
    try:
        worker.main()
    except BaseException as err:  # noqa: BLE001 - report, then end
        worker.emit("grader-error", error=describe(err))
        return 1
    worker.emit("done", seconds=getattr(worker, "timing", {}))
    return 0


# --------------------------------------------------------------------------------------------
# The fork server: import once, fork one child per notebook
# --------------------------------------------------------------------------------------------

CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG = 1


def preload() -> None:
    """What every notebook needs, imported once by the server (which never runs notebook code)."""
    import importlib
    import pkgutil

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import torch
    from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401

    import mlpbook

    for module in pkgutil.iter_modules(mlpbook.__path__):
        importlib.import_module(f"mlpbook.{module.name}")
    torch.set_num_threads(1)
    warm_up(torch)


def _libc_call(rc: int, what: str) -> None:
    if rc != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def enter_folder(folder: Path, jobs: Path, here: Path) -> None:
    """In a forked child: new mount and PID namespaces where only ``folder`` is visible (at
    ``here``, writable) and every other notebook's folder is hidden under an empty tmpfs."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    _libc_call(libc.unshare(CLONE_NEWNS | CLONE_NEWPID), "unshare")
    _libc_call(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make-rprivate")
    _libc_call(libc.mount(os.fsencode(folder), os.fsencode(here), None, MS_BIND, None), "bind")
    _libc_call(libc.mount(b"tmpfs", os.fsencode(jobs), b"tmpfs",
                          MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, b"size=4k"), "tmpfs")
    os.chdir(here)


def settle_in() -> None:
    """Home, temporary files and matplotlib's cache in the notebook's folder (the one place it
    may write; the server's temporary directory is hidden from it)."""
    import tempfile

    cwd = os.getcwd()
    os.environ.update(HOME=cwd, TMPDIR=cwd, MPLCONFIGDIR=cwd)
    tempfile.tempdir = cwd


def child(request: dict, jobs: Path, here: Path, namespaces: bool) -> int:
    """The forked child of one notebook: isolate it, then run it (as PID 1 of its namespace)."""
    os.setsid()
    folder = jobs / request["id"]
    if not namespaces:
        os.chdir(folder)
        settle_in()
        return run_job(request["job"])
    enter_folder(folder, jobs, here)
    settle_in()
    pid = os.fork()
    if pid == 0:
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os._exit(run_job(request["job"]))
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def serve(jobs: Path, here: Path, namespaces: bool) -> int:
    """Read job lines on stdin, fork a child for each; report ``started``/``exited`` lines."""
    preload()
    lock = threading.Lock()
    children: dict[int, str] = {}

    def say(*words: object) -> None:
        sys.stdout.write(" ".join(map(str, words)) + "\n")
        sys.stdout.flush()

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                time.sleep(0.05)
                continue
            with lock:
                job_id = children.pop(pid, None)
                if job_id is not None:
                    say("exited", job_id, os.waitstatus_to_exitcode(status))

    threading.Thread(target=reap, daemon=True).start()
    with lock:
        say("ready")
    for line in sys.stdin:
        request = json.loads(line)
        with lock:
            pid = os.fork()
            if pid == 0:
                try:
                    code = child(request, jobs, here, namespaces)
                except BaseException:  # noqa: BLE001 - the server must never run on in a child
                    code = 70
                os._exit(code if code >= 0 else 128 - code)
            children[pid] = request["id"]
            say("started", request["id"], pid)
        del request, line
    return 0


if __name__ == "__main__":
    _, jobs_dir, here_dir, use_namespaces = sys.argv
    sys.exit(serve(Path(jobs_dir), Path(here_dir), use_namespaces == "1"))
