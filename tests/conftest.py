"""Shared fixtures: the built book (built once per session) and temporary repository copies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Where the built site and execution cache live: the repository, or a prebuilt copy.
SITE_ROOT = Path(os.environ.get("MLPBOOK_SITE", ROOT))
sys.path.insert(0, str(ROOT / "tools"))
import pages  # noqa: E402  (tools/pages.py)


def copy_repo(dest: Path, *, with_cache: bool = False) -> Path:
    """Copy the working tree to ``dest`` (never .venv or .git); optionally the execution cache."""
    pages.copy_repo(ROOT, dest)
    if with_cache:
        shutil.copytree(SITE_ROOT / pages.CACHE, dest / pages.CACHE)
    return dest


def run_build(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Run tools/build.py on ``root`` (the copy's own tools, pages and package)."""
    return subprocess.run(
        [sys.executable, str(root / "tools" / "build.py"), "--root", str(root), *args],
        cwd=root, capture_output=True, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def exec_report(root: Path) -> dict:
    """What the last build of ``root`` executed, as written by tools/build.py."""
    return pages.read_report(root)


@pytest.fixture(scope="session")
def built_book() -> Path:
    """Build the real book once per test session (this *is* `make book`); return _build/html.

    MLPBOOK_SITE=<repo copy> uses a copy that was already built (for working on the tests).
    """
    if SITE_ROOT != ROOT:
        return SITE_ROOT / "_build" / "html"
    result = run_build(ROOT)
    if result.returncode != 0:
        pytest.fail(f"the book build failed:\n{result.stdout[-6000:]}\n{result.stderr[-12000:]}",
                    pytrace=False)
    return ROOT / "_build" / "html"
