"""Make sure the browser tests have a Chromium, before any test runs (`make test` calls this).

Where Chromium is looked for, in order (``find_chromium``; tests/browsing.py uses the same):
``PLAYWRIGHT_CHROMIUM_EXECUTABLE``, ``/usr/bin/chromium``, ``chromium`` / ``chromium-browser``
on PATH, then Playwright's own download cache (``PLAYWRIGHT_BROWSERS_PATH``, else
``~/.cache/ms-playwright``).

Where none is found it installs one, saying so in one line:

1. as root, where ``apt-get`` exists (Debian/Ubuntu): ``apt-get update`` then
   ``apt-get install -y chromium``;
2. otherwise (or if that failed): ``python -m playwright install chromium`` (a download from
   Playwright's servers, into its cache).

When neither gives a Chromium it prints one message saying what to do and exits 1, so that
`make test` stops before pytest starts (never hundreds of errors, one per browser test).

Usage: python tools/provision_browser.py [--check]   (--check: only look, never install)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Mapping

SYSTEM_PATHS = ("/usr/bin/chromium",)
ON_PATH = ("chromium", "chromium-browser")
# Playwright's cache layout: chromium-<rev>/chrome-linux/chrome (full browser) and
# chromium_headless_shell-<rev>/chrome-linux/headless_shell (1.49+), newest revision first.
CACHE_GLOBS = ("chromium-*/chrome-linux*/chrome", "chromium_headless_shell-*/chrome-linux*/headless_shell",
               "chromium_headless_shell-*/chrome-headless-shell-linux*/chrome-headless-shell")
WHAT_TO_DO = (
    "Install it and run `make test` again: `sudo apt-get install chromium` (Debian/Ubuntu), or "
    "`.venv/bin/python -m playwright install chromium` (needs access to Playwright's download "
    "servers), or point PLAYWRIGHT_CHROMIUM_EXECUTABLE at a Chromium/Chrome binary."
)


def _executable(path: str | os.PathLike | None) -> bool:
    return bool(path) and Path(path).is_file() and os.access(path, os.X_OK)


def playwright_cache(env: Mapping[str, str]) -> Path:
    """Where ``playwright install`` puts its browsers (its default on Linux, or the override)."""
    override = env.get("PLAYWRIGHT_BROWSERS_PATH")
    if override and override != "0":
        return Path(override)
    return Path(env.get("HOME", str(Path.home()))) / ".cache" / "ms-playwright"


def find_chromium(env: Mapping[str, str] = os.environ,
                  which: Callable[[str], str | None] = shutil.which,
                  system_paths: tuple[str, ...] = SYSTEM_PATHS) -> str | None:
    """The Chromium to drive, or None. A set PLAYWRIGHT_CHROMIUM_EXECUTABLE is the only answer
    (None if it is not an executable file: the caller says so)."""
    chosen = env.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE")
    if chosen:
        return chosen if _executable(chosen) else None
    candidates = [*system_paths, *(which(name) for name in ON_PATH)]
    cache = playwright_cache(env)
    for pattern in CACHE_GLOBS:
        candidates += sorted(map(str, cache.glob(pattern)), reverse=True)
    return next((c for c in candidates if _executable(c)), None)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _quiet_run(cmd: list[str], env: Mapping[str, str]) -> tuple[bool, str]:
    """Run ``cmd`` with its output captured; (succeeded, the tail of its output)."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=dict(env), timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return out.returncode == 0, (out.stdout + out.stderr).strip()[-800:]


def _reason(out: str) -> str:
    """The line of a failed command's output that says why (its first error line, else its last)."""
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("E:", "Error", "error"))]
    return (errors or lines or ["no Chromium after it"])[0 if errors else -1]


def provision(env: Mapping[str, str] = os.environ,
              which: Callable[[str], str | None] = shutil.which,
              run: Callable[[list[str], Mapping[str, str]], tuple[bool, str]] = _quiet_run,
              is_root: Callable[[], bool] = _is_root,
              say: Callable[[str], None] = print,
              python: str = sys.executable,
              system_paths: tuple[str, ...] = SYSTEM_PATHS,
              install: bool = True) -> tuple[str | None, str]:
    """Find Chromium, installing it if missing; ``(path, "")`` or ``(None, what to do)``.

    ``which``/``run``/``is_root``/``say`` are the outside world (the tests fake them): ``run``
    takes the command and its environment and returns (succeeded, output tail).
    """
    def find() -> str | None:
        return find_chromium(env, which, system_paths)

    chosen = env.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE")
    if chosen and not _executable(chosen):
        return None, f"PLAYWRIGHT_CHROMIUM_EXECUTABLE={chosen} is not an executable file. {WHAT_TO_DO}"
    found = find()
    if found or not install:
        return found, "" if found else f"The browser tests need Chromium, and none was found. {WHAT_TO_DO}"
    tried = []
    if is_root() and which("apt-get"):
        say("Chromium not found: installing it with apt-get (apt-get update; apt-get install -y chromium)")
        apt_env = {**env, "DEBIAN_FRONTEND": "noninteractive"}
        ok, out = run(["apt-get", "update", "-qq"], apt_env)
        if ok:
            ok, out = run(["apt-get", "install", "-y", "-qq", "chromium"], apt_env)
        found = find()
        if found:
            return found, ""
        tried.append(f"apt-get failed: {_reason(out)}")
    say("Chromium not found: installing it with `python -m playwright install chromium` (a download)")
    ok, out = run([python, "-m", "playwright", "install", "chromium"], env)
    found = find()
    if found:
        return found, ""
    tried.append(f"playwright install failed: {_reason(out)}")
    return None, f"The browser tests need Chromium, and it could not be installed ({'; '.join(tried)}). {WHAT_TO_DO}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only look for Chromium, never install")
    args = parser.parse_args(argv)
    found, message = provision(install=not args.check)
    if not found:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
