"""Shared fixtures: the built book (built once per session) and temporary repository copies,
including small synthetic books for testing the build machinery in seconds.

Tiers (docs/testing.md): ``book`` (needs the built book), ``browser`` (drives Chromium), ``slow``
(builds a temporary copy of the repository); the rest is the fast tier, ``make check``. A test
that uses the built book or the browser is marked so here, whatever its module says, and a test
of the fast tier that builds a copy of the repository fails and says to mark it ``slow``.

`make test` runs the suite on three workers (pytest-xdist, ``-n 3 --dist loadfile``): a module
runs on one worker (its module fixtures built once), the longest modules first (``LONGEST_FIRST``).
The book is built once for all workers: the first to need it builds it, under a lock, and the
others read the outcome (``built_book``)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Where the built site and execution cache live: the repository, or a prebuilt copy.
SITE_ROOT = Path(os.environ.get("MLPBOOK_SITE", ROOT))
sys.path.insert(0, str(ROOT / "tools"))
import pages  # noqa: E402  (tools/pages.py)


# Fixtures that put a test in a tier (their users are marked, directly or through other fixtures).
FIXTURE_TIERS = {"built_book": "book", "site": "book", "browser": "browser"}
_RUNNING: dict = {"item": None}


# The modules that take longest under `make test` (seconds of one worker, measured with
# --junitxml on this 2-core machine, docs/testing.md), run first: a worker that starts a long
# module last would finish alone. Others keep their order, after these. A module missing here
# is only scheduled later, never skipped.
LONGEST_FIRST = ("test_browser", "test_build", "test_colab", "test_grade", "test_page_speed",
                 "test_editions", "test_autograder", "test_explorer", "test_mutation",
                 "test_slides_browser", "test_preview", "test_phone_reading")


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        for fixture in set(getattr(item, "fixturenames", ())) & set(FIXTURE_TIERS):
            item.add_marker(FIXTURE_TIERS[fixture])
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))  # stable: same order within


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _RUNNING["item"] = item
    try:
        yield
    finally:
        _RUNNING["item"] = None


def _not_in_the_fast_tier(what: str) -> None:
    """A test that builds (a copy of) the repository must be marked ``slow`` (or ``book``)."""
    item = _RUNNING["item"]
    if item is not None and not any(item.get_closest_marker(m) for m in ("slow", "book")):
        pytest.fail(f"{item.nodeid} {what} but is not marked slow: mark it "
                    "@pytest.mark.slow (make check must not build; docs/testing.md)", pytrace=False)


def copy_repo(dest: Path, *, with_cache: bool = False) -> Path:
    """Copy the working tree to ``dest`` (never .venv or .git); optionally the execution cache."""
    pages.copy_repo(ROOT, dest)
    if with_cache:
        shutil.copytree(SITE_ROOT / pages.CACHE, dest / pages.CACHE)
    return dest


def build_command(root: Path, *args: str) -> list[str]:
    """The command line of tools/build.py on ``root`` (the copy's own tools, pages and package)."""
    _not_in_the_fast_tier("builds a book")
    return [sys.executable, str(root / "tools" / "build.py"), "--root", str(root), *args]


BUILD_ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def run_build(root: Path, *args: str, timeout: float = 1800,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run tools/build.py on ``root`` (``env`` added to the environment); a build that hangs
    fails the test after ``timeout`` s."""
    _not_in_the_fast_tier("builds a book")
    return subprocess.run(build_command(root, *args), cwd=root, capture_output=True, text=True,
                          env={**BUILD_ENV, **(env or {})}, timeout=timeout)


PAGE_HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

"""


def page(title: str, *cells: str) -> str:
    """A MyST page: a title, then one code cell per item (no cells: a plain Markdown page). A
    cell's text may begin with option lines (``:tags: [remove-cell]``) and a blank line."""
    body = "".join(f"```{{code-cell}} ipython3\n{cell.strip(chr(10))}\n```\n\n" for cell in cells)
    return f"{PAGE_HEADER if cells else ''}# {title}\n\nSome prose.\n\n{body}"


def mini_book(dest: Path, pages: dict[str, str], timeout: float | None = None) -> Path:
    """A copy of the repository whose book is ``pages`` (``{"name": markdown}`` written to
    ``book/name.md``, the first one the root of ``_toc.yml``), with the repository's own tools,
    extensions, configuration and package: the build machinery, on pages that run in a second.
    ``timeout`` sets ``execute.timeout`` in the copy's ``_config.yml``."""
    import yaml

    root = copy_repo(dest)
    for name, text in pages.items():
        (root / "book" / f"{name}.md").write_text(text, encoding="utf-8")
    names = [f"book/{name}" for name in pages]
    toc = {"format": "jb-book", "root": names[0], "chapters": [{"file": n} for n in names[1:]]}
    (root / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")
    if timeout is not None:
        config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
        config["execute"]["timeout"] = timeout
        (root / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return root


def _processes() -> dict[int, tuple[str, str]]:
    """Every live (not zombie) process of this machine we may read: pid -> (cmdline, environ)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if ") Z " in (proc / "stat").read_text():
                continue
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        found[int(proc.name)] = (cmdline, environ)
    return found


def kernels_of(root: Path) -> list[int]:
    """The live kernels a build of ``root`` started (tools/build.py marks their environment)."""
    mark = f"MLPBOOK_BUILD_ROOT={root}\0"
    return [pid for pid, (_, environ) in _processes().items() if mark in environ]


def renderers_of(root: Path) -> list[int]:
    """The live jupyter-book (Sphinx) processes building ``root``."""
    return [pid for pid, (cmdline, _) in _processes().items()
            if "jupyter-book" in cmdline and f" {root} " in f"{cmdline} "]


def exec_report(root: Path) -> dict:
    """What the last build of ``root`` executed, as written by tools/build.py."""
    return pages.read_report(root)


def once(shared: Path | None, name: str, work: Callable[[], str | None]) -> str | None:
    """``work()`` (None if it succeeded, else what to say), done once per run. With xdist
    (``shared``: the folder all workers of the run share) the first worker to get here does it,
    under a lock; the others wait, and read its outcome."""
    if shared is None:
        return work()
    outcome = shared / f"{name}.json"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not outcome.exists():
            outcome.write_text(json.dumps({"failure": work()}))
        return json.loads(outcome.read_text())["failure"]


def _build_book() -> str | None:
    result = run_build(ROOT)
    if result.returncode != 0:
        return f"the book build failed:\n{result.stdout[-6000:]}\n{result.stderr[-12000:]}"
    return None


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the real book once per test session (this *is* `make book`); return _build/html.

    Once for all the workers of an xdist run (`make test`). MLPBOOK_SITE=<repo copy> uses a
    copy that was already built (for working on the tests).
    """
    if SITE_ROOT != ROOT:
        return SITE_ROOT / "_build" / "html"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    failure = once(tmp_path_factory.getbasetemp().parent if worker else None, "built_book",
                   _build_book)
    if failure:
        pytest.fail(failure, pytrace=False)
    return ROOT / "_build" / "html"
