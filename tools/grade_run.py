"""Run one notebook like "Run all", then grade it with the book's self-check cells.

``Worker.main``, in the forked child of one submission: import the trusted modules and run the
lab's setup cell from the book; wrap every ``check_*`` so that its verdicts (score, flag, text)
are recorded; snapshot the library (``grade_snapshot``); run the notebook's code cells, each
with a time limit, carrying on after an error, recording which cell bound each name; put back
what the notebook changed in the library (or stop: tampering); then, for each exercise, run
the book's self-check cells on the notebook's names and report the verdicts, and where the
names it grades come from (so that the feedback can name a real cause).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import os
import signal
import sys
import threading
import time
import types
import warnings
from pathlib import Path

from grade_snapshot import Snapshot, code_key, settings_resetter, undo

HERE = Path(__file__).resolve().parent
STARTED = time.perf_counter()
# The packages whose every loaded module and class the tampering snapshot watches.
WATCHED_PACKAGES = ("mlpbook", "torch", "numpy")


class TimeLimit(BaseException):
    """Raised in the main thread when a cell or a self-check runs past its limit."""


class Watchdog:
    """Interrupt the main thread (a real signal, so even ``time.sleep`` wakes) after a limit."""

    def __init__(self) -> None:
        self.active = False
        self.main = threading.main_thread().ident

    def _handler(self, signum, frame) -> None:
        if self.active:
            raise TimeLimit

    @contextlib.contextmanager
    def limit(self, seconds: float):
        done = threading.Event()

        def watch() -> None:
            if done.wait(seconds):
                return
            while not done.is_set():  # again and again: the cell may swallow one
                signal.pthread_kill(self.main, signal.SIGUSR1)
                done.wait(0.5)

        signal.signal(signal.SIGUSR1, self._handler)  # the notebook may have replaced it
        thread = threading.Thread(target=watch, daemon=True)
        self.active = True
        thread.start()
        try:
            yield
        finally:
            self.active = False
            done.set()
            thread.join()


# Magics a notebook uses to show or time things: ``%%time`` and ``%%capture`` run their cell
# and ``%time`` its statement, as in Jupyter; the others here change nothing the checks see and
# are skipped without a word. Any other magic or shell command (installs, ``!ls``) is skipped
# and reported.
RUNS_ITS_CODE = frozenset({"time", "capture"})
QUIET_MAGICS = frozenset({"matplotlib", "config", "load_ext", "reload_ext", "autoreload",
                          "aimport", "timeit", "precision", "pprint", "xmode", "who", "whos",
                          "who_ls", "lsmagic", "magic", "history", "tb", "pdb"})


class Shell:
    """Stands in for IPython's ``get_ipython()``: shell commands and most magics are skipped,
    the magics that time or capture a cell run its code (in ``ns``, the notebook's namespace)."""

    def __init__(self, ns: dict) -> None:
        self.ns = ns
        self.skipped: list[str] = []

    def _run(self, source: str) -> None:
        exec(compile(transform(source), "<magic>", "exec"), self.ns)  # noqa: S102

    def run_line_magic(self, name: str, line: str, *args, **kwargs) -> None:
        if name in RUNS_ITS_CODE:
            return self._run(line)
        if name not in QUIET_MAGICS:
            self.skipped.append(f"%{name} {line}".strip())
        return None

    def run_cell_magic(self, name: str, line: str, cell: str, *args, **kwargs) -> None:
        if name in RUNS_ITS_CODE:
            return self._run(cell)
        if name not in QUIET_MAGICS:
            self.skipped.append(f"%%{name} {line}".strip())
        return None

    def system(self, cmd: str, *args, **kwargs) -> None:
        self.skipped.append(f"!{cmd}")

    getoutput = system

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


def describe(err: BaseException) -> str:
    """One line: the exception's type and the first line of its message."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


class Recorder:
    """Wraps self-checks; records the verdicts of the outermost call (not of nested ones)."""

    def __init__(self, result_type: type) -> None:
        self.result_type = result_type
        self.depth = 0
        self.results: list[dict] = []

    def wrap(self, fn):
        def check(*args, **kwargs):
            self.depth += 1
            try:
                out = fn(*args, **kwargs)
            finally:
                self.depth -= 1
            if self.depth == 0:
                for r in out if isinstance(out, (list, tuple)) else [out]:
                    if type(r) is self.result_type:
                        self.results.append({"name": str(r.name), "passed": r.passed is True,
                                             "score": _score(r), "flag": str(r.flag or ""),
                                             "text": str(r)})
            return out

        check.__name__ = check.__qualname__ = fn.__name__
        check.__doc__ = fn.__doc__
        check.__wrapped__ = fn
        return check


def _score(result: object) -> float:
    """A verdict's points out of 1 (its ``score``: credit per part), read defensively."""
    try:
        value = float(type(result).score.fget(result))
    except Exception:  # noqa: BLE001 - a verdict without a score is all or nothing
        value = 1.0 if getattr(result, "passed", False) is True else 0.0
    return max(0.0, min(1.0, value)) if value == value else 0.0


def transform(source: str) -> str:
    """IPython syntax (``%pip``, ``!ls``) as plain Python calling ``get_ipython()``."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def names_used(sources: list[str]) -> set[str]:
    """Every name a list of cells reads."""
    used = set()
    for src in sources:
        with contextlib.suppress(SyntaxError):
            used |= {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
    return used


def sandbox_facts() -> dict[str, str]:
    """How isolated this process is: network namespace, read-only grader files."""
    import socket

    try:  # the interfaces of this process's network namespace (not /sys, which is the host's)
        interfaces = {name for _, name in socket.if_nameindex()}
    except OSError:
        interfaces = set()
    network = "isolated" if interfaces <= {"lo"} else "guarded in-process"
    probe = HERE / f".probe-{os.getpid()}"
    try:
        probe.write_text("")
        probe.unlink()
        files = "writable (checked by hash after each notebook)"
    except OSError:
        files = "read-only"
    return {"network": network, "files": files}


def warm_up(torch) -> None:
    """Let torch make its lazy changes before the snapshot (the first optimizer step imports
    torch._dynamo, which rebinds torch.manual_seed, and patches each optimizer's step)."""
    p = torch.zeros(1, requires_grad=True)
    for optimizer in (torch.optim.SGD([p], lr=0.1), torch.optim.Adam([p], lr=0.1)):
        optimizer.zero_grad()
        (p * p).sum().backward()
        optimizer.step()
    for cls in vars(torch.optim).values():  # each optimizer class patches its step when first
        if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer):  # constructed
            with contextlib.suppress(Exception):
                cls([torch.zeros(1, requires_grad=True)])


def guard_network() -> None:
    """Without a network namespace: refuse connections in-process (a snapshot watches it)."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("the grader runs notebooks without network")

    for name in ("connect", "connect_ex", "sendto", "sendall", "send"):
        setattr(socket.socket, name, refuse)
    socket.create_connection = refuse
    socket.getaddrinfo = refuse


class Worker:
    """One submission: run its cells, then grade it (see the module docstring)."""

    def __init__(self, job: dict, events: io.TextIOBase) -> None:
        self.job = job
        self.token = job["token"]
        self.events = events
        self.watchdog = Watchdog()

    def emit(self, event: str, **fields) -> None:
        self.events.write(json.dumps({"token": self.token, "event": event, **fields}) + "\n")
        self.events.flush()

    def run_cell(self, source: str, ns: dict, name: str, seconds: float) -> str | None:
        """Execute one cell in ``ns``; return what went wrong, or None."""
        try:
            code = compile(transform(source), name, "exec")
        except SyntaxError as err:
            return f"SyntaxError: {err.msg} (line {err.lineno})"
        except Exception as err:  # noqa: BLE001 - IPython could not read it either
            return describe(err)
        try:
            with self.watchdog.limit(seconds):
                exec(code, ns)  # noqa: S102 - running the notebook is the point
        except TimeLimit:
            return (f"stopped at the time limit of {seconds:g} s per cell (an endless loop, or "
                    "work too slow for that limit)")
        except BaseException as err:  # noqa: BLE001 - SystemExit and KeyboardInterrupt too
            return describe(err)
        finally:
            import matplotlib.pyplot as plt

            plt.close("all")
        return None

    def main(self) -> None:
        job = self.job
        facts = sandbox_facts()
        if facts["network"] != "isolated":
            guard_network()
        import matplotlib

        matplotlib.use("Agg")
        import numpy
        import torch

        import mlpbook.checks

        torch.set_num_threads(1)
        reset = settings_resetter(torch, numpy)
        setup_ns: dict = {"__name__": "__main__", "__builtins__": builtins}
        for i, src in enumerate(job["setup"]):
            error = self.run_cell(src, setup_ns, f"<book setup {i}>", job["cell_limit"])
            if error:
                raise RuntimeError(f"the book's setup cell failed: {error}")
        originals = {k: v for k, v in setup_ns.items() if k.startswith("check_")}
        recorder = Recorder(mlpbook.checks.CheckResult)
        for name, fn in originals.items():
            setup_ns[name] = recorder.wrap(fn)
        import mlpbook.engine
        import mlpbook.train

        warm_up(torch)

        # Every loaded module of the packages the checks run on, and every class they define:
        # the checks call far more of torch than its top level (nn.Sequential.forward,
        # torch.optim.sgd.sgd, ...), and a changed one can make a wrong answer pass.
        watched = sorted(n for n, m in sys.modules.items() if isinstance(m, types.ModuleType)
                         and n.split(".")[0] in WATCHED_PACKAGES)
        watched += ["builtins", "math", "copy", "functools", "numbers", "contextlib", "__main__",
                    "grade_run", "grade_snapshot"]
        if facts["network"] != "isolated":
            watched.append("socket")
        with warnings.catch_warnings():  # reading deprecated module attributes warns
            warnings.simplefilter("ignore")
            classes = list({id(v): v for n in watched if n in sys.modules
                            for v in list(vars(sys.modules[n]).values()) if isinstance(v, type)
                            and (v.__module__ or "").split(".")[0] in WATCHED_PACKAGES
                            }.values())
            if "socket" in watched:  # the in-process network guard patches this class
                classes.append(sys.modules["socket"].socket)
            snapshot = Snapshot(watched, classes)
        self.emit("sandbox", **facts)

        # 3. The notebook, like Run all (but carrying on after an error).
        self.timing = {"startup": round(time.perf_counter() - STARTED, 2)}
        started = time.perf_counter()
        ns: dict = {"__name__": "__main__", "__builtins__": builtins,
                    "display": lambda *a, **k: None}
        shell = Shell(ns)
        ns["get_ipython"] = lambda: shell
        bound_by: dict[str, int] = {}  # name -> the cell that last bound it
        for i, src in enumerate(job["cells"]):
            self.emit("cell", index=i)
            start = time.perf_counter()
            before = {k: id(v) for k, v in ns.items()}
            error = self.run_cell(src, ns, f"<cell {i + 1}>", job["cell_limit"])
            bound_by.update({k: i for k, v in ns.items() if before.get(k) != id(v)})
            if error:
                self.emit("cell-error", index=i, error=error,
                          seconds=round(time.perf_counter() - start, 2))
        if shell.skipped:
            self.emit("skipped", commands=shell.skipped[:20])

        self.timing["notebook"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        # 4. What the notebook changed in the library is put back, so that the checks run on
        # the pristine library; a change to the checks themselves, or one that cannot be put
        # back, means nothing is graded.
        reset()
        restored, tampered, why = undo(snapshot)
        if tampered:
            self.emit("tampered", phase="notebook", changes=tampered[:20], why=why)
            return
        if restored:
            self.emit("restored", phase="notebook", changes=restored[:20])
        rebound = sorted(k for k, fn in originals.items() if k in ns and ns[k] is not fn)
        if "CheckResult" in ns and ns["CheckResult"] is not mlpbook.checks.CheckResult:
            rebound.append("CheckResult")

        # 5. Each exercise, with the book's cells, on the notebook's names.
        grading = {k: v for k, v in ns.items() if not (k.startswith("__") and k.endswith("__"))}
        grading.update(setup_ns)
        grading["__builtins__"] = builtins
        for exercise in job["exercises"]:
            label, cells = exercise["label"], exercise["cells"]
            recorder.results = []
            output, error = io.StringIO(), None
            for i, src in enumerate(cells):
                before = dict(grading)
                with contextlib.redirect_stdout(output):
                    error = self.run_cell(src, grading, f"<{label} check {i + 1}>",
                                          job["check_limit"])
                for name, fn in list(grading.items()):  # the book's own checks, defined here
                    if before.get(name) is fn:
                        continue
                    if name.startswith("check_") and isinstance(fn, types.FunctionType):
                        if name in ns and not (isinstance(ns[name], types.FunctionType) and
                                               code_key(ns[name].__code__) ==
                                               code_key(fn.__code__)):
                            rebound.append(name)
                        grading[name] = recorder.wrap(fn)
                if error:
                    break
            used = names_used(cells)
            # The notebook's code, called by the checks, changed the library while they ran:
            # their verdict on this exercise cannot be trusted, the next ones run on the
            # library put back.
            reset()
            restored, tampered, why = undo(snapshot)
            names = {n: {"defined": n in ns, "cell": bound_by.get(n),
                         "similar": similar_names(n, ns, bound_by)}
                     for n in exercise.get("names", [])}
            self.emit("exercise", label=label, checks=recorder.results, error=error, names=names,
                      output=output.getvalue()[-4000:],
                      rebound=sorted(set(rebound) & used), tampered=tampered[:20], why=why,
                      restored=restored[:20])
            if tampered:
                return
        self.timing["grading"] = round(time.perf_counter() - started, 2)




def similar_names(name: str, ns: dict, bound_by: dict[str, int]) -> dict[str, int | None]:
    """Other names the notebook bound that look like ``name`` (``train_loop_fixed``,
    ``my_tanh``), with the cell that bound each: a renamed or second version of it."""
    if len(name) < 4:
        return {}
    found = {}
    for other in ns:
        if other == name or other.startswith("__") or other not in bound_by:
            continue
        if name in other or (len(other) >= 4 and other in name):
            found[other] = bound_by[other]
    return dict(sorted(found.items())[:5])
