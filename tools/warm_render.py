"""A warm Sphinx for `make preview`: re-render a prose edit without starting Sphinx again.

``tools/serve.py`` starts this module as a long-lived process beside its server. It loads the
book's Sphinx application once (as ``jupyter-book build ROOT -W -n --keep-going`` would: the
configuration from ``_config.yml`` and ``_toc.yml`` through jupyter-book, warnings as errors),
builds once to warm up (whatever is stale, usually nothing: the first run of the end-of-build
steps, KaTeX and the caches), says ``{"status": "ready"}``, then answers one request per line on
stdin with one JSON line on stdout; Sphinx's own output goes to stderr (the preview's terminal).

``build``: under the build lock, the one freshness rule (``tools/freshness.py``) is asked what
to do. When a page must be executed (or the cache was repaired), or every page must be
re-rendered (extensions, static files, configuration, table of contents, an unfinished render),
or another process wrote the Sphinx environment since this one loaded it, the answer is
``fallback`` and the preview runs the full ``tools/build.py`` instead (and then starts a fresh
copy of this process: extensions and configuration are loaded at start-up only). Otherwise the
warm application re-reads exactly the pages the render plan names (``MLPBOOK_REREAD``, as
``tools/build.py`` passes it), writes what changed, records the render and the report as
``tools/build.py`` does, and answers ``built`` or ``failed``. So ``make book`` after a preview
finds the render up to date, and renders what the preview left as a clean build would.

Usage (by tools/serve.py): python tools/warm_render.py --root DIR
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import freshness  # noqa: E402
from build import build_lock, say, write_report  # noqa: E402

ENV_PICKLE = Path("_build") / ".doctrees" / "environment.pickle"


class Echo:
    """Sphinx's status and warning stream: to stderr, noting pages Sphinx executed itself."""

    def __init__(self) -> None:
        self.inside: list[str] = []

    def write(self, text: str) -> int:
        if "Executed notebook in" in text:
            self.inside.append(text.split(":")[0].strip())
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def reset_chapter_counts(app) -> int:
    """Zero the chapter counters of sphinx-external-toc's toctree collector; how many were found.

    It counts chapters across every build of an application (reset only by toctrees that
    restart numbering, and this book numbers on across its parts), so a second build would
    number chapter 1 as 11 and write every page again: each build here starts from zero, as a
    fresh ``jupyter-book build`` does.
    """
    found = 0
    for listeners in app.events.listeners.values():
        for listener in listeners:
            owner = getattr(listener.handler, "__self__", None)
            for name in list(vars(owner)) if owner is not None else ():
                if name.startswith("_TocTreeCollectorWithStyles__") and name.endswith("_count"):
                    setattr(owner, name, 0)
                    found += 1
    return found


