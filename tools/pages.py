"""The book's pages and their inputs: what the build, the benchmark and the tests share."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent / "sphinxext"))
from solutions import page_text  # noqa: E402  (a page with its book/solutions/ blocks)

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "code" / "mlpbook"
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
        return page_text(self.path)

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


def read_report(root: Path = ROOT) -> dict:
    """The structured report of the last build of ``root`` (written by tools/build.py).

    ``{"executed": [docname, ...], "failures": [{"page", "path", "line", "cell", "error",
    "message", "traceback", "output"}, ...], "seconds": {docname: s}, "execute_wall_seconds": s,
    "repaired": [str], "interrupted": bool, "rendered": null | {"everything": bool,
    "reread": [docname], "succeeded": bool}}``. ``line`` is the 1-based line of the ``.md``
    source of the code that raised (or was running at a time-out); ``cell`` the 0-based cell
    index; ``error`` the exception's name (``CellTimeoutError`` past ``execute.timeout``);
    ``output`` the last lines the cell printed. ``rendered`` is null when the build did not
    render (``--execute-only``, or a page failed).
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


def jupyter_book(root: Path, *args: str, env: dict[str, str] | None = None,
                 echo: Callable[[str], None] | None = None) -> subprocess.CompletedProcess:
    """Run ``jupyter-book build ROOT ARGS...`` in ``root``: the one place that runs jupyter-book.

    The build, the preview, the benchmark and the tests all call this. Its output (stdout and
    stderr, merged) is returned as ``.stdout`` and passed to ``echo`` line by line as it comes.
    It runs in a process group of its own, so a Ctrl-C meant for the caller does not reach it;
    instead, on Ctrl-C (or any exception) here the whole group is killed before re-raising, so no
    Sphinx process outlives its caller.
    """
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), *args]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if echo is not None:
                echo(line)
        code = proc.wait()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        proc.stdout.close()
    return subprocess.CompletedProcess(cmd, code, "".join(lines), "")


def cpu_name(default: str = "an unknown CPU") -> str:
    """The CPU's model name from /proc/cpuinfo (``default`` where there is none), for the
    machine line of the benchmark and mutation reports."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return default
