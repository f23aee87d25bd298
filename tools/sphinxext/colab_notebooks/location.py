"""Where the book lives on GitHub: derived, never typed.

In order: ``GITHUB_REPOSITORY`` (set by GitHub Actions), the git remote ``origin`` when it is a
GitHub URL, then ``repository.url`` in ``_config.yml`` when it is set. Everything GitHub-shaped
(Colab links, the notebooks' install source, the repository and edit buttons, the published
site's URL) is derived from the one :class:`Location` this returns, or left out when nothing
resolves.

Run as a script (``make publish`` does), it prints the location or says why there is none and
exits 1: ``python tools/sphinxext/colab_notebooks/location.py --check [--root DIR]``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

COLAB = "https://colab.research.google.com"
PUBLISHED_BRANCH = "gh-pages"  # `make publish` pushes the site there; Colab opens notebooks from it
NOTEBOOK_DIR = "notebooks"  # in the site: notebooks/<slug>.ipynb

# https://github.com/o/r(.git), https://user:token@github.com/o/r, git@github.com:o/r.git,
# ssh://git@github.com/o/r.git, git://github.com/o/r
GITHUB_URL = re.compile(
    r"^(?:(?:https?|ssh|git)://(?:[^@/\s]+@)?|[^@/\s:]+@)?(?:www\.)?github\.com[/:]"
    r"(?P<org>[A-Za-z0-9][\w.-]*)/(?P<repo>[\w.-]+?)(?:\.git)?/?$")
OWNER_REPO = re.compile(r"^(?P<org>[A-Za-z0-9][\w.-]*)/(?P<repo>[\w.-]+)$")


def github_parts(url: str | None) -> tuple[str, str] | None:
    """``https://github.com/org/repo(.git)`` (or an ssh form) -> ``("org", "repo")``; else None."""
    m = GITHUB_URL.match((url or "").strip())
    return (m["org"], m["repo"]) if m else None


def _git(root: Path, *args: str) -> str | None:
    """``git -C root ARGS`` if ``root`` is the top of its own checkout (a copy of the repository
    inside some other checkout is not that checkout); None on any failure."""
    def run(*a: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(root), *a], capture_output=True, text=True,
                                 timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    top = run("rev-parse", "--show-toplevel")
    if not top or Path(top).resolve() != root.resolve():
        return None
    return run(*args)


def book_config(root: Path) -> dict:
    """The book's ``_config.yml`` as written (without Jupyter Book's defaults)."""
    import yaml

    path = root / "_config.yml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


@dataclass(frozen=True)
class Location:
    """The book's GitHub repository and the commit the site is built from."""

    org: str
    repo: str
    branch: str  # the source branch (edit buttons)
    commit: str  # what the notebooks install mlpbook from
    book_path: str  # the book's folder inside the repository ("" = the root)
    source: str  # where org/repo came from, for messages

    @property
    def repo_url(self) -> str:
        return f"https://github.com/{self.org}/{self.repo}"

    def site_url(self, baseurl: str = "") -> str:
        """The published site's root, ending in ``/``: ``html.baseurl`` if set, else GitHub
        Pages' address (``https://<org>.github.io/<repo>/``)."""
        if baseurl.strip():
            return baseurl.strip().rstrip("/") + "/"
        host = f"{self.org.lower()}.github.io"
        return f"https://{host}/" if self.repo.lower() == host else f"https://{host}/{self.repo}/"

    def colab_url(self, slug: str) -> str:
        """Colab opening the published notebook of a page."""
        return (f"{COLAB}/github/{self.org}/{self.repo}/blob/{PUBLISHED_BRANCH}/"
                f"{NOTEBOOK_DIR}/{slug}.ipynb")

    def pip_requirement(self) -> str:
        """The pip requirement that installs ``mlpbook`` from this commit."""
        sub = "/".join(p for p in (self.book_path, "code") if p)
        return f"mlpbook @ git+{self.repo_url}@{self.commit}#subdirectory={sub}"

    def raw_url(self, relpath: str) -> str:
        """A file of the book (path relative to the book's root) at this commit."""
        prefix = f"{self.book_path}/" if self.book_path else ""
        return (f"https://raw.githubusercontent.com/{self.org}/{self.repo}/{self.commit}/"
                f"{prefix}{relpath}")


def resolve(root: Path, environ: Mapping[str, str] | None = None) -> tuple[Location | None, str]:
    """``(location, where it came from)``, or ``(None, why nothing resolved)``."""
    environ = os.environ if environ is None else environ
    config = book_config(root).get("repository") or {}
    tried = []
    parts = None
    env_repo = environ.get("GITHUB_REPOSITORY", "").strip()
    if env_repo:
        m = OWNER_REPO.match(env_repo)
        parts, source = (m["org"], m["repo"]) if m else None, "GITHUB_REPOSITORY"
        if parts is None:
            tried.append(f"GITHUB_REPOSITORY={env_repo!r} is not <owner>/<repo>")
    else:
        tried.append("GITHUB_REPOSITORY is not set")
    if parts is None:
        origin = _git(root, "remote", "get-url", "origin")
        parts, source = github_parts(origin), "git remote origin"
        if parts is None:
            tried.append(f"git remote origin is {origin}, not GitHub" if origin
                         else "no git remote origin")
    if parts is None:
        url = str(config.get("url") or "").strip()
        parts, source = github_parts(url), "repository.url in _config.yml"
        if parts is None:
            tried.append(f"repository.url in _config.yml is {url}, not GitHub" if url
                         else "no repository.url in _config.yml")
    if parts is None:
        return None, "; ".join(tried)
    branch = str(config.get("branch") or "main")
    sha = environ.get("GITHUB_SHA", "").strip()
    commit = sha if re.fullmatch(r"[0-9a-f]{40}", sha) else (_git(root, "rev-parse", "HEAD") or branch)
    book_path = str(config.get("path_to_book") or "").strip("/")
    return Location(parts[0], parts[1], branch, commit, book_path, source), source


def check_publish(root: Path, environ: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """Whether ``make publish`` can publish, and what to tell the user.

    It pushes ``gh-pages`` to the git remote ``origin`` with ghp-import: the Colab buttons
    open notebooks from there, so origin must be the GitHub repository the site names.
    """
    location, why = resolve(root, environ)
    if location is None:
        return False, (f"make publish: no GitHub location ({why}). The Colab buttons and the "
                       "notebooks' install cell need one: push from a clone whose origin is on "
                       "GitHub, or set repository.url in _config.yml (README, 'Publishing and "
                       "Colab').")
    origin = github_parts(_git(root, "remote", "get-url", "origin"))
    if origin is None or [p.lower() for p in origin] != [location.org.lower(), location.repo.lower()]:
        return False, (f"make publish: the site is for {location.repo_url} (from {location.source}) "
                       f"but the git remote origin, where gh-pages is pushed, is "
                       f"{'/'.join(origin) if origin else 'not on GitHub'}.")
    return True, (f"make publish: {location.repo_url} (from {location.source}), site "
                  f"{location.site_url(str((book_config(root).get('html') or {}).get('baseurl') or ''))}, "
                  f"notebooks install mlpbook at {location.commit}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--check", action="store_true",
                        help="exit 1, saying why, unless `make publish` can publish")
    args = parser.parse_args(argv)
    if args.check:
        ok, message = check_publish(args.root)
        print(message, file=sys.stdout if ok else sys.stderr)
        return 0 if ok else 1
    location, why = resolve(args.root)
    print(location.repo_url if location else f"no GitHub location: {why}")
    return 0 if location else 1


if __name__ == "__main__":
    sys.exit(main())
