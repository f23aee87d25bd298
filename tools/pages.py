"""The book's pages and their inputs: what the build, the benchmark and the tests share."""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "code" / "mlpbook"
# Files whose change must re-execute every page (besides the page itself).
GLOBAL_INPUTS = ("requirements.txt", "_config.yml")
CODE_CELL = re.compile(r"^```\{code-cell\}", re.MULTILINE)
CACHE = Path("_build") / ".jupyter_cache"
# What the last run of tools/build.py executed and which pages failed (see ``read_report``).
REPORT = Path("_build") / "exec-report.json"
# Never copied along with the working tree: environments, build output, caches, results.
NOT_COPIED = shutil.ignore_patterns(".venv", ".git", "_build", "__pycache__", ".hypothesis",
                                    ".pytest_cache", "*.egg-info", "bench")


@dataclass(frozen=True)
class Page:
    """One page of the book: its docname (``book/mlp``) and source path."""

    docname: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def has_code(self) -> bool:
        return page_has_code(self.path)

    @property
    def imports_mlpbook(self) -> bool:
        return "mlpbook" in self.text

    @property
    def slug(self) -> str:
        return slug(self.docname)


def slug(docname: str) -> str:
    """File-name-safe name of a page, e.g. ``book/mlp`` -> ``mlp`` (its notebook's name)."""
    return docname.split("/", 1)[-1].replace("/", "-")


def page_has_code(path: Path) -> bool:
    """Whether a page has a code cell (is executed, and gets a notebook and a Colab button)."""
    return path.suffix == ".md" and path.exists() and bool(CODE_CELL.search(path.read_text("utf-8")))


def _toc_files(node: object) -> list[str]:
    """Every ``file`` (and ``root``) entry of a _toc.yml tree, in reading order."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key in ("root", "file"):
                if key in item:
                    found.append(str(item[key]))
            for key in ("parts", "chapters", "sections"):
                stack.extend(reversed(item.get(key, [])))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return found


def book_pages(root: Path = ROOT) -> list[Page]:
    """The pages listed in ``_toc.yml``, in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages = []
    for entry in _toc_files(toc):
        docname = re.sub(r"\.(md|ipynb)$", "", entry)
        path = root / f"{docname}.md"
        if not path.exists():
            raise FileNotFoundError(f"_toc.yml lists {entry!r} but {path} does not exist")
        pages.append(Page(docname, path))
    return pages


def _digest_files(paths: list[Path], root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path.relative_to(root)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def package_digest(root: Path = ROOT) -> str:
    """Hash of the mlpbook sources, package data (the explorer's .js/.css) and project file."""
    pkg = root / "code"
    files = [p for p in (pkg / "mlpbook").rglob("*") if p.is_file()
             and "__pycache__" not in p.parts and p.suffix != ".pyc"] + [pkg / "pyproject.toml"]
    return _digest_files(files, root)


def input_digest(page: Page, root: Path = ROOT, package: str | None = None) -> str:
    """Hash of everything a page's execution depends on.

    The page itself, ``requirements.txt`` and ``_config.yml`` always; the ``mlpbook`` sources
    when the page uses the package.
    """
    h = hashlib.sha256()
    h.update(page.path.read_bytes())
    h.update(_digest_files([root / name for name in GLOBAL_INPUTS], root).encode())
    if page.imports_mlpbook:
        h.update((package or package_digest(root)).encode())
    return h.hexdigest()


def read_report(root: Path = ROOT) -> dict:
    """The structured report of the last build of ``root``.

    ``{"executed": [docname, ...], "failures": [{"page", "path", "line", "cell", "error",
    "message", "traceback"}, ...], "seconds": {docname: s}, "execute_wall_seconds": s}``.
    ``line`` is the 1-based line of the ``.md`` source; ``cell`` the 0-based cell index.
    """
    import json

    return json.loads((root / REPORT).read_text(encoding="utf-8"))


def copy_repo(source: Path, dest: Path, *, with_cache: bool = False) -> Path:
    """Copy the working tree ``source`` to ``dest``, optionally with its execution cache.

    Tests, the preview, the benchmark and mutation testing all build such copies, never the
    repository itself.
    """
    shutil.copytree(source, dest, ignore=NOT_COPIED)
    if with_cache and (source / CACHE).is_dir():
        shutil.copytree(source / CACHE, dest / CACHE)
    return dest