class WarmRenderer:
    """The book's Sphinx application, loaded once, re-rendering only what the plan names."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.echo = Echo()
        self.stack = contextlib.ExitStack()
        self.app = None
        self.env_stamp: tuple[int, int] | None = None

    def _env_stamp(self) -> tuple[int, int] | None:
        with contextlib.suppress(OSError):
            st = (self.root / ENV_PICKLE).stat()
            return st.st_mtime_ns, st.st_size
        return None

    def load(self) -> None:
        """Create the application as ``jupyter-book build ROOT -W -n --keep-going`` does."""
        from jupyter_book.config import get_final_config
        from sphinx.application import Sphinx
        from sphinx.util.docutils import docutils_namespace, patch_docutils

        root = self.root
        config, _ = get_final_config(
            user_yaml=root / "_config.yml", sourcedir=root, use_external_toc=True,
            cli_config={"external_toc_path": (root / "_toc.yml").as_posix(),
                        "latex_individualpages": False, "nitpicky": True})
        # docutils' registries are patched for as long as the application lives
        self.stack.enter_context(patch_docutils(str(root)))
        self.stack.enter_context(docutils_namespace())
        app = Sphinx(srcdir=str(root), confdir=None, outdir=str(root / "_build" / "html"),
                     doctreedir=str(root / "_build" / ".doctrees"), buildername="html",
                     confoverrides=config, status=self.echo, warning=self.echo, freshenv=False,
                     warningiserror=True, tags=None, verbosity=0, parallel=1, keep_going=True)
        if app.config["use_multitoc_numbering"] and "numbered: true" in (
                (root / "_toc.yml").read_text(encoding="utf-8")):
            app.setup_extension("sphinx_multitoc_numbering")
        app.mlpbook_glue = {}  # the Colab notebooks' glued values, per page (executed: never here)
        self.app = app
        self.env_stamp = self._env_stamp()

    def build(self, report: bool = True) -> dict:
        """One request: ``{"status": "built" | "failed" | "fallback", "code", "reason"}``
        (``report=False``: the warm-up, which leaves the build report alone)."""
        root = self.root
        start = time.perf_counter()
        repaired: list[str] = []

        def repair(line: str) -> None:
            repaired.append(line)
            say(f"repaired: {line}")

        with build_lock(root, wait=True):
            stamps = freshness.Stamps.load(root, repair)
            cache = freshness.open_cache(root, repair)
            todo = freshness.to_execute(root, cache, stamps, say=repair)
            cache.db.dispose()
            if todo or repaired:
                names = ", ".join(p.docname for p, _, _ in todo)
                return {"status": "fallback", "reason": f"to execute: {names}" if todo
                        else "the cache was repaired"}
            plan = freshness.render_plan(root, repair)
            if plan.everything:
                return {"status": "fallback", "reason": f"every page to render ({plan.reason})"}
            if self.app is None or self._env_stamp() != self.env_stamp:
                return {"status": "fallback", "reason": "the Sphinx environment was rebuilt "
                        "elsewhere since this process loaded it"}
            say(f"rendering (warm Sphinx); re-reading {len(plan.reread)} page(s)"
                + (f": {', '.join(plan.reread)}" if plan.reread else ""))
            freshness.begin_render(root)
            os.environ[freshness.REREAD_ENV] = json.dumps(plan.reread)
            app, self.echo.inside = self.app, []
            app._warncount, app.statuscode = 0, 0
            reset_chapter_counts(app)
            app.mlpbook_written = set()  # the extensions' end-of-build steps: these pages only
            try:
                app.build(False, [])
                code = app.statuscode
            except Exception as exc:  # noqa: BLE001  (reported; the next request falls back)
                print(f"[preview] the warm Sphinx failed: {type(exc).__name__}: {exc}",
                      file=sys.stderr, flush=True)
                self.app, code = None, 1
            if self.echo.inside:
                print(f"[build] FAILED: Sphinx executed {len(self.echo.inside)} page(s) itself "
                      f"({', '.join(self.echo.inside)})", file=sys.stderr, flush=True)
                code = code or 1
            if code == 0:
                freshness.finish_render(root, plan)
            self.env_stamp = self._env_stamp()
            if report:
                write_report(root, [], time.perf_counter() - start, repaired=repaired,
                             interrupted=False, warm=True,
                             rendered={"everything": False, "reread": plan.reread,
                                       "succeeded": code == 0})
        return {"status": "built" if code == 0 else "failed", "code": code,
                "reread": plan.reread}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    args = parser.parse_args(argv)
    out = sys.stdout
    sys.stdout = sys.stderr  # everything printed goes to the terminal; stdout carries answers
    warm = WarmRenderer(args.root.resolve())
    try:
        warm.load()
    except Exception as exc:  # noqa: BLE001  (every request then falls back)
        print(f"[preview] no warm Sphinx ({type(exc).__name__}: {exc}); every edit runs "
              "tools/build.py", file=sys.stderr, flush=True)
    if warm.app is not None:
        # one build at once, of whatever is stale (usually nothing): the end-of-build steps'
        # first run, KaTeX and the caches happen now, not on the first edit
        print(f"[preview] warm Sphinx ready ({warm.build(report=False)['status']} warm-up)",
              file=sys.stderr, flush=True)
    out.write(json.dumps({"status": "ready"}) + "\n")
    out.flush()
    for line in sys.stdin:
        if line.strip() == "build":
            answer = warm.build()
        else:
            answer = {"status": "unknown", "request": line.strip()}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
