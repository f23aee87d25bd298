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
import fcntl
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
import freshness  # noqa: E402
from freshness import read_notebook  # noqa: E402,F401  (re-exported for the tests)
from pages import REPORT, Page, book_pages, jupyter_book  # noqa: E402
from run_page import RUNNING_KERNELS, Result, execute_page, kill_kernel  # noqa: E402

LOCK = Path("_build") / "build.lock"


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
    # Ctrl-C raises KeyboardInterrupt even where the build was started with SIGINT ignored (a
    # shell script's background job: `make test &`), and a termination request (CI cancelling
    # a job, `timeout`) stops the build as Ctrl-C does.
    signal.signal(signal.SIGINT, signal.default_int_handler)
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
