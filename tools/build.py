"""Build the book: execute stale pages in parallel, then render with Jupyter Book.

Why not plain ``jupyter-book build`` with ``execute_notebooks: cache``? jupyter-cache keys a page
only on its own code cells (myst-nb #299), so an edit to ``code/mlpbook`` would be served from a
stale cache, and it executes pages one at a time. Here a page is executed when the hash of its
inputs (the page, the mlpbook sources if it uses them, requirements.txt, _config.yml) differs
from the one recorded at its last successful execution, pages run on all cores, every failing
page is reported at the end, and Sphinx then renders from the (now fresh) cache.

Usage: python tools/build.py [--root DIR] [--jobs N] [--execute-only] [--force] [--only DOCNAME]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pages import CACHE, REPORT, Page, book_pages, input_digest, package_digest  # noqa: E402

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
KERNEL_ENV = {
    # Two pages run at once on two cores: one thread each is faster and deterministic.
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
}


@dataclass
class Result:
    """The outcome of executing one page."""

    docname: str
    ok: bool
    seconds: float
    cell: int | None = None
    line: int | None = None
    source: str = ""
    error: str = ""
    traceback: str = ""
    notebook: dict = field(default_factory=dict, repr=False)


def read_notebook(path: Path):
    """Read a MyST page exactly as myst-nb does, so that jupyter-cache's hash matches."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    return read_myst_markdown_notebook(
        path.read_text(encoding="utf-8"), config=MdParserConfig(), add_source_map=True, path=str(path)
    )


