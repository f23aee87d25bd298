"""`make preview`: serve the book locally, rebuild what changed on every save, reload the browser.

The server is sphinx-autobuild's (its file watcher ``RebuildServer``, its ``IgnoreFilter`` and the
middleware that injects the reload script into every HTML page, served by starlette and
uvicorn); only the build differs. On every change the book's freshness rule
(``tools/freshness.py``) decides what is executed and re-rendered: a prose edit executes nothing
and re-renders its page, an edit to ``code/mlpbook`` executes every page that imports it. A
prose edit is rendered by a warm Sphinx (``tools/warm_render.py``, a long-lived process that
keeps the book's Sphinx application loaded); anything else (a page to execute, an edit to the
configuration, the table of contents or the extensions) runs the project's full build,
``tools/build.py``, so a failing cell is reported as ``make book`` reports it, and the warm
Sphinx is then started afresh. After each build every open page reloads.

Usage: python tools/serve.py [--port 8000] [--host 127.0.0.1] [--jobs N] [--root DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: What the site is built from: a change under these paths triggers a build.
WATCHED = ("book", "code/mlpbook", "tools/sphinxext", "_config.yml", "_toc.yml", "requirements.txt")
#: Never a reason to build: editor droppings, caches and the build's own output.
IGNORED_RE = (r"/\.#", r"~$", r"\.sw[pox]$", r"/__pycache__/", r"\.egg-info/",
              r"/\.ipynb_checkpoints/")


def say_changed(root: Path, changed_paths: tuple[Path, ...]) -> None:
    """One line naming the files whose change starts a build."""
    if changed_paths:
        names = ", ".join(sorted({str(Path(p).relative_to(root)) for p in changed_paths}))
        print(f"[preview] changed: {names}", flush=True)


class WarmSphinx:
    """``tools/warm_render.py`` on ``root``, started at once (it loads Sphinx in the background)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve().parent / "warm_render.py"),
             "--root", str(root)], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, start_new_session=True)
        self.ready = False

    def wait_ready(self) -> bool:
        """Wait until it has loaded Sphinx and warmed up (its first line); False if it stopped."""
        if not self.ready:
            line = self.proc.stdout.readline()
            self.ready = bool(line) and json.loads(line).get("status") == "ready"
        return self.ready

    def build(self) -> dict:
        """One warm render: ``{"status": "built" | "failed" | "fallback", ...}``."""
        if self.proc.poll() is not None or not self.wait_ready():
            return {"status": "fallback", "reason": "the warm Sphinx is not running"}
        try:
            self.proc.stdin.write("build\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except OSError:
            line = ""
        return json.loads(line) if line else {"status": "fallback",
                                              "reason": "the warm Sphinx stopped"}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()


class Builder:
    """What a change runs: the warm Sphinx when it can render the change, else tools/build.py."""

    def __init__(self, root: Path, jobs: int, warm: bool) -> None:
        self.root, self.jobs, self.warm_wanted = root, jobs, warm
        self.warm = WarmSphinx(root) if warm else None

    def __call__(self, changed_paths: tuple[Path, ...] = ()) -> int:
        say_changed(self.root, changed_paths)
        start = time.perf_counter()
        answer = self.warm.build() if self.warm is not None else None
        if answer is not None and answer["status"] in ("built", "failed"):
            code = answer.get("code", 1)
            outcome = "built (warm Sphinx)" if code == 0 else f"build FAILED (exit {code}; see above)"
            print(f"[preview] {outcome} in {time.perf_counter() - start:.1f}s; reloading the "
                  "browser", flush=True)
            return code
        if answer is not None:
            print(f"[preview] full build: {answer.get('reason', answer)}", flush=True)
        code = rebuild(self.root, self.jobs)
        if self.warm is not None:  # a fresh one: the full build may have changed what it loaded
            self.warm.stop()
            self.warm = WarmSphinx(self.root)
        return code

    def stop(self) -> None:
        if self.warm is not None:
            self.warm.stop()


def rebuild(root: Path, jobs: int, changed_paths: tuple[Path, ...] = ()) -> int:
    """Run the project's build on ``root``; print what changed, the outcome and its time."""
    say_changed(root, changed_paths)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(root / "tools" / "build.py"), "--root", str(root),
                           "--jobs", str(jobs)], cwd=root)
    outcome = ("built" if done.returncode == 0
               else f"build FAILED (exit {done.returncode}; see above)")
    print(f"[preview] {outcome} in {time.perf_counter() - start:.1f}s; reloading the browser",
          flush=True)
    return done.returncode


def watcher_class():
    """sphinx-autobuild's RebuildServer, calling the build in a thread of this process (it
    would fork a worker for each change), so that the warm Sphinx is kept between changes."""
    from sphinx_autobuild.server import RebuildServer

    class Watcher(RebuildServer):
        async def watch(self) -> None:
            import watchfiles

            async for changes in watchfiles.awatch(
                    *self.paths, watch_filter=lambda _, path: not self.ignore(path)):
                changed_paths = tuple(Path(path).resolve() for (_, path) in changes)
                await asyncio.to_thread(self.change_callback, changed_paths=changed_paths)
                self.flag.set()

    return Watcher


def make_app(root: Path, builder, url_host: str):
    """The ASGI app: the built site with the reload script, and the watcher's websocket."""
    from sphinx_autobuild.filter import IgnoreFilter
    from sphinx_autobuild.middleware import JavascriptInjectorMiddleware
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Mount, WebSocketRoute
    from starlette.staticfiles import StaticFiles

    paths = [root / p for p in WATCHED if (root / p).exists()]
    ignore = IgnoreFilter([str(root / "_build")], list(IGNORED_RE))
    watcher = watcher_class()(paths, ignore, change_callback=builder)
    return Starlette(
        routes=[WebSocketRoute("/websocket-reload", watcher, name="reload"),
                Mount("/", app=StaticFiles(directory=root / "_build" / "html", html=True),
                      name="static")],
        middleware=[Middleware(JavascriptInjectorMiddleware, ws_url=url_host)],
        lifespan=watcher.lifespan,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        import uvicorn
    except ImportError:
        sys.exit("make preview needs sphinx-autobuild (pinned in requirements.txt): run make venv")
    print("[preview] first build ...", flush=True)
    if rebuild(root, args.jobs) != 0 and not (root / "_build" / "html" / "index.html").exists():
        return 1
    url_host = f"{args.host}:{args.port}"
    # the warm Sphinx needs a book (a stand-in root with only tools/build.py runs that alone)
    builder = Builder(root, args.jobs, warm=(root / "_config.yml").is_file())
    if builder.warm is not None:
        print("[preview] loading a warm Sphinx for prose edits ...", flush=True)
        builder.warm.wait_ready()
    print(f"[preview] serving http://{url_host}/ ; edit a page and save: it rebuilds and "
          "reloads. Ctrl-C stops.", flush=True)
    try:
        uvicorn.run(make_app(root, builder, url_host), host=args.host, port=args.port,
                    log_level="warning")
    finally:
        builder.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
