"""Colab: every page with code opens in Colab as a generated notebook, and runs there.

(a) the Colab and download buttons point at the generated notebooks, which exist in the site;
(b) a simulated Colab (a fresh virtualenv where neither ``mlpbook`` nor ``myst_nb`` is
    importable, offline) runs every notebook top to bottom, its setup cell really installing
    ``mlpbook`` from a local ``code/``;
(c) the setup cell does nothing where ``mlpbook`` is importable;
(d) no notebook contains outputs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urljoin, urlparse

import nbformat
import pytest
import yaml
from conftest import SITE_ROOT
from pages import book_pages

pytestmark = pytest.mark.book

COLAB_HREF = re.compile(
    r"^https://colab\.research\.google\.com/github/(?P<org>[\w.-]+)/(?P<repo>[\w.-]+)"
    r"/blob/gh-pages/(?P<path>notebooks/[\w.-]+\.ipynb)$")
SETUP_ID = "mlpbook-setup"
# Neither may be importable in the simulated Colab: mlpbook (the setup cell must install it)
# and myst_nb (the setup cell's shim must stand in for it). pip and setuptools come from .venv.
HIDDEN_FROM_COLAB = re.compile(r"^(mlpbook|myst_nb|__editable__)|\.pth$", re.IGNORECASE)
WORKERS = int(os.environ.get("MLPBOOK_COLAB_WORKERS", "2"))


def repository() -> tuple[str, str, str]:
    """(org, repo, branch) as _config.yml sets them."""
    config = yaml.safe_load((SITE_ROOT / "_config.yml").read_text())["repository"]
    org, repo = re.match(r"https://github\.com/([^/]+)/([^/]+?)/?$", config["url"]).groups()
    return org, repo, config.get("branch", "main")


def code_pages():
    return [p for p in book_pages(SITE_ROOT) if p.has_code]


def html_links(html: Path) -> list[tuple[str, str]]:
    """(href, class) of every link of a page."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html.read_text("utf-8"), "html.parser")
    return [(a["href"], " ".join(a.get("class", []))) for a in soup.find_all("a", href=True)]


# --- (a) buttons -----------------------------------------------------------------------------


def test_colab_buttons_point_at_generated_notebooks(built_book: Path) -> None:
    """Every page with code: one Colab link to notebooks/<slug>.ipynb on gh-pages, which exists."""
    org, repo, _ = repository()
    pages = code_pages()
    assert pages, "no page has code cells"
    for page in pages:
        links = html_links(built_book / f"{page.docname}.html")
        colab = [href for href, _ in links if href.startswith("https://colab.research.google.com")]
        assert len(colab) == 1, f"{page.docname}: expected one Colab link, found {colab}"
        m = COLAB_HREF.match(colab[0])
        assert m, f"{page.docname}: malformed Colab link {colab[0]}"
        assert (m["org"], m["repo"]) == (org, repo), colab[0]
        assert m["path"] == f"notebooks/{page.slug}.ipynb", colab[0]
        assert (built_book / m["path"]).is_file(), f"{m['path']} is not in the built site"


def test_download_notebook_link_resolves(built_book: Path) -> None:
    """The download menu's .ipynb entry is the generated notebook, by a working relative link."""
    for page in code_pages():
        html = built_book / f"{page.docname}.html"
        hrefs = [h for h, cls in html_links(html) if "btn-download-notebook-button" in cls]
        assert len(hrefs) == 1, f"{page.docname}: download-notebook links {hrefs}"
        target = urlparse(urljoin(html.as_uri(), hrefs[0])).path
        assert Path(target).resolve() == (built_book / "notebooks" / f"{page.slug}.ipynb").resolve()


def test_pages_without_code_have_no_colab_or_notebook(built_book: Path) -> None:
    """A page without code cells has nothing to run: no Colab entry, no notebook download."""
    with_code = {p.docname for p in code_pages()}
    for page in book_pages(SITE_ROOT):
        if page.docname in with_code:
            continue
        links = html_links(built_book / f"{page.docname}.html")
        assert not [h for h, _ in links if h.startswith("https://colab.research.google.com")], page.docname
        assert not [h for h, c in links if "btn-download-notebook-button" in c], page.docname
    names = {p.name for p in (built_book / "notebooks").glob("*.ipynb")}
    assert names == {f"{p.slug}.ipynb" for p in code_pages()}


def test_edit_and_repository_buttons_keep_the_source_branch(built_book: Path) -> None:
    org, repo, branch = repository()
    page = code_pages()[0]
    hrefs = [h for h, _ in html_links(built_book / f"{page.docname}.html")]
    assert f"https://github.com/{org}/{repo}" in hrefs
    assert f"https://github.com/{org}/{repo}/edit/{branch}/{page.docname}.md" in hrefs


