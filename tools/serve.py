"""`make preview`: serve the book locally, rebuild what changed on every save, reload the browser.

The server is sphinx-autobuild's (its file watcher ``RebuildServer``, its ``IgnoreFilter`` and the
middleware that injects the reload script into every HTML page, served by starlette and
uvicorn); only the build differs: on every change it runs the project's own build,
``tools/build.py``, so the book's freshness rule decides what is executed and re-rendered (a
prose edit executes that page, an edit to ``code/mlpbook`` every page that imports it) and a
failing cell is reported as ``make book`` reports it. After each build every open page reloads.

Usage: python tools/serve.py [--port 8000] [--host 127.0.0.1] [--jobs N] [--root DIR]
"""

from __future__ import annotations

import argparse
import functools
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


def rebuild(root: Path, jobs: int, changed_paths: tuple[Path, ...] = ()) -> int:
    """Run the project's build on ``root``; print what changed, the outcome and its time."""
    if changed_paths:
        names = ", ".join(sorted({str(Path(p).relative_to(root)) for p in changed_paths}))
        print(f"[preview] changed: {names}", flush=True)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(root / "tools" / "build.py"), "--root", str(root),
                           "--jobs", str(jobs)], cwd=root)
    outcome = ("built" if done.returncode == 0
               else f"build FAILED (exit {done.returncode}; see above)")
    print(f"[preview] {outcome} in {time.perf_counter() - start:.1f}s; reloading the browser",
          flush=True)
    return done.returncode


def make_app(root: Path, jobs: int, url_host: str):
    """The ASGI app: the built site with the reload script, and the watcher's websocket."""
    from sphinx_autobuild.filter import IgnoreFilter
    from sphinx_autobuild.middleware import JavascriptInjectorMiddleware
    from sphinx_autobuild.server import RebuildServer
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Mount, WebSocketRoute
    from starlette.staticfiles import StaticFiles

    paths = [root / p for p in WATCHED if (root / p).exists()]
    ignore = IgnoreFilter([str(root / "_build")], list(IGNORED_RE))
    # picklable (sphinx-autobuild runs the callback in a worker process)
    watcher = RebuildServer(paths, ignore, change_callback=functools.partial(rebuild, root, jobs))
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
    print(f"[preview] serving http://{url_host}/ ; edit a page and save: it rebuilds and "
          "reloads. Ctrl-C stops.", flush=True)
    uvicorn.run(make_app(root, args.jobs, url_host), host=args.host, port=args.port,
                log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
