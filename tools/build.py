"""Build the book: execute stale pages in parallel, then render with Jupyter Book.

Why not plain ``jupyter-book build`` with ``execute_notebooks: cache``? jupyter-cache keys a page
only on its own code cells (myst-nb #299), so an edit to ``code/mlpbook`` would be served from a
stale cache, and it executes pages one at a time. Here ``freshness.py`` decides which pages to
execute (their inputs changed, or the cache cannot serve them) and which to re-render (what was
last rendered differs from their inputs and cached outputs); the pages run on all cores, each
cell within ``execute.timeout`` of ``_config.yml``; every failing page is reported at the end; and
Sphinx then renders from the (now fresh) cache.

One build at a time per folder (a lock in ``_build/``); Ctrl-C stops it cleanly.

Usage: python tools/build.py [--root DIR] [--jobs N] [--execute-only] [--force] [--only DOCNAME]
                             [--no-wait]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
import freshness  # noqa: E402
from freshness import read_notebook  # noqa: E402,F401  (re-exported for the tests)
from pages import REPORT, Page, book_pages, jupyter_book  # noqa: E402

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The outermost frame of an IPython traceback is the cell itself: "Cell In[3], line 5".
CELL_FRAME = re.compile(r"Cell In\[\d+\], line (\d+)")
LOCK = Path("_build") / "build.lock"
KERNEL_ENV = {
    # Two pages run at once on two cores: one thread each is faster and deterministic.
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
}
# Set in every kernel's environment: which build started it (the tests look for leftovers).
KERNEL_MARK = "MLPBOOK_BUILD_ROOT"
# After a cell's time limit: how long the interrupted kernel gets to report where it was.
INTERRUPT_GRACE = 2.0
KERNEL_START_TIMEOUT = 120
# Process groups of the kernels running now, killed whatever way the build ends.
RUNNING_KERNELS: set[int] = set()


@dataclass
class Result:
    """The outcome of executing one page."""

    docname: str
    ok: bool
    seconds: float
    cell: int | None = None
    line: int | None = None
    source: str = ""
    error: str = ""
    traceback: str = ""
    message: str = ""
    output: str = ""
    notebook: dict = field(default_factory=dict, repr=False)


class CellTimeout(Exception):
    """A cell ran past ``execute.timeout``; ``traceback`` is where the interrupt found it."""

    def __init__(self, limit: float, traceback: str):
        super().__init__(limit)
        self.limit, self.traceback = limit, traceback


def say(line: str) -> None:
    print(f"[build] {line}", flush=True)


def config_timeout(root: Path) -> float:
    """``execute.timeout`` from ``_config.yml``: seconds each cell may run (a positive number)."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    value = (config.get("execute") or {}).get("timeout")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise SystemExit(f"[build] _config.yml: execute.timeout must be a positive number of "
                         f"seconds per cell (the build never waits forever), got {value!r}")
    return float(value)


# --- one page ----------------------------------------------------------------------------------


def kill_kernel(pgid: int) -> None:
    """Kill a kernel and everything it started (its process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    RUNNING_KERNELS.discard(pgid)


def md_line(page: Page, nb, index: int, line_in_cell: int | None) -> int | None:
    """The 1-based line of the ``.md`` file holding line ``line_in_cell`` of code cell ``index``.

    myst-nb's source map gives the line after the cell's opening fence; options (``:tags:``, a
    ``---`` block) and blank lines may come before the code, so the code is looked up there.
    """
    source_map = nb.metadata.get("source_map", [])
    if index >= len(source_map):
        return None
    lines = page.path.read_text(encoding="utf-8").splitlines()
    code = nb.cells[index].source.splitlines()
    start = source_map[index]
    for first in range(start, min(len(lines), start + 200)):
        if lines[first:first + len(code)] == code:
            start = first
            break
    return start + (line_in_cell or 1)


def cell_traceback(cell, exc: Exception) -> str:
    """The IPython traceback of a failed cell, without colours."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        return ANSI.sub("", "\n".join(errors[-1].get("traceback", [])))
    # nbclient's message repeats the cell source and output between rules before the traceback
    return ANSI.sub("", str(exc)).split("------------------\n")[-1]


def output_tail(cell, lines: int = 10) -> str:
    """The last lines the cell printed, for the failure report."""
    text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream")
    return "\n".join(ANSI.sub("", text).rstrip().splitlines()[-lines:])