# --- (d) the notebooks themselves ------------------------------------------------------------


def read_notebooks(built_book: Path) -> dict[str, nbformat.NotebookNode]:
    return {p.slug: nbformat.read(built_book / "notebooks" / f"{p.slug}.ipynb", as_version=4)
            for p in code_pages()}


def test_notebooks_have_no_outputs(built_book: Path) -> None:
    for name, nb in read_notebooks(built_book).items():
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (name, cell.source[:80])
            assert "attachments" not in cell, name


def top_level(source: str) -> list:
    import ast

    return ast.parse(source).body


def own_lines(cell: str, source: str) -> list[str]:
    """A notebook cell's lines without the comment lines the notebook prepends (form titles,
    notes), or [] if nothing is left."""
    lines, theirs = cell.splitlines(), set(source.splitlines())
    while lines and lines[0].startswith("#") and lines[0] not in theirs:
        lines.pop(0)
    return lines if any(ln.strip() for ln in lines) else []


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    if not part:
        return False
    it = iter(whole)
    return all(line in it for line in part)


def test_notebooks_keep_every_code_cell_after_a_setup_cell(built_book: Path) -> None:
    """Setup cell first (installing this repository's code/ with --no-deps); then every code
    cell of the page in order, remove-cell ones included, only without the book's own checks
    (their top-level asserts); no MyST syntax left in the prose."""
    import jupytext

    org, repo, _ = repository()
    pages = {p.slug: p for p in code_pages()}
    for name, nb in read_notebooks(built_book).items():
        setup = nb.cells[0]
        assert setup.cell_type == "code" and setup.id == SETUP_ID, name
        assert re.search(rf'mlpbook @ git\+https://github\.com/{org}/{repo}@[\w.-]+#subdirectory=code',
                         setup.source), setup.source
        assert '%pip install -q --no-deps "{_mlpbook_src}"' in setup.source
        assert "MLPBOOK_PIP_SOURCE" in setup.source
        source = jupytext.read(pages[name].path, fmt="md:myst")
        got = iter([c.source for c in nb.cells[1:] if c.cell_type == "code"])
        pending = next(got, None)
        for cell in (c for c in source.cells if c.cell_type == "code"):
            tags = cell.metadata.get("tags", [])
            if "book-only" in tags:
                continue
            if "raises-exception" in tags:  # wrapped so that "Run all" prints the error, goes on
                body = textwrap.indent(cell.source.rstrip("\n"), "    ")
                assert pending is not None and f"try:\n{body}\nexcept Exception:" in pending, \
                    (name, cell.source[:80])
                pending = next(got, None)
            elif "remove-cell" not in tags:  # verbatim (a comment line may be prepended)
                assert pending is not None and pending.endswith(cell.source), (name, cell.source[:80])
                pending = next(got, None)
            elif pending is not None and is_subsequence(
                    own_lines(pending, cell.source), cell.source.splitlines()):
                # kept without the book's top-level assert statements
                assert not any(type(n).__name__ == "Assert" for n in top_level(pending)), pending
                pending = next(got, None)
            else:  # left out: the cell was nothing but the book's assertions
                assert all(type(n).__name__ == "Assert" for n in top_level(cell.source)), cell.source
        assert pending is None, f"{name}: unexpected extra code cell {pending[:80]!r}"
        prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        left = re.findall(r"\{[\w:.-]+\}`[^`]*`|^\s*(?:```|:::)\{[^}]+\}.*$|^\([\w-]+\)=$",
                          prose, re.MULTILINE)
        assert not left, f"{name}: MyST syntax left in the notebook: {left[:5]}"


# --- (b) Colab simulation --------------------------------------------------------------------


