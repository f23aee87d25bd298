"""Run one lab notebook a student handed in, then grade it with the book's own self-checks.

The child process of ``tools/grade.py``, one per submission, started in its own temporary
folder with no network and, where Linux namespaces allow it, a read-only file system. It reads a
job (JSON) on stdin and appends events (JSON lines carrying the job's token) to
``events.jsonl`` in its folder. In order:

1. import the trusted modules from the grader's private copy and run the lab's setup cell, taken
   from ``book/lab.md`` (never from the notebook); wrap every ``check_*`` so that the verdicts a
   self-check cell returns are recorded;
2. snapshot every module, class and builtin the checks rely on;
3. run the notebook's code cells like "Run all", each with a time limit, carrying on after
   an error;
4. put back every watched attribute the notebook changed (``Value.tanh = tanh`` is no crime:
   the checks then run on the pristine library, on the student's own code); if it changed the
   checks themselves (``PROTECTED``) or something that cannot be put back, nothing is graded;
5. for each exercise, run the book's self-check cells (and the given code they use) on the
   names the notebook defined, with a time limit; re-check the snapshot after each exercise
   (a change made while the checks ran voids that exercise's verdict, and is put back).

Nothing here trusts the notebook's objects beyond calling them: a check name the notebook
rebinds is reported, and the book's copy is what grades.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import os
import resource
import signal
import sys
import threading
import time
import types
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
STARTED = time.perf_counter()
BUILTIN_NAMES = frozenset(vars(builtins))
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


def code_key(code: types.CodeType) -> tuple:
    """What a function computes, without line numbers: equal for the same source."""
    consts = tuple(code_key(c) if isinstance(c, types.CodeType) else repr(c)
                   for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames)


class Change:
    """One watched attribute that differs from the snapshot: ``owner.key`` and how."""

    __slots__ = ("owner", "key", "how")

    def __init__(self, owner: str, key: str | None, how: str) -> None:
        self.owner, self.key, self.how = owner, key, how

    def __str__(self) -> str:
        if self.key is None:
            return f"sys.modules[{self.owner!r}] was {self.how}"
        return f"{self.owner}.{self.key} was {self.how}"


PLAIN_VALUES = frozenset({str, bytes, int, float, bool, type(None)})

# Changes here target the self-checks or the grader itself (the checks' own namespace and
# classes, the grader's module, the network guard): never undone, always a zero.
PROTECTED = ("mlpbook.checks", "__main__", "socket")


class Snapshot:
    """The identity of every attribute of the modules and classes the checks rely on, and the
    originals, so that what a notebook changed can be put back (``restore``)."""

    def __init__(self, modules: list[str], classes: list[type]) -> None:
        self.functions: dict[int, tuple] = {}  # id -> (function, key, code, defaults, kw, items)
        self.modules = {name: (sys.modules[name], *self._state(vars(sys.modules[name])))
                        for name in modules if name in sys.modules}
        # and what each class inherits: `torch.Tensor.max = ...` shadows TensorBase.max
        self.classes = {f"{c.__module__}.{c.__qualname__}": (c, *self._state(vars(c)),
                                                             frozenset(dir(c)))
                        for c in classes}

    @staticmethod
    def _key(value: object) -> tuple:
        if type(value) in PLAIN_VALUES:  # an equal string or number is the same (a reload)
            return (type(value), value)
        if isinstance(value, types.FunctionType):
            # __kwdefaults__ is a dict: changed in place (a check's atol), its id stays
            kwdefaults = value.__kwdefaults__
            return (id(value), id(value.__code__), id(value.__defaults__), id(kwdefaults),
                    tuple((k, id(v)) for k, v in kwdefaults.items()) if kwdefaults else ())
        return (id(value),)

    def _state(self, namespace) -> tuple[dict[str, tuple], dict[str, object]]:
        values = dict(namespace)
        for v in values.values():
            if isinstance(v, types.FunctionType) and id(v) not in self.functions:
                kw = v.__kwdefaults__
                self.functions[id(v)] = (v, self._key(v), v.__code__, v.__defaults__, kw,
                                         dict(kw) if kw else None)
        return {k: self._key(v) for k, v in values.items()}, values

    def changes_quietly(self) -> list[Change]:
        """``changes()``, without the warnings that reading deprecated attributes gives."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.changes()

    def changes(self) -> list[Change]:
        """What changed since the snapshot (empty when nothing did)."""
        found = []
        for name, (module, state, _) in self.modules.items():
            # IPython replaces sys.modules["__main__"] when it starts (myst_nb.glue starts it);
            # this module's own namespace, still checked below, is what the grader runs in.
            if sys.modules.get(name) is not module and name != "__main__":
                found.append(Change(name, None, "replaced"))
            found += self._diff(name, dict(vars(module)), state, added=BUILTIN_NAMES)
        for name, (cls, state, _, inherited) in self.classes.items():
            found += self._diff(name, dict(vars(cls)), state, added=inherited, dunders=True)
        return found

    def _diff(self, owner: str, now: dict, state: dict, added: frozenset[str],
              dunders: bool = False) -> list[Change]:
        found = [Change(owner, k, "deleted" if k not in now else "replaced")
                 for k, key in state.items() if k not in now or self._key(now[k]) != key]
        for k in now.keys() - state.keys():
            if k in added or (dunders and k.startswith("__") and k.endswith("__")):
                found.append(Change(owner, k, "added"))
        return found

    def protected(self, change: Change) -> bool:
        """Whether a change targets the self-checks or the grader (see ``PROTECTED``): their
        module or classes, or a function of theirs that another namespace also holds."""
        if change.owner in PROTECTED or change.owner.startswith(tuple(p + "." for p in PROTECTED)):
            return True
        entry = self.modules.get(change.owner) or self.classes.get(change.owner)
        original = entry[2].get(change.key) if entry and change.key is not None else None
        return getattr(original, "__module__", None) in PROTECTED

    def restore(self) -> list[Change]:
        """Put every changed attribute back as it was; return the changes that remain."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for fn, key, code, defaults, kw, items in self.functions.values():
                if self._key(fn) == key:
                    continue
                with contextlib.suppress(Exception):
                    fn.__code__, fn.__defaults__ = code, defaults
                    if kw is not None:
                        kw.clear()
                        kw.update(items)
                    fn.__kwdefaults__ = kw
            for change in self.changes():
                with contextlib.suppress(Exception):
                    self._put_back(change)
        return self.changes_quietly()

    def _put_back(self, change: Change) -> None:
        if change.owner in self.modules:
            module, _, values = self.modules[change.owner]
            if change.key is None:
                sys.modules[change.owner] = module
            elif change.how == "added":
                del vars(module)[change.key]
            else:
                vars(module)[change.key] = values[change.key]
        else:
            cls, _, values, _ = self.classes[change.owner]
            if change.how == "added":
                type.__delattr__(cls, change.key)
            else:
                type.__setattr__(cls, change.key, values[change.key])


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
                                             "text": str(r)})
            return out

        check.__name__ = check.__qualname__ = fn.__name__
        check.__doc__ = fn.__doc__
        check.__wrapped__ = fn
        return check


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


def settings_resetter(torch, numpy):
    """A function that puts back the global settings the checks run with (bound now, before
    the notebook can replace the functions it calls). ``torch.set_default_dtype`` also rebinds
    ``torch.Storage``: a notebook that works in float64 changed no library code."""
    set_dtype, set_grad, seterr, float32 = (torch.set_default_dtype, torch.set_grad_enabled,
                                            numpy.seterr, torch.float32)

    def reset() -> None:
        set_dtype(float32)
        set_grad(True)
        seterr(all="warn")

    return reset


def undo(snapshot: Snapshot) -> tuple[list[str], list[str], str | None]:
    """What the notebook changed in the watched modules and classes: ``(restored, tampered,
    why)``. Changes are put back, so that the checks run on the pristine library, unless one
    targets the checks or the grader (``PROTECTED``: then nothing is put back, ``why`` is
    "checks") or some cannot be put back (``why`` is "irreversible")."""
    changes = snapshot.changes_quietly()
    if not changes:
        return [], [], None
    fatal = [c for c in changes if snapshot.protected(c)]
    if fatal:
        return [], [str(c) for c in fatal + [c for c in changes if c not in fatal]], "checks"
    left = snapshot.restore()
    if left:
        return [], [str(c) for c in left], "irreversible"
    return [str(c) for c in changes], [], None


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
            return f"stopped at the time limit of {seconds:g} s (an endless loop?)"
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
        watched += ["builtins", "math", "copy", "functools", "numbers", "contextlib", "__main__"]
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
        for i, src in enumerate(job["cells"]):
            self.emit("cell", index=i)
            start = time.perf_counter()
            error = self.run_cell(src, ns, f"<cell {i + 1}>", job["cell_limit"])
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
            self.emit("exercise", label=label, checks=recorder.results, error=error,
                      output=output.getvalue()[-4000:],
                      rebound=sorted(set(rebound) & used), tampered=tampered[:20], why=why,
                      restored=restored[:20])
            if tampered:
                return
        self.timing["grading"] = round(time.perf_counter() - started, 2)


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
    sys.path.insert(0, str(HERE))
    _, jobs_dir, here_dir, use_namespaces = sys.argv
    sys.exit(serve(Path(jobs_dir), Path(here_dir), use_namespaces == "1"))