def execute_page(root: str, docname: str, path: str, timeout: int) -> Result:
    """Execute one page top to bottom in a fresh kernel; stop at the first failing cell.

    The kernel imports ``mlpbook`` from ``root/code``, so a build of any copy of the repository
    (a test's, a mutant's) runs that copy's package, not the one installed in .venv.
    """
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    os.environ.update(KERNEL_ENV)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(Path(root) / "code")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    pristine = read_notebook(Path(path))
    nb = copy.deepcopy(pristine)
    start = time.perf_counter()
    index = None
    try:
        # IPC transport: local sockets (removed afterwards), and no "running over TCP without
        # encryption" warning. The kernel's own log (not cell output) would interleave across
        # parallel pages, so it goes nowhere.
        with tempfile.TemporaryDirectory(prefix="mlpbook-kernel-") as sockets:
            km = KernelManager(kernel_name="python3", transport="ipc", ip=f"{sockets}/kernel")
            client = NotebookClient(
                nb, km=km, timeout=timeout, kernel_name="python3", record_timing=False,
                resources={"metadata": {"path": str(Path(path).parent)}},
            )
            with client.setup_kernel(stderr=subprocess.DEVNULL):
                for index, cell in enumerate(nb.cells):
                    client.execute_cell(cell, index)
    except (CellExecutionError, CellTimeoutError) as exc:
        cell = nb.cells[index]
        source_map = nb.metadata.get("source_map", [])
        line = source_map[index] + 1 if index is not None and index < len(source_map) else None
        text = ANSI.sub("", str(exc))
        # nbclient repeats the cell source between two rules; the report shows it once.
        text = text.split("------------------\n", 2)[-1]
        return Result(docname, False, time.perf_counter() - start, index, line, cell.source,
                      type(exc).__name__, text)
    except Exception as exc:  # kernel died, bad notebook: still a failure of this page
        return Result(docname, False, time.perf_counter() - start, index, None, "",
                      type(exc).__name__, ANSI.sub("", repr(exc)))
    seconds = time.perf_counter() - start
    # jupyter-cache hashes code sources, cell metadata and the kernelspec, and nbclient rewrites
    # the latter two: cache the page as read, with only the outputs added.
    for cell, ran in zip(pristine.cells, nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
    pristine.metadata.pop("source_map", None)
    return Result(docname, True, seconds, notebook=pristine)


class Stamps:
    """Input hashes of the last successful execution of each page, kept beside the cache."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=1, sort_keys=True))


def cached(cache, page: Page) -> bool:
    """Whether jupyter-cache holds outputs for the page's current code cells."""
    try:
        cache.match_cache_notebook(read_notebook(page.path))
        return True
    except KeyError:
        return False


def stale_pages(root: Path, pages: list[Page], cache, stamps: Stamps,
                force: bool) -> list[tuple[Page, str]]:
    """Pages with code whose inputs changed since their last good run, or missing from the cache.

    Each comes with its input digest, taken before execution: that is what its stamp records.
    """
    pkg = package_digest(root)
    digests = [(p, input_digest(p, root, pkg)) for p in pages if p.has_code]
    return [(p, d) for p, d in digests
            if force or stamps.data.get(p.docname) != d or not cached(cache, p)]


def format_failure(root: Path, page: Page, r: Result) -> str:
    """A readable report of one failing page: where, which cell, its source and the traceback."""
    where = f"{page.path.relative_to(root)}" + (f":{r.line}" if r.line else "")
    cell = f"cell {r.cell}" if r.cell is not None else "kernel"
    bar = "=" * 78
    src = "\n".join("    " + ln for ln in r.source.splitlines()) or "    (no source)"
    return f"{bar}\nFAILED {where} ({cell}) after {r.seconds:.1f}s: {r.error}\n--- cell source ---\n{src}\n--- traceback ---\n{r.traceback.strip()}\n"


def execute(root: Path, jobs: int, force: bool = False, timeout: int = 120,
            only: set[str] | None = None) -> tuple[list[Result], list[Page]]:
    """Execute every stale page (of ``only``, if given) in parallel; cache the good ones."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    pages = book_pages(root)
    cache = get_cache(str(root / CACHE))
    stamps = Stamps(root / CACHE / "mlpbook-stamps.json")
    stale = [(p, d) for p, d in stale_pages(root, pages, cache, stamps, force)
             if only is None or p.docname in only]
    todo = [p for p, _ in stale]
    results: list[Result] = []
    if todo:
        with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(todo)))) as pool:
            futures = [pool.submit(execute_page, str(root), p.docname, str(p.path), timeout) for p in todo]
            results = [f.result() for f in futures]
    for (page, digest), r in zip(stale, results):
        if r.ok:
            import nbformat

            nb = nbformat.from_dict(r.notebook)
            cache.cache_notebook_bundle(
                CacheBundleIn(nb, str(page.path), data={"execution_seconds": r.seconds}),
                check_validity=False, overwrite=True,
            )
            stamps.data[page.docname] = digest
        else:
            stamps.data.pop(page.docname, None)
    stamps.save()
    return results, todo


def write_report(root: Path, results: list[Result], wall: float) -> None:
    """Record what this build executed and what failed, for the Sphinx extension, the benchmark,
    mutation testing and the tests (schema: ``pages.read_report``)."""
    report = {
        "executed": [r.docname for r in results],
        "failures": [
            {"page": r.docname, "path": f"{r.docname}.md", "line": r.line, "cell": r.cell,
             "error": r.error, "message": r.traceback.strip().splitlines()[-1] if r.traceback.strip() else "",
             "traceback": r.traceback}
            for r in results if not r.ok
        ],
        "seconds": {r.docname: round(r.seconds, 3) for r in results},
        "execute_wall_seconds": round(wall, 3),
    }
    out = root / REPORT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))


def extensions_digest(root: Path) -> str:
    """Hash of the local Sphinx extensions and static files (which Sphinx does not track)."""
    h = hashlib.sha256()
    files = sorted((root / "tools" / "sphinxext").glob("*.py")) + sorted(
        p for p in (root / "book" / "_static").rglob("*") if p.is_file())
    for path in files:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def render(root: Path) -> int:
    """Render the site with Jupyter Book; warnings are errors, all of them reported.

    Every page was executed beforehand, so myst-nb must find all outputs in the cache. A page
    that Sphinx executes itself would run serially and uncounted: that is reported as a failure.
    """
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(root), "-W", "-n", "--keep-going"]
    # Sphinx does not notice edits to our own extensions: re-render everything after one.
    stamp = root / CACHE / "mlpbook-extensions.sha256"
    digest = extensions_digest(root)
    if not stamp.exists() or stamp.read_text() != digest:
        cmd.append("--all")
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    inside = []
    for line in proc.stdout:
        sys.stdout.write(line)
        if "Executed notebook in" in line:
            inside.append(line.split(":")[0])
    code = proc.wait()
    if code == 0:
        stamp.write_text(digest)
    if inside:
        print(f"[build] FAILED: Sphinx executed {len(inside)} page(s) itself ({', '.join(inside)}): "
              "their outputs were not in the cache the pre-executor filled", file=sys.stderr)
        return code or 1
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
    args = parser.parse_args(argv)
    root = args.root.resolve()
    only = set(args.only) if args.only else None
    if only and not args.execute_only:
        parser.error("--only needs --execute-only (the render needs every page executed)")
    if only and only - {p.docname for p in book_pages(root)}:
        parser.error(f"--only: not a page: {sorted(only - {p.docname for p in book_pages(root)})}")

    start = time.perf_counter()
    results, todo = execute(root, args.jobs, args.force, only=only)
    wall = time.perf_counter() - start
    write_report(root, results, wall)
    failed = [(p, r) for p, r in zip(todo, results) if not r.ok]
    print(f"[build] executed {len(results)} page(s) in {wall:.1f}s on {args.jobs} worker(s); "
          f"{len(failed)} failed", flush=True)
    if failed:
        print("\n".join(format_failure(root, p, r) for p, r in failed), file=sys.stderr)
        names = ", ".join(str(p.path.relative_to(root)) for p, _ in failed)
        print(f"[build] FAILED: {len(failed)} page(s) failed to execute: {names}", file=sys.stderr)
        return 1
    if args.execute_only:
        return 0
    code = render(root)
    if code != 0:
        print(f"[build] FAILED: Sphinx exited with {code} (warnings are errors; see above)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