def make_colab_venv(dest: Path, site_view: Path) -> Path:
    """A virtualenv that sees .venv's packages (torch, ipykernel, pip, setuptools...) through a
    .pth line to ``site_view`` (symlinks to all of .venv's site-packages but mlpbook and myst_nb;
    .pth files there are not processed, so the editable mlpbook stays invisible)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    python = dest / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "colab-sim.pth").write_text(f"{site_view}\n")
    return python


def site_view(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not HIDDEN_FROM_COLAB.search(entry.name) and entry.name != "__pycache__":
            (dest / entry.name).symlink_to(entry)
    return dest


def run_in_colab_sim(notebook: str, python: str, code_dir: str, workdir: str) -> dict:
    """Execute one notebook top to bottom in the simulated Colab; report what happened."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    work = Path(workdir)
    kernels = work / "jupyter" / "kernels" / "colab-sim"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (simulated Colab)", "language": "python"}))
    os.environ["JUPYTER_PATH"] = str(work / "jupyter")
    drop = ("PIP_", "PYTHON", "VIRTUAL_ENV", "CONDA", "JUPYTER", "MLPBOOK", "IPYTHON")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update({
        "PATH": f"{Path(python).parent}{os.pathsep}{env.get('PATH', '')}",
        "MLPBOOK_PIP_SOURCE": code_dir,
        # pip offline, building with the setuptools it can already import. Beware pip's
        # inverted semantics: PIP_NO_BUILD_ISOLATION=0 *disables* build isolation.
        "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_CACHE_DIR": str(work / "pip-cache"), "PYTHONNOUSERSITE": "1",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    })
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json, sys, mlpbook\n"
        "print(json.dumps({'mlpbook': mlpbook.__file__, 'prefix': sys.prefix,\n"
        "                  'myst_nb_file': getattr(sys.modules.get('myst_nb'), '__file__', None)}))"))
    km = KernelManager(kernel_name="colab-sim", kernel_spec_manager=KernelSpecManager(),
                       transport="ipc", ip=str(work / "kernel"))
    client = NotebookClient(nb, km=km, timeout=300, kernel_name="colab-sim",
                            resources={"metadata": {"path": str(Path(notebook).parent)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute(env=env, cwd=str(Path(notebook).parent))
    except CellExecutionError as exc:
        error = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))[-3000:]
    except Exception as exc:  # kernel died, timeout...
        error = repr(exc)
    text = lambda cell: "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")
    probe = text(nb.cells[-1]).strip().splitlines()
    return {"notebook": Path(notebook).name, "error": error, "seconds": time.perf_counter() - start,
            "setup": text(nb.cells[0]), "probe": json.loads(probe[-1]) if probe and not error else None}


@pytest.fixture(scope="module")
def colab_sim(built_book: Path):
    """Run every generated notebook in the simulated Colab, two at a time."""
    tmp = Path(tempfile.mkdtemp(prefix="colab-sim-"))  # outside the repository, always
    view = site_view(tmp / "site-view")
    jobs = []
    for n, src in enumerate(sorted((built_book / "notebooks").glob("*.ipynb"))):
        work = tmp / f"run-{n}"
        (work / "notebooks").mkdir(parents=True)
        notebook = shutil.copy2(src, work / "notebooks" / src.name)
        python = make_colab_venv(work / "venv", view)
        # Each run installs from its own copy: setuptools builds in the source tree.
        code = shutil.copytree(SITE_ROOT / "code", work / "code",
                               ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
        jobs.append((str(notebook), str(python), str(code), str(work)))
    probe = subprocess.run(
        [jobs[0][1], "-c", "import importlib.util as u, json; print(json.dumps("
         "{m: u.find_spec(m) is not None for m in ('mlpbook', 'myst_nb', 'torch', 'ipykernel', 'pip', 'setuptools')}))"],
        capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]})
    found = json.loads(probe.stdout)
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, min(WORKERS, len(jobs)))) as pool:
        results = list(pool.map(run_in_colab_sim, *zip(*jobs)))
    yield {"found": found, "results": results, "jobs": jobs, "seconds": time.perf_counter() - start}
    shutil.rmtree(tmp, ignore_errors=True)


def test_colab_sim_starts_without_mlpbook_and_myst_nb(colab_sim: dict) -> None:
    """The simulated Colab has torch & co., but neither mlpbook nor myst_nb, before setup."""
    assert colab_sim["found"] == {"mlpbook": False, "myst_nb": False, "torch": True,
                                  "ipykernel": True, "pip": True, "setuptools": True}


def test_every_notebook_runs_top_to_bottom_in_colab_sim(colab_sim: dict) -> None:
    failed = [f"{r['notebook']}:\n{r['error']}" for r in colab_sim["results"] if r["error"]]
    assert not failed, "\n\n".join(failed)
    assert len(colab_sim["results"]) == len(code_pages())


def test_setup_cell_installed_mlpbook_in_colab_sim(colab_sim: dict) -> None:
    """The setup cell ran pip: mlpbook now lives in the throwaway venv, installed (not editable)
    from MLPBOOK_PIP_SOURCE, with nothing else (no torch/numpy/matplotlib: --no-deps); and the
    pages' ``from myst_nb import glue`` got the setup cell's stand-in."""
    for result, (_, python, code, work) in zip(colab_sim["results"], colab_sim["jobs"]):
        assert result["probe"], result
        venv = Path(work) / "venv"
        assert f"Installing mlpbook from {code}" in result["setup"], result["setup"]
        assert Path(result["probe"]["mlpbook"]).is_relative_to(venv), result["probe"]
        assert result["probe"]["myst_nb_file"] is None, "the real myst_nb was imported"
        purelib = next(venv.glob("lib/python3*/site-packages"))
        installed = sorted(p.name for p in purelib.iterdir() if p.name != "__pycache__")
        assert "mlpbook" in installed and any(re.fullmatch(r"mlpbook-[\d.]+\.dist-info", n)
                                              for n in installed), installed
        assert all(n.startswith("mlpbook") for n in installed if n != "colab-sim.pth"), installed