async def run_cell(client, km, cell, index: int, timeout: float) -> None:
    """Execute one cell; past ``timeout`` interrupt it, note where it was, kill its kernel."""
    from nbclient.exceptions import CellExecutionError

    task = asyncio.ensure_future(client.async_execute_cell(cell, index))
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        task.result()  # raises CellExecutionError when the cell failed
        return
    where = ""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(km.interrupt_kernel(), INTERRUPT_GRACE)
        done, _ = await asyncio.wait({task}, timeout=INTERRUPT_GRACE)
        if task in done and isinstance(task.exception(), CellExecutionError):
            where = cell_traceback(cell, task.exception())
    task.cancel()
    kill_kernel(km.provisioner.pgid)
    raise CellTimeout(timeout, where)


async def execute_page(root: Path, page: Page, timeout: float) -> Result:
    """Execute one page top to bottom in a fresh kernel; stop at the first failing cell.

    The kernel imports ``mlpbook`` from ``root/code``, so a build of any copy of the repository
    (a test's, a mutant's) runs that copy's package, not the one installed in .venv. Whatever
    happens (success, failure, time-out, Ctrl-C), the kernel's process group is killed on return.
    """
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    env = {**os.environ, **KERNEL_ENV, KERNEL_MARK: str(root),
           "PYTHONPATH": os.pathsep.join([str(root / "code")] + [
               p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    pristine = read_notebook(page.path)
    nb = copy.deepcopy(pristine)
    start = time.perf_counter()
    index = None
    # IPC transport: local sockets in a private directory (removed afterwards), and no "running
    # over TCP without encryption" warning. The kernel's own log would interleave across
    # parallel pages, so it goes nowhere; cell output is what the page shows.
    with tempfile.TemporaryDirectory(prefix="mlpbook-kernel-") as sockets:
        km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=f"{sockets}/kernel",
                                connection_file=f"{sockets}/kernel.json")
        kc = None
        try:
            await km.start_kernel(env=env, cwd=str(page.path.parent), stderr=subprocess.DEVNULL,
                                  extra_arguments=["--HistoryManager.hist_file=:memory:"])
            RUNNING_KERNELS.add(km.provisioner.pgid)
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
            # Output that arrives after a cell's reply is waited for (nbclient's iopub_timeout):
            # up to 30 s on a loaded machine, rather than silently dropped after 4.
            client = NotebookClient(nb, km=km, timeout=None, kernel_name="python3",
                                    record_timing=False, iopub_timeout=min(timeout, 30),
                                    resources={"metadata": {"path": str(page.path.parent)}})
            client.kc = kc
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    await run_cell(client, km, cell, index, timeout)
        except CellTimeout as exc:
            frame = CELL_FRAME.search(exc.traceback)
            line = md_line(page, nb, index, int(frame.group(1)) if frame else None)
            limit = f"{exc.limit:g} s"
            return Result(page.docname, False, time.perf_counter() - start, index, line,
                          nb.cells[index].source, "CellTimeoutError", exc.traceback,
                          f"cell {index} ({page.docname}.md:{line}) was still running after the "
                          f"{limit} limit (execute.timeout in _config.yml): stopped, its kernel "
                          "killed", output_tail(nb.cells[index]))
        except CellExecutionError as exc:
            text = cell_traceback(nb.cells[index], exc)
            frame = CELL_FRAME.search(text)
            line = md_line(page, nb, index, int(frame.group(1)) if frame else None)
            last = text.strip().splitlines()[-1] if text.strip() else ""
            return Result(page.docname, False, time.perf_counter() - start, index, line,
                          nb.cells[index].source, exc.ename or type(exc).__name__, text, last,
                          output_tail(nb.cells[index]))
        except Exception as exc:  # kernel died, bad notebook: still a failure of this page
            cell = nb.cells[index] if index is not None else None
            return Result(page.docname, False, time.perf_counter() - start, index,
                          md_line(page, nb, index, None) if cell else None,
                          cell.source if cell else "", type(exc).__name__,
                          ANSI.sub("", repr(exc)), ANSI.sub("", str(exc)),
                          output_tail(cell) if cell else "")
        finally:
            if km.provisioner is not None:
                kill_kernel(km.provisioner.pgid)
            if kc is not None:
                kc.stop_channels()
            with contextlib.suppress(Exception):
                await km.shutdown_kernel(now=True)  # reaps the process, removes its files
    seconds = time.perf_counter() - start
    # jupyter-cache hashes code sources, cell metadata and the kernelspec, and nbclient rewrites
    # the latter two: cache the page as read, with only the outputs added.
    for cell, ran in zip(pristine.cells, nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
    pristine.metadata.pop("source_map", None)
    return Result(page.docname, True, seconds, notebook=pristine)


# --- every stale page --------------------------------------------------------------------------


def format_failure(root: Path, page: Page, r: Result) -> str:
    """A readable report of one failing page: where, which cell, its source and the traceback."""
    where = f"{page.path.relative_to(root)}" + (f":{r.line}" if r.line else "")
    cell = f"cell {r.cell}" if r.cell is not None else "kernel"
    bar = "=" * 78
    src = "\n".join("    " + ln for ln in r.source.splitlines()) or "    (no source)"
    tb = r.traceback.strip() or "(none)"
    head = f"{bar}\nFAILED {where} ({cell}) after {r.seconds:.1f}s: {r.error}\n"
    if r.error == "CellTimeoutError":
        head += f"{r.message}\n"
    out = (f"--- last lines it printed ---\n{r.output}\n" if r.output else "")
    return f"{head}--- cell source ---\n{src}\n{out}--- traceback ---\n{tb}\n"


async def execute_all(root: Path, todo: list[tuple[Page, str, str]], jobs: int, timeout: float,
                      cache, stamps: freshness.Stamps, results: dict[str, Result]) -> None:
    """Execute pages, ``jobs`` at a time, longest first; cache and stamp each as it succeeds.

    ``results`` receives each page's result as it finishes (all of them, unless interrupted).
    """
    slots = asyncio.Semaphore(max(1, jobs))

    async def one(page: Page, digest: str) -> None:
        async with slots:
            r = await execute_page(root, page, timeout)
        results[page.docname] = r
        if r.ok:
            freshness.store_outputs(cache, stamps, page, r.notebook, digest, r.seconds)
        else:
            freshness.forget(stamps, page)
        say(f"{'ok' if r.ok else 'FAILED'} {page.docname}.md ({r.seconds:.1f}s)")

    order = sorted(todo, key=lambda t: -stamps.get(t[0].docname).get("seconds", 0.0))
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
    tasks = [asyncio.ensure_future(one(page, digest)) for page, digest, _ in order]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def execute(root: Path, jobs: int, force: bool = False, only: set[str] | None = None,
            repaired: list[str] | None = None,
            finished: dict[str, Result] | None = None) -> tuple[list[Result], list[Page]]:
    """Execute every stale page (of ``only``, if given) in parallel; cache the good ones.

    Returns the results and the pages they belong to, in book order. Repairs of the cache and
    stamps are said and appended to ``repaired``; ``finished`` receives each result as it comes
    (what an interrupted build did).
    """
    notes = repaired if repaired is not None else []
    finished = finished if finished is not None else {}

    def repair(line: str) -> None:
        notes.append(line)
        say(f"repaired: {line}")

    timeout = config_timeout(root)
    stamps = freshness.Stamps.load(root, repair)
    cache = freshness.open_cache(root, repair)
    todo = freshness.to_execute(root, cache, stamps, force=force, only=only, say=repair)
    if not todo:
        return [], []
    asyncio.run(execute_all(root, todo, jobs, timeout, cache, stamps, finished))
    pages = [p for p, _, _ in todo]
    return [finished[p.docname] for p in pages], pages


# --- the report, the render, the lock ------------------------------------------------------------


def write_report(root: Path, results: list[Result], wall: float, **extra) -> None:
    """Record what this build executed and what failed, for the benchmark, mutation testing and
    the tests (schema: ``pages.read_report``; ``extra`` adds fields)."""
    report = {
        "executed": [r.docname for r in results],
        "failures": [
            {"page": r.docname, "path": f"{r.docname}.md", "line": r.line, "cell": r.cell,
             "error": r.error, "message": r.message, "traceback": r.traceback,
             "output": r.output}
            for r in results if not r.ok
        ],
        "seconds": {r.docname: round(r.seconds, 3) for r in results},
        "execute_wall_seconds": round(wall, 3),
        **extra,
    }
    freshness.write_atomic(root / REPORT, json.dumps(report, indent=1))


def render(root: Path) -> tuple[int, freshness.RenderPlan]:
    """Render the site with Jupyter Book; warnings are errors, all of them reported.

    Every page was executed beforehand, so myst-nb must find all outputs in the cache. A page
    that Sphinx executes itself would run serially and uncounted: that is reported as a failure.
    What is re-read is decided by ``freshness.render_plan``, and recorded only on success.
    """
    plan = freshness.render_plan(root, lambda line: say(f"repaired: {line}"))
    args = ["-W", "-n", "--keep-going"] + (["--all"] if plan.everything else [])
    if plan.everything:
        say(f"rendering every page ({plan.reason})")
    else:
        say(f"rendering; re-reading {len(plan.reread)} page(s) whose inputs or outputs changed"
            + (f": {', '.join(plan.reread)}" if plan.reread else ""))
    freshness.begin_render(root)
    inside = []

    def echo(line: str) -> None:
        sys.stdout.write(line)
        if "Executed notebook in" in line:
            inside.append(line.split(":")[0])

    env = {**os.environ, freshness.REREAD_ENV: json.dumps(plan.reread)}
    code = jupyter_book(root, *args, env=env, echo=echo).returncode
    sys.stdout.flush()
    if inside:
        print(f"[build] FAILED: Sphinx executed {len(inside)} page(s) itself ({', '.join(inside)}): "
              "their outputs were not in the cache the pre-executor filled", file=sys.stderr)
        return code or 1, plan
    if code == 0:
        freshness.finish_render(root, plan)
    return code, plan


@contextlib.contextmanager
def build_lock(root: Path, wait: bool = True) -> Iterator[None]:
    """One build of a folder at a time. The lock is an flock on ``_build/build.lock``: the system
    drops it when its holder ends, however it ends, so a killed build never leaves it behind."""
    path = root / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text(encoding="utf-8", errors="replace").strip() or "unknown"
            if not wait:
                raise SystemExit(f"[build] another build of {root} is running ({holder}); "
                                 "not starting a second one (--no-wait)") from None
            say(f"another build of this folder is running ({holder}); waiting for it to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
            say("the other build finished; carrying on with what it left to do")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {time.strftime('%H:%M:%S')}".encode(), 0)
        yield
    finally:
        os.close(fd)


def build(root: Path, args: argparse.Namespace, only: set[str] | None) -> int:
    start = time.perf_counter()
    repaired: list[str] = []
    finished: dict[str, Result] = {}
    try:
        results, todo = execute(root, args.jobs, args.force, only=only, repaired=repaired,
                                finished=finished)
    except KeyboardInterrupt:
        write_report(root, list(finished.values()), time.perf_counter() - start,
                     repaired=repaired, interrupted=True, rendered=None)
        raise
    wall = time.perf_counter() - start
    failed = [(p, r) for p, r in zip(todo, results) if not r.ok]
    write_report(root, results, wall, repaired=repaired, interrupted=False, rendered=None)
    print(f"[build] executed {len(results)} page(s) in {wall:.1f}s on {args.jobs} worker(s); "
          f"{len(failed)} failed", flush=True)
    if failed:
        print("\n".join(format_failure(root, p, r) for p, r in failed), file=sys.stderr)
        names = ", ".join(str(p.path.relative_to(root)) for p, _ in failed)
        print(f"[build] FAILED: {len(failed)} page(s) failed to execute: {names}", file=sys.stderr)
        return 1
    if args.execute_only:
        return 0
    try:
        code, plan = render(root)
    except KeyboardInterrupt:
        write_report(root, results, wall, repaired=repaired, interrupted=True,
                     rendered={"everything": None, "reread": None, "succeeded": False})
        raise
    write_report(root, results, wall, repaired=repaired, interrupted=False,
                 rendered={"everything": plan.everything, "reread": plan.reread,
                           "succeeded": code == 0})
    if code != 0:
        print(f"[build] FAILED: Sphinx exited with {code} (warnings are errors; see above)",
              file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--execute-only", action="store_true", help="execute, do not render")
    parser.add_argument("--force", action="store_true", help="re-execute every page")
    parser.add_argument("--only", action="append", metavar="DOCNAME",
                        help="with --execute-only: execute only this page, e.g. book/backprop "
                             "(repeatable)")
    parser.add_argument("--no-wait", action="store_true",
                        help="if another build of this folder is running, stop instead of waiting")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    only = set(args.only) if args.only else None
    if only and not args.execute_only:
        parser.error("--only needs --execute-only (the render needs every page executed)")
    if only and only - {p.docname for p in book_pages(root)}:
        parser.error(f"--only: not a page: {sorted(only - {p.docname for p in book_pages(root)})}")
    # A termination request (CI cancelling a job, `timeout`) stops the build as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda signum, frame: signal.raise_signal(signal.SIGINT))
    try:
        with build_lock(root, wait=not args.no_wait):
            return build(root, args, only)
    except KeyboardInterrupt:
        for pgid in list(RUNNING_KERNELS):
            kill_kernel(pgid)
        print("[build] interrupted: every kernel it started is stopped and nothing is "
              "half-written; the next build carries on from here", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