# --- (c) no-op where mlpbook is installed ----------------------------------------------------


def test_setup_cell_is_a_no_op_where_mlpbook_is_importable(built_book: Path, tmp_path: Path) -> None:
    """In the book's own kernel (.venv, mlpbook installed editable) the setup cell never calls
    pip, even with MLPBOOK_PIP_SOURCE pointing nowhere: a stand-in ``pip`` on PYTHONPATH records
    any call (and a final ``%pip --version`` proves it would notice one)."""
    from nbclient import NotebookClient

    fake = tmp_path / "fake" / "pip"
    fake.mkdir(parents=True)
    calls = tmp_path / "pip-calls.txt"
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(
        f"import sys\nopen({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n")
    setup = read_notebooks(built_book)[code_pages()[0].slug].cells[0]
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(setup.source),
        nbformat.v4.new_code_cell("import sys, mlpbook, myst_nb\nprint(mlpbook.__file__, myst_nb.__file__)"),
    ])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "MLPBOOK"))}
    env.update({"MLPBOOK_PIP_SOURCE": str(tmp_path / "does-not-exist"),
                "PYTHONPATH": os.pathsep.join([str(fake.parent), str(SITE_ROOT / "code")])})
    NotebookClient(nb, timeout=120, kernel_name="python3").execute(env=env, cwd=str(tmp_path))
    out = ["".join(o.get("text", "") for o in c.outputs) for c in nb.cells]
    assert out[0].strip() == "mlpbook is already installed: nothing to do.", out[0]
    assert not calls.exists(), f"pip was called: {calls.read_text()}"
    mlpbook_file, myst_nb_file = out[1].split()
    assert Path(mlpbook_file).is_relative_to(SITE_ROOT / "code")  # untouched
    assert "site-packages" in myst_nb_file  # the real myst_nb, not the stand-in
    # positive control: the stand-in pip does notice a call
    control = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%pip --version")])
    NotebookClient(control, timeout=60, kernel_name="python3").execute(env=env, cwd=str(tmp_path))
    assert calls.read_text().strip() == "--version"


# --- determinism and the commit --------------------------------------------------------------


@pytest.mark.slow
def test_notebooks_are_deterministic_and_pin_the_ci_commit(built_book: Path, tmp_path: Path) -> None:
    """A second, independent render (another directory, outputs from the cache, GITHUB_SHA set
    as in CI) writes byte-identical notebooks, except that the setup cell pins GITHUB_SHA."""
    from pages import copy_repo

    # Figure numbers (quoted in the notebooks) exist only with outputs: render from the cache.
    root = copy_repo(SITE_ROOT, tmp_path / "repo", with_cache=True)
    sha = "0123456789abcdef0123456789abcdef01234567"
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jb), "build", str(root)], cwd=root, capture_output=True, text=True,
                            env={**os.environ, "GITHUB_SHA": sha})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for page in code_pages():
        ours = (built_book / "notebooks" / f"{page.slug}.ipynb").read_text()
        again = (root / "_build" / "html" / "notebooks" / f"{page.slug}.ipynb").read_text()
        pinned = re.search(r"mlpbook @ git\+https://github\.com/[^@]+@([\w.-]+)#", ours).group(1)
        assert f"@{sha}#subdirectory=code" in again
        assert again.replace(sha, pinned) == ours, page.slug


# --- publishing ------------------------------------------------------------------------------


def test_publish_puts_the_notebooks_on_gh_pages(built_book: Path, tmp_path: Path) -> None:
    """`make publish`'s ghp-import call, into a throwaway repository: the gh-pages branch holds
    every notebook the Colab buttons open, and .nojekyll (else GitHub Pages hides _static/)."""
    from conftest import ROOT

    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^publish: book$", makefile, re.MULTILINE)
    assert re.search(r"ghp_import --no-jekyll --push --force --branch gh-pages", makefile)
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.org"}
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    subprocess.run([sys.executable, "-m", "ghp_import", "--no-jekyll", "--branch", "gh-pages",
                    str(built_book)], cwd=repo, check=True, env=env)
    files = set(subprocess.run(["git", "ls-tree", "-r", "--name-only", "gh-pages"], cwd=repo,
                               capture_output=True, text=True, check=True).stdout.split())
    assert ".nojekyll" in files
    for page in code_pages():
        assert f"notebooks/{page.slug}.ipynb" in files
        assert f"{page.docname}.html" in files
