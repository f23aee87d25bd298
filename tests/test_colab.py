"""Colab: every page with code opens in Colab as a generated notebook that a student can use.

(a) the converter without Sphinx: the GitHub location, plumbing removal, MyST -> Markdown,
    notebook assembly and the solutions split, on small inputs;
(b) the GitHub location, in temporary copies rendered with a GitHub ``origin``, with
    ``GITHUB_REPOSITORY``, and with neither: every Colab, download, repository and edit link
    uses it, or there is none (and no placeholder anywhere in the site);
(c) the notebooks of the built book: no outputs, the page's code without the build's
    plumbing, every glued value instead of its key, no solution in the student's notebook;
(d) a simulated Colab (a fresh virtualenv where neither ``mlpbook`` nor ``myst_nb`` is
    importable, offline): every notebook runs top to bottom after its setup cell installed
    ``mlpbook`` from a local ``code/``; again after a student changed a learning rate, a number
    of epochs or a seed, with no error from a cell the site hides; and the setup cell stops at
    once, naming the source, when the source is unreachable.
"""

from __future__ import annotations

import ast
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
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urljoin, urlparse

import nbformat
import pytest
from conftest import ROOT, SITE_ROOT
import pages
from pages import book_pages, copy_repo

sys.path.insert(0, str(ROOT / "tools" / "sphinxext"))
from colab_notebooks.location import Location, check_publish, github_parts, resolve  # noqa: E402
from colab_notebooks.markdown import MystToMarkdown, References, Target  # noqa: E402
from colab_notebooks.notebook import page_notebooks, strip_plumbing  # noqa: E402
from colab_notebooks.setup_cell import SETUP_CELL_ID as SETUP_ID  # noqa: E402  (test_explorer too)
from colab_notebooks.setup_cell import install_advice, setup_source  # noqa: E402
from editions import page_cells  # noqa: E402

COLAB = "https://colab.research.google.com"
COLAB_HREF = re.compile(
    r"^https://colab\.research\.google\.com/github/(?P<org>[\w.-]+)/(?P<repo>[\w.-]+)"
    r"/blob/gh-pages/(?P<path>notebooks/[\w.-]+\.ipynb)$")
HIDDEN = {"remove-cell", "remove-input"}
PLUMBING_CALLS = {"glue", "assert_close", "assert_allclose", "assert_equal", "assert_array_equal",
                  "assert_array_almost_equal"}
# Neither may be importable in the simulated Colab: mlpbook (the setup cell must install it)
# and myst_nb (the setup cell's shim must stand in for it). pip and setuptools come from .venv.
HIDDEN_FROM_COLAB = re.compile(r"^(mlpbook|myst_nb|__editable__)|\.pth$", re.IGNORECASE)
WORKERS = int(os.environ.get("MLPBOOK_COLAB_WORKERS", "2"))
NO_GITHUB = ("GITHUB_REPOSITORY", "GITHUB_SHA")
PLACEHOLDER = b"YOUR" + b"-ORG"  # the old placeholder organisation (spelled so as not to be one)


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def without_github(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in NO_GITHUB}, **extra}


# =============================================================================================
# (a) the converter, without Sphinx
# =============================================================================================


@pytest.mark.parametrize("url, parts", [
    ("https://github.com/org/repo", ("org", "repo")),
    ("https://github.com/org/repo.git", ("org", "repo")),
    ("https://x-access-token:abc@github.com/my-org/my.repo/", ("my-org", "my.repo")),
    ("git@github.com:org/repo.git", ("org", "repo")),
    ("ssh://git@github.com/org/repo.git", ("org", "repo")),
    ("https://gitlab.com/org/repo", None),
    ("/srv/git/mlp-book.git", None),
    ("https://github.com/org", None),
    ("", None),
])
def test_github_parts(url: str, parts) -> None:
    assert github_parts(url) == parts


def book_root(tmp: Path, url: str | None = None, baseurl: str = "") -> Path:
    """A minimal book root: a _config.yml, optionally with repository.url and html.baseurl."""
    tmp.mkdir(parents=True, exist_ok=True)
    repo = f"repository:\n  branch: trunk\n" + (f"  url: {url}\n" if url else "")
    (tmp / "_config.yml").write_text(repo + f"html:\n  baseurl: '{baseurl}'\n")
    return tmp


def test_location_order_env_then_origin_then_config(tmp_path: Path) -> None:
    root = book_root(tmp_path / "book", url="https://github.com/cfg-org/cfg-repo")
    env: dict[str, str] = {}
    loc, source = resolve(root, env)
    assert (loc.org, loc.repo, loc.branch, source) == ("cfg-org", "cfg-repo", "trunk",
                                                       "repository.url in _config.yml")
    assert loc.commit == "trunk"  # no git checkout, no GITHUB_SHA: the branch
    git(root, "init", "-q")
    git(root, "remote", "add", "origin", "git@github.com:origin-org/origin-repo.git")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "x")
    loc, source = resolve(root, env)
    assert (loc.org, loc.repo, source) == ("origin-org", "origin-repo", "git remote origin")
    assert loc.commit == git(root, "rev-parse", "HEAD")
    loc, source = resolve(root, {"GITHUB_REPOSITORY": "env-org/env-repo", "GITHUB_SHA": "a" * 40})
    assert (loc.org, loc.repo, loc.commit, source) == ("env-org", "env-repo", "a" * 40,
                                                       "GITHUB_REPOSITORY")


def test_location_none_says_why_and_ignores_an_enclosing_checkout(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    outer.mkdir()
    git(outer, "init", "-q")
    git(outer, "remote", "add", "origin", "https://github.com/outer-org/outer-repo")
    root = book_root(outer / "copy")  # a copy of the book inside another checkout
    loc, why = resolve(root, {})
    assert loc is None
    assert "GITHUB_REPOSITORY is not set" in why and "no repository.url" in why, why
    git(root, "init", "-q")
    git(root, "remote", "add", "origin", "/srv/git/book.git")
    loc, why = resolve(root, {"GITHUB_REPOSITORY": "not a slug"})
    assert loc is None and "/srv/git/book.git, not GitHub" in why and "not <owner>/<repo>" in why


def test_location_urls() -> None:
    loc = Location("My-Org", "mlp-book", "main", "c" * 40, "", "test")
    assert loc.site_url() == "https://my-org.github.io/mlp-book/"
    assert loc.site_url("https://book.example.org/week3") == "https://book.example.org/week3/"
    assert Location("me", "Me.github.io", "main", "c", "", "t").site_url() == "https://me.github.io/"
    assert loc.colab_url("mlp") == f"{COLAB}/github/My-Org/mlp-book/blob/gh-pages/notebooks/mlp.ipynb"
    assert loc.pip_requirement() == f"mlpbook @ git+https://github.com/My-Org/mlp-book@{'c' * 40}#subdirectory=code"
    sub = Location("o", "r", "main", "abc", "books/week3", "t")
    assert sub.pip_requirement().endswith("@abc#subdirectory=books/week3/code")
    assert sub.raw_url("book/x.png") == "https://raw.githubusercontent.com/o/r/abc/books/week3/book/x.png"


def test_publish_refuses_without_a_github_location(tmp_path: Path) -> None:
    """`make publish` runs location.py --check first: without a GitHub location, or with an
    origin that is not the site's repository, it refuses and says why."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^publish:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)[1].splitlines()
    assert "location.py --check" in recipe[0], recipe  # before building anything
    assert any("ghp_import --no-jekyll --push --force --branch gh-pages" in ln for ln in recipe)
    script = ROOT / "tools" / "sphinxext" / "colab_notebooks" / "location.py"
    root = book_root(tmp_path / "book")

    def check(**env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(script), "--check", "--root", str(root)],
                              capture_output=True, text=True, env=without_github(**env))

    refused = check()
    assert refused.returncode == 1 and "no GitHub location" in refused.stderr, refused.stderr
    git(root, "init", "-q")
    git(root, "remote", "add", "origin", "https://github.com/fork-owner/fork.git")
    elsewhere = check(GITHUB_REPOSITORY="other/repo")
    assert elsewhere.returncode == 1 and "fork-owner/fork" in elsewhere.stderr, elsewhere.stderr
    ok = check()
    assert ok.returncode == 0 and "https://github.com/fork-owner/fork" in ok.stdout, ok.stdout
    assert check_publish(root, {})[0]


# --- the build's plumbing ---------------------------------------------------------------------


def plumbing_nodes(source: str, *, in_functions: bool = True) -> list[str]:
    """Every assert, glue/assert_close call and myst_nb import in ``source`` (and in its
    function and class bodies, unless ``in_functions`` is False)."""
    found = []
    todo = [ast.parse(source)]
    nodes = []
    while todo:
        node = todo.pop()
        nodes.append(node)
        if in_functions or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    for node in sorted(nodes, key=lambda n: getattr(n, "lineno", 0)):
        if isinstance(node, ast.Assert):
            found.append(f"line {node.lineno}: assert")
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in PLUMBING_CALLS:
                found.append(f"line {node.lineno}: {name}(...)")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(m.split(".")[0] == "myst_nb" for m in modules):
                found.append(f"line {node.lineno}: import myst_nb")
    return found


def test_strip_plumbing() -> None:
    source = textwrap.dedent("""\
        import torch
        from myst_nb import glue
        x = torch.ones(3)
        # the book checks the sum
        assert x.sum() == 3, "sum"
        torch.testing.assert_close(x, torch.ones(3),
                                   atol=0, rtol=0)
        for name in ("a", "b"):
            glue(f"k_{name}", 1.0, display=False)
        if x.sum() > 0:
            glue("pos", True, display=False)
        else:
            y = 2

        def helper(v):
            assert v > 0   # a function's own check is not the build's
            return v
        glue("n", helper(3), display=False)
        print(x)""")
    out = strip_plumbing(source)
    assert plumbing_nodes(out) == ["line 9: assert"], out  # only the one inside helper()
    assert out == textwrap.dedent("""\
        import torch
        x = torch.ones(3)
        if x.sum() > 0:
            pass
        else:
            y = 2

        def helper(v):
            assert v > 0   # a function's own check is not the build's
            return v
        print(x)""")
    only = "from myst_nb import glue\nglue('a', 1)\nassert True"
    assert strip_plumbing(only) == ""
    for untouched in ("x = 1; assert x", "%timeit f()\nassert f()", "print('no plumbing')"):
        assert strip_plumbing(untouched) == untouched


# --- MyST -> Markdown ---------------------------------------------------------------------


def refs(site: str = "https://o.github.io/r/") -> References:
    return References(
        labels={
            "sec-b": Target("book/b", "sec-b", "Section B title", kind="section"),
            "fig-b": Target("book/b", "fig-b", "a caption", "2.1", "Fig. %s", "figure"),
            "fig-a": Target("book/a", "fig-a", "own caption", "1.3", "Fig. %s", "figure"),
            "ex-3": Target("book/b", "ex-3", "Exercise", "3", "Exercise %s", "exercise"),
        },
        equations={"eq-b": Target("book/b", "equation-eq-b", "", "4.3", "(%s)", "displaymath"),
                   "eq-a": Target("book/a", "equation-eq-a", "", "1.1", "(%s)", "displaymath")},
        titles={"book/a": "Page A", "book/b": "Page B"},
        glue={"book/a": {"loss": {"text/plain": "0.123456"}, "n": {"text/plain": "12345"},
                         "best": {"text/plain": "'width 2, depth 1'"},
                         "plot": {"image/svg+xml": SVG, "text/plain": "<Figure size 440x300>"}},
              "book/b": {"acc": {"text/plain": "97.4"}}},
        bib={"rumelhart1986": ("Rumelhart et al.", "1986")},
        site=site,
    )


SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
SVG_URI = "data:image/svg+xml;base64," + __import__("base64").b64encode(SVG.encode()).decode()


def convert(text: str, site: str = "https://o.github.io/r/") -> tuple[str, list[str]]:
    converter = MystToMarkdown(refs(site), "book/a", ROOT)
    return converter.convert(textwrap.dedent(text)), converter.problems


@pytest.mark.parametrize("myst, markdown", [
    ("loss {glue:text}`loss:.3f`, n {glue:text}`n:,`, best {glue:text}`best`",
     "loss 0.123, n 12,345, best width 2, depth 1"),
    ("accuracy {glue:text}`b.md::acc:.0f`%", "accuracy 97%"),
    ("see {ref}`sec-b`", "see [Section B title](https://o.github.io/r/book/b.html#sec-b)"),
    ("see {ref}`that section <sec-b>`", "see [that section](https://o.github.io/r/book/b.html#sec-b)"),
    ("do {ref}`ex-3`", "do [Exercise 3](https://o.github.io/r/book/b.html#ex-3)"),
    ("as {numref}`fig-b` shows", "as [Fig. 2.1](https://o.github.io/r/book/b.html#fig-b) shows"),
    ("({numref}`figure {number} <fig-b>`)", "([figure 2.1](https://o.github.io/r/book/b.html#fig-b))"),
    ("here ({numref}`fig-a`)", "here (Fig. 1.3)"),  # on this page: the notebook shows it
    ("by ({eq}`eq-b`) and {eq}`eq-a`", "by [(4.3)](https://o.github.io/r/book/b.html#equation-eq-b) and (1.1)"),
    ("read {doc}`b`", "read [Page B](https://o.github.io/r/book/b.html)"),
    ("as in {cite:p}`rumelhart1986`", "as in (Rumelhart et al., 1986)"),
    ("`{ref}` is a role; ``{glue:text}`loss` `` too", "`{ref}` is a role; ``{glue:text}`loss` `` too"),
    ("then click the cell's output to\nreveal it; the hidden cell below",
     "then run the cell to\nreveal it; the cell below"),
    ("Decide, then show the output.", "Decide, then run the cell."),
])
def test_converter_inline(myst: str, markdown: str) -> None:
    out, problems = convert(myst)
    assert out == markdown
    assert problems == []


def test_converter_shows_a_glued_figure_as_the_figure() -> None:
    """``{glue:figure}`` (and ``{glue}`` of a figure) show the executed figure itself, with the
    site's number and caption, never the glue key (layer-backprop's vanishing-gradient figure
    used to read "the figure `layer_fig_vanishing` is drawn by the code above")."""
    out, problems = convert("""\
        ````{glue:figure} plot
        :name: fig-a
        :alt: A black square.

        Own caption, with {glue:text}`n:,` points.
        ````
        """)
    assert problems == []
    assert out.strip() == f"![A black square.]({SVG_URI})\n\n**Fig. 1.3.** Own caption, with 12,345 points."
    out, problems = convert("inline {glue}`plot`\n\n```{glue} plot\n```\n")
    assert problems == [] and out.count(SVG_URI) == 2 and "plot" not in out.replace(SVG_URI, "")
    out, problems = convert("```{glue:figure} loss\n:name: fig-a\n\nNot a figure.\n```")
    assert problems and "not a figure" in problems[0]


def test_converter_without_a_site_links_nothing() -> None:
    """No site URL (no GitHub location, no html.baseurl): titles and numbers, no link at all."""
    out, _ = convert("{ref}`sec-b`, {doc}`b`, {numref}`fig-b`, {eq}`eq-b`", site="")
    assert out == "*Section B title*, *Page B*, Fig. 2.1, (4.3)"
    assert "](" not in out


def test_converter_references_what_the_edition_removed() -> None:
    """The student edition removes a solution's figure from the site, and so its number and
    its label (editions.py); the instructor notebook, which still holds the figure, says
    where it is instead of failing the build, and a real unknown label is still a problem."""
    removed = refs()
    removed.removed = {"fig-sol": Target("book/a", kind="figure", title="a caption"),
                       "sec-sol": Target("book/a", kind="section", title="Sol section"),
                       "fig-elsewhere": Target("book/b", kind="figure")}
    converter = MystToMarkdown(removed, "book/a", ROOT)
    text = "({numref}`fig-sol`), {ref}`sec-sol`, {numref}`fig-elsewhere`, {ref}`my words <fig-sol>`"
    assert converter.convert(text) == ("(the figure below), Sol section, the figure in Page B, "
                                       "my words")
    assert converter.caption("fig-sol", "a caption") == "*a caption*"  # no number to show
    assert converter.convert("({numref}`fig-sol`)") == "(the figure above)"
    assert converter.problems == []
    converter.convert("{numref}`fig-nowhere`")
    assert converter.problems == ["book/a: unknown label 'fig-nowhere'"]


def test_converter_reports_what_it_cannot_resolve() -> None:
    out, problems = convert("{glue:text}`missing:.2f` and {ref}`nowhere`")
    assert len(problems) == 2 and "missing" in problems[0] and "nowhere" in problems[1]


def test_converter_blocks() -> None:
    out, problems = convert("""\
        ```{exercise-start} Count the parameters
        :label: ex-3
        ```

        ````{admonition} Answer with `code`
        :class: dropdown

        It is {glue:text}`n`.
        ````

        ```{only} html
        Click **Show code cell source** above.
        ```

        ```{only} notebook
        Only in the notebook.
        ```

        ```{note} One line
        More.
        ```
        """)
    assert problems == []
    assert "**Exercise 3 (Count the parameters)**" in out
    assert "<summary><b>Answer with <code>code</code></b></summary>\n\nIt is 12345." in out
    assert "Show code cell source" not in out and "Only in the notebook." in out
    assert "> **Note**\n>\n> One line\n> More." in out


PAGE = '''\
---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  name: python3
  display_name: Python 3
---
# Page A

```{code-cell} ipython3
from myst_nb import glue
x = 1
```

```{code-cell} ipython3
:tags: [remove-cell]

glue("loss", 0.123456, display=False)
assert x == 1
y = x + 1
```

```{code-cell} ipython3
:tags: [book-only]

print("only at build time")
```

The loss is {glue:text}`loss:.2f`.

```{solution-start} ex-3
:class: dropdown
```

The answer is SECRET-PROSE.

```{code-cell} ipython3
z = "SECRET-CODE"
```

```{solution-end}
```

```{code-cell} ipython3
:tags: [raises-exception]

1 / 0
```
'''


def test_page_notebooks_split_solutions(tmp_path: Path) -> None:
    page = tmp_path / "book" / "a.md"
    page.parent.mkdir()
    page.write_text(PAGE)
    converter = MystToMarkdown(refs(), "book/a", tmp_path)
    student, instructor = page_notebooks(page, converter, "print('setup')", "a")
    s, i = nbformat.reads(student, 4), nbformat.reads(instructor, 4)
    assert s.cells[0].id == SETUP_ID and s.cells[0].source == "print('setup')"
    code = [c.source for c in s.cells[1:] if c.cell_type == "code"]
    assert code[0] == "from myst_nb import glue\nx = 1"  # visible: verbatim
    assert code[1] == "y = x + 1"  # hidden: without the plumbing, what later cells need kept
    assert "only at build time" not in student
    assert "try:\n    1 / 0\nexcept Exception:" in code[2]
    assert "The loss is 0.12." in student
    assert "SECRET" not in student and "Solution" not in student
    everything = "\n".join(c.source for c in i.cells)
    assert "SECRET-PROSE" in everything and 'z = "SECRET-CODE"' in everything
    assert "**Solution to Exercise 3**" in everything
    solution = [c for c in i.cells if "SECRET-CODE" in c.source][0]
    assert "solution" in solution.metadata["tags"]
    assert page_notebooks(page, converter, "print('setup')", "a") == (student, instructor)  # same bytes


# =============================================================================================
# (b) the GitHub location, in rendered copies
# =============================================================================================


def code_pages():
    return [p for p in book_pages(SITE_ROOT) if p.has_code]


def html_links(html: Path) -> list[tuple[str, str]]:
    """(href, class) of every link of a page."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html.read_text("utf-8"), "html.parser")
    return [(a["href"], " ".join(a.get("class", []))) for a in soup.find_all("a", href=True)]


def render(root: Path, env: dict[str, str]) -> str:
    """Render a copy of the book from its execution cache (nothing executes); its output."""
    result = pages.jupyter_book(root, "-W", "-n", "--keep-going", env=env)
    assert result.returncode == 0, result.stdout[-6000:]
    return result.stdout


RENDERED: dict[str, tuple[Path, str]] = {}


def rendered(scenario: str) -> tuple[Path, str]:
    """A copy of the repository rendered in one of the location scenarios: (its site, output)."""
    if scenario in RENDERED:
        return RENDERED[scenario]
    root = copy_repo(SITE_ROOT, Path(tempfile.mkdtemp(prefix=f"colab-{scenario}-")) / "repo",
                     with_cache=True)
    env = without_github()
    if scenario == "origin":
        git(root, "init", "-q")
        git(root, "remote", "add", "origin", "git@github.com:fork-owner/fork-repo.git")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "the fork")
    elif scenario.startswith("env"):
        env.update({"GITHUB_REPOSITORY": "env-owner/env-repo",
                    "GITHUB_SHA": ("1" if scenario == "env" else "2") * 40})
    RENDERED[scenario] = root / "_build" / "html", render(root, env)
    return RENDERED[scenario]


# The renders each selected test needs (by test name): started together, two at a time.
SCENARIOS = {"test_github_origin_of_any_fork_is_used": ["origin"],
             "test_github_repository_variable_is_used_and_notebooks_are_deterministic": ["env", "env-again"],
             "test_no_github_location_no_github_button_and_no_placeholder": ["neither"]}


@pytest.fixture(scope="module")
def rendered_copies(built_book: Path, request: pytest.FixtureRequest):
    """``rendered(scenario)``. The renders are independent copies, each a Sphinx process: the
    ones the selected tests need run two at a time (the machine's cores) before the first test."""
    needed = [s for item in request.session.items
              for s in SCENARIOS.get(getattr(item, "originalname", ""), [])]
    def prefetch(scenario: str) -> None:
        try:
            rendered(scenario)
        except AssertionError:  # a render that fails is rendered again, and fails, in its test
            pass

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(prefetch, dict.fromkeys(needed)))
    yield rendered
    for site, _ in RENDERED.values():
        shutil.rmtree(site.parents[2], ignore_errors=True)
    RENDERED.clear()


def assert_links_use(site: Path, org: str, repo: str, branch: str) -> None:
    """Every code page: one Colab link to the published notebook, which exists; the download
    link is the notebook; repository and edit buttons point at org/repo."""
    pages = code_pages()
    assert pages, "no page has code cells"
    for page in pages:
        links = html_links(site / f"{page.docname}.html")
        colab = [h for h, _ in links if h.startswith(COLAB)]
        assert len(colab) == 1, f"{page.docname}: expected one Colab link, found {colab}"
        m = COLAB_HREF.match(colab[0])
        assert m and (m["org"], m["repo"]) == (org, repo), colab[0]
        assert m["path"] == f"notebooks/{page.slug}.ipynb" and (site / m["path"]).is_file()
        hrefs = [h for h, _ in links]
        assert f"https://github.com/{org}/{repo}" in hrefs
        assert f"https://github.com/{org}/{repo}/edit/{branch}/{page.docname}.md" in hrefs
        assert_download_link(site, page)
        nb = nbformat.read(site / "notebooks" / f"{page.slug}.ipynb", 4)
        assert f"git+https://github.com/{org}/{repo}@" in nb.cells[0].source


def assert_download_link(site: Path, page) -> None:
    html = site / f"{page.docname}.html"
    hrefs = [h for h, cls in html_links(html) if "btn-download-notebook-button" in cls]
    assert len(hrefs) == 1, f"{page.docname}: download-notebook links {hrefs}"
    target = urlparse(urljoin(html.as_uri(), hrefs[0])).path
    assert Path(target).resolve() == (site / "notebooks" / f"{page.slug}.ipynb").resolve()


@pytest.mark.book
@pytest.mark.slow
def test_github_origin_of_any_fork_is_used(rendered_copies) -> None:
    site, output = rendered_copies("origin")
    assert "[colab] GitHub location fork-owner/fork-repo (from git remote origin)" in output
    assert_links_use(site, "fork-owner", "fork-repo", "main")
    head = git(site.parents[1], "rev-parse", "HEAD")
    setup = nbformat.read(site / "notebooks" / "mlp.ipynb", 4).cells[0].source
    assert f"git+https://github.com/fork-owner/fork-repo@{head}#subdirectory=code" in setup


@pytest.mark.book
@pytest.mark.slow
def test_github_repository_variable_is_used_and_notebooks_are_deterministic(rendered_copies) -> None:
    """GITHUB_REPOSITORY (Actions) wins; two renders in other directories, with another
    GITHUB_SHA, write the same bytes but for the commit the setup cell pins."""
    site, output = rendered_copies("env")
    assert "[colab] GitHub location env-owner/env-repo (from GITHUB_REPOSITORY)" in output
    assert_links_use(site, "env-owner", "env-repo", "main")
    again, _ = rendered_copies("env-again")
    for page in code_pages():
        ours = (site / "notebooks" / f"{page.slug}.ipynb").read_text()
        theirs = (again / "notebooks" / f"{page.slug}.ipynb").read_text()
        assert f"@{'1' * 40}#subdirectory=code" in ours
        assert theirs.replace("2" * 40, "1" * 40) == ours, page.slug
    mlp = nbformat.read(site / "notebooks" / "mlp.ipynb", 4)
    prose = "\n".join(c.source for c in mlp.cells if c.cell_type == "markdown")
    assert "](https://env-owner.github.io/env-repo/book/" in prose  # links to the published site


@pytest.mark.book
@pytest.mark.slow
def test_no_github_location_no_github_button_and_no_placeholder(rendered_copies) -> None:
    site, output = rendered_copies("neither")
    said = [ln for ln in output.splitlines() if "[colab] no GitHub location" in ln]
    assert len(said) == 1, output[-3000:]
    for page in book_pages(SITE_ROOT):
        links = html_links(site / f"{page.docname}.html")
        assert not [h for h, _ in links if h.startswith(COLAB)], page.docname
        assert not [h for h, c in links if "repository-button" in c or "edit-button" in c
                    or "/edit/" in h], page.docname
        if page.has_code:
            assert_download_link(site, page)  # the .ipynb download stays
    placeholders = [str(f.relative_to(site)) for f in site.rglob("*") if f.is_file()
                    and PLACEHOLDER in f.read_bytes()]
    assert not placeholders, placeholders
    setup = nbformat.read(site / "notebooks" / "mlp.ipynb", 4).cells[0].source
    assert "git+" not in setup and "without a GitHub location" in setup


def test_no_placeholder_in_the_repository() -> None:
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True,
                             text=True).stdout.split() or [str(p.relative_to(ROOT)) for p in
                                                           ROOT.rglob("*") if p.is_file()]
    found = [f for f in tracked if (ROOT / f).is_file() and PLACEHOLDER in (ROOT / f).read_bytes()]
    assert not found, found


# =============================================================================================
# (c) the notebooks of the built book
# =============================================================================================


def site_location() -> Location | None:
    """The GitHub location the built book was rendered with (same environment)."""
    return resolve(SITE_ROOT)[0]


def read_notebooks(site: Path) -> dict[str, nbformat.NotebookNode]:
    return {p.slug: nbformat.read(site / "notebooks" / f"{p.slug}.ipynb", as_version=4)
            for p in code_pages()}


def instructor_notebook(site: Path, slug: str) -> nbformat.NotebookNode | None:
    path = site.parent / "instructor" / f"{slug}-solutions.ipynb"
    return nbformat.read(path, as_version=4) if path.exists() else None


@pytest.mark.book
def test_buttons_of_the_built_book(built_book: Path) -> None:
    """With the build's GitHub location: Colab, repository and edit buttons use it; without:
    none of them. The .ipynb download is there either way; pages without code have neither."""
    location = site_location()
    if location is not None:
        assert_links_use(built_book, location.org, location.repo, location.branch)
    with_code = {p.docname for p in code_pages()}
    for page in book_pages(SITE_ROOT):
        links = html_links(built_book / f"{page.docname}.html")
        colab = [h for h, _ in links if h.startswith(COLAB)]
        if page.docname in with_code:
            assert_download_link(built_book, page)
            assert bool(colab) == (location is not None), (page.docname, colab)
        else:
            assert not colab, page.docname
            assert not [h for h, c in links if "btn-download-notebook-button" in c], page.docname
    names = {p.name for p in (built_book / "notebooks").glob("*.ipynb")}
    assert names == {f"{p.slug}.ipynb" for p in code_pages()}


@pytest.mark.book
def test_notebooks_have_no_outputs(built_book: Path) -> None:
    for name, nb in read_notebooks(built_book).items():
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (name, cell.source[:80])
            assert "attachments" not in cell, name


def page_code_cells(path: Path) -> list[tuple[nbformat.NotebookNode, bool]]:
    """The page's code cells, each with whether it is inside a solution (editions.py's
    definition, which the site's student edition and the grader use too)."""
    return [(cell, inside) for cell, inside in page_cells(path.read_text(encoding="utf-8"))
            if cell.cell_type == "code"]


def bound_names(source: str, *, skip_plumbing: bool = False) -> set[str]:
    """Names a cell binds at any depth outside functions (what later cells may use)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if skip_plumbing and isinstance(node, ast.stmt) and plumbing_nodes_of(node):
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return names


def plumbing_nodes_of(stmt: ast.stmt) -> bool:
    """A plumbing statement, or a loop, if, with or try holding nothing else."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return False
    if isinstance(stmt, (ast.For, ast.While, ast.If, ast.With, ast.Try)):
        blocks = [stmt.body, getattr(stmt, "orelse", []), getattr(stmt, "finalbody", [])]
        blocks += [h.body for h in getattr(stmt, "handlers", [])]
        return all(plumbing_nodes_of(s) for block in blocks for s in block)
    return bool(plumbing_nodes(ast.unparse(stmt)))


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    it = iter(whole)
    return all(line in it for line in part)


@pytest.mark.book
def test_notebooks_hold_the_code_without_the_plumbing(built_book: Path) -> None:
    """Setup cell first; then every code cell of the page in order: visible ones verbatim,
    hidden ones (remove-cell, remove-input) without their asserts, assert_close, glue calls
    and myst_nb import but binding every name they bound; book-only ones and gated solutions
    left out."""
    for page in code_pages():
        nb = read_notebooks(built_book)[page.slug]
        assert nb.cells[0].cell_type == "code" and nb.cells[0].id == SETUP_ID, page.slug
        got = iter([c for c in nb.cells[1:] if c.cell_type == "code"])
        pending = next(got, None)
        for cell, in_solution in page_code_cells(page.path):
            tags = set(cell.metadata.get("tags", []))
            if "book-only" in tags or in_solution:
                assert pending is None or pending.source != cell.source, (page.slug, cell.source[:80])
                continue
            what = (page.slug, cell.source[:80])
            if "raises-exception" in tags:  # wrapped so that "Run all" prints the error, goes on
                body = textwrap.indent(cell.source.rstrip("\n"), "    ")
                assert pending is not None and f"try:\n{body}\nexcept Exception:" in pending.source, what
            elif not tags & HIDDEN:
                assert pending is not None and pending.source == cell.source, what
            else:
                kept = bound_names(cell.source, skip_plumbing=True) - {"glue"}
                if pending is None or not is_subsequence(
                        [ln for ln in pending.source.splitlines() if ln.strip() != "pass"],
                        cell.source.splitlines()):
                    assert not kept, f"{what}: left out, but it binds {kept}"
                    continue
                assert not plumbing_nodes(pending.source, in_functions=False), what
                assert kept <= bound_names(pending.source), (what, kept - bound_names(pending.source))
            pending = next(got, None)
        assert pending is None, f"{page.slug}: unexpected extra code cell {pending.source[:80]!r}"


@pytest.mark.book
def test_no_build_plumbing_in_notebooks(built_book: Path) -> None:
    """ROSTER contract 4: visible cells hold reader code only, and the notebooks leave out the
    hidden cells' plumbing. So no notebook cell (but the setup cell) calls glue or imports
    myst_nb, and a cell the site hides holds no assert or assert_close."""
    bad = []
    for page in code_pages():
        for cell in read_notebooks(built_book)[page.slug].cells[1:]:
            if cell.cell_type != "code":
                continue
            found = [f for f in plumbing_nodes(cell.source, in_functions=False)
                     if HIDDEN & set(cell.metadata.get("tags", [])) or "glue" in f or "myst_nb" in f]
            bad += [f"{page.slug}: {f} in {cell.source[:60]!r}" for f in found]
    assert not bad, "\n".join(bad)


def glue_keys(page) -> set[str]:
    """Every key the page glues into its text: roles and directives (``{glue:figure}``...)."""
    roles = re.findall(r"\{glue(?::\w+)?\}`(?:[\w./-]+::)?(\w+)", page.text)
    directives = re.findall(r"^\s*[`:]{3,}\{glue(?::\w+)?\}[ \t]+(?:[\w./-]+::)?(\w+)", page.text, re.M)
    return set(roles + directives)


def glued_figures(page) -> list[str]:
    """The keys of the figures the page glues into its text, in order."""
    return re.findall(r"^\s*[`:]{3,}\{glue:figure\}[ \t]+(\w+)", page.text, re.M)


@pytest.mark.book
def test_notebooks_show_glued_values_not_keys(built_book: Path) -> None:
    """No glue key in any markdown cell, and every value the page shows (its `pasted-text`
    spans) appears in the notebook's prose, in the page's order, formatted the same way."""
    from bs4 import BeautifulSoup

    for page in code_pages():
        nbs = {"student": read_notebooks(built_book)[page.slug],
               "instructor": instructor_notebook(built_book, page.slug)}
        gated = "{solution-start}" in page.text
        soup = BeautifulSoup((built_book / f"{page.docname}.html").read_text("utf-8"), "html.parser")
        spans = soup.select("span.pasted-text")
        for who, nb in nbs.items():
            if nb is None:
                continue
            prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
            keys = [k for k in glue_keys(page) if re.search(rf"\b{k}\b", prose)]
            assert not keys, f"{page.slug} ({who}): glue keys in the notebook's text: {keys}"
            figures = re.findall(r"!\[[^\]]*\]\(data:image/[\w+.-]+;base64,", prose)
            shown = [k for k in glued_figures(page)
                     if who == "instructor" or not gated or not _in_solution(page.text, k)]
            assert len(figures) == len(shown), f"{page.slug} ({who}): {len(shown)} glued figures, {len(figures)} shown"
            values = [s.get_text() for s in spans if who == "instructor" or not gated
                      or s.find_parent(class_="solution") is None]
            at = 0
            for value in values:
                found = prose.find(value, at)
                assert found >= 0, f"{page.slug} ({who}): {value!r} missing after {prose[at - 80:at]!r}"
                at = found + len(value)


def _in_solution(text: str, key: str) -> bool:
    return any(re.search(rf"\{{glue:figure\}}[ \t]+{key}\b", b) for b in solution_blocks(text))


def solution_blocks(text: str, *, hidden_cells: bool = True) -> list[str]:
    """The text between each solution-start and solution-end, without the code cells' options
    (``:tags:``, a ``---`` YAML header); without the cells the site hides if not ``hidden_cells``."""
    blocks = re.findall(r"```\{solution-start\}.*?\n```\n(.*?)```\{solution-end\}", text, re.DOTALL)

    def cell(m: re.Match) -> str:
        if not hidden_cells and re.search(r"^:tags:.*remove-(cell|input)", m[2], re.MULTILINE):
            return ""
        body = re.sub(r"^---\n.*?\n---\n", "", m[2], flags=re.DOTALL)
        return m[1] + re.sub(r"^(:[\w-]+:.*\n)+", "", body) + "```"

    return [re.sub(r"(```\{code-cell\}[^\n]*\n)(.*?)```", cell, b, flags=re.DOTALL) for b in blocks]


def significant_lines(blocks: list[str], outside: str) -> set[str]:
    """Lines long enough to be telling, not fences, and not also outside the solutions."""
    return {ln.strip() for block in blocks for ln in block.splitlines()
            if len(ln.strip()) > 12 and not ln.lstrip().startswith("```") and ln.strip() not in outside}


@pytest.mark.book
def test_student_notebook_holds_no_solution(built_book: Path) -> None:
    """ROSTER contract 5: nothing of book/lab.md's solution blocks (prose or code) in the
    student's notebook; all of their code and plain prose in the instructor's."""
    lab = next(p for p in code_pages() if p.docname == "book/lab")
    outside = re.sub(r"```\{solution-start\}.*?```\{solution-end\}", "", lab.text, flags=re.DOTALL)
    lines = significant_lines(solution_blocks(lab.text), outside)
    assert lines, "book/lab.md has no gated solution"
    student = json.loads((built_book / "notebooks" / "lab.ipynb").read_text())
    student_text = "\n".join("".join(c["source"]) for c in student["cells"])
    leaked = sorted(ln for ln in lines if ln in student_text)
    assert not leaked, f"solution text in the student's notebook: {leaked[:5]}"
    instructor = instructor_notebook(built_book, "lab")
    assert instructor is not None, "no _build/instructor/lab-solutions.ipynb"
    instructor_text = "\n".join(c.source for c in instructor.cells)
    plain = {ln for ln in significant_lines(solution_blocks(lab.text, hidden_cells=False), outside)
             if not re.search(r"[{}$`*]", ln)}  # MyST and Markdown syntax is converted
    missing = sorted(ln for ln in plain if ln not in instructor_text)
    assert not missing, f"solution text missing from the instructor's notebook: {missing[:5]}"
    assert not (built_book / "instructor").exists(), "the instructor's notebook is published"


# =============================================================================================
# (d) the Colab simulation
# =============================================================================================


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


def sim_env(python: str, source: str, work: Path) -> dict[str, str]:
    drop = ("PIP_", "PYTHON", "VIRTUAL_ENV", "CONDA", "JUPYTER", "MLPBOOK", "IPYTHON")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update({
        "PATH": f"{Path(python).parent}{os.pathsep}{env.get('PATH', '')}",
        # pip offline, building with the setuptools it can already import. Beware pip's
        # inverted semantics: PIP_NO_BUILD_ISOLATION=0 *disables* build isolation.
        "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_CACHE_DIR": str(work / "pip-cache"), "PYTHONNOUSERSITE": "1",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    })
    if source:  # else the setup cell installs from the source it was built with
        env["MLPBOOK_PIP_SOURCE"] = source
    return env


def execute_in_sim(nb: nbformat.NotebookNode, python: str, source: str, work: Path,
                   cwd: Path, *, allow_errors: bool = False) -> tuple[str | None, float]:
    """Run ``nb`` in place in the simulated Colab: (the error that stopped it, seconds)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    kernels = work / "jupyter" / "kernels" / "colab-sim"
    if not kernels.exists():
        kernels.mkdir(parents=True)
        (kernels / "kernel.json").write_text(json.dumps({
            "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (simulated Colab)", "language": "python"}))
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(work / "jupyter")  # where KernelSpecManager finds colab-sim
    km = KernelManager(kernel_name="colab-sim", kernel_spec_manager=KernelSpecManager(),
                       transport="ipc", ip=str(work / f"kernel-{time.monotonic_ns()}"))
    client = NotebookClient(nb, km=km, timeout=300, kernel_name="colab-sim",
                            allow_errors=allow_errors, resources={"metadata": {"path": str(cwd)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute(env=sim_env(python, source, work), cwd=str(cwd))
    except CellExecutionError as exc:
        error = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))[-3000:]
    except Exception as exc:  # kernel died, timeout...
        error = repr(exc)
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved
    return error, time.perf_counter() - start


def stdout_of(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")


HYPERPARAMETERS = [  # what a student changes, in this order of preference
    (re.compile(r"\blr\s*=\s*(\d+\.\d+|\d+)"), lambda v: f"{float(v) * 0.6:g}"),
    (re.compile(r"\b(?:n_epochs|epochs|n_steps)\s*=\s*(\d+)"), lambda v: str(max(1, int(v) // 2))),
    (re.compile(r"\b(?:seed\s*=\s*|set_seed\(|manual_seed\()(\d+)"), lambda v: str(int(v) + 1)),
]


def change_a_hyperparameter(nb: nbformat.NotebookNode) -> str | None:
    """Change the first learning rate (else number of epochs, else seed) of a cell the site
    shows, as a student would; say what changed, or None if there is none."""
    visible = [c for c in nb.cells[1:] if c.cell_type == "code"
               and not HIDDEN & set(c.metadata.get("tags", []))]
    for pattern, change in HYPERPARAMETERS:
        for cell in visible:
            m = pattern.search(cell.source)
            if m:
                new = change(m[1])
                cell.source = cell.source[:m.start(1)] + new + cell.source[m.end(1):]
                return f"{m[0]} -> {m[0][:m.start(1) - m.start()]}{new}"
    return None


def run_in_colab_sim(notebook: str, python: str, code_dir: str, workdir: str) -> dict:
    """Execute one notebook top to bottom in the simulated Colab, then again (mlpbook now
    installed) with a hyperparameter changed; report what happened."""
    work = Path(workdir)
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json, sys, mlpbook\nfrom myst_nb import glue\nglue('probe', 4242)\n"
        "print(json.dumps({'mlpbook': mlpbook.__file__, 'prefix': sys.prefix,\n"
        "                  'myst_nb_file': getattr(sys.modules.get('myst_nb'), '__file__', None)}))"))
    error, seconds = execute_in_sim(nb, python, code_dir, work, Path(notebook).parent)
    probe = stdout_of(nb.cells[-1]).strip().splitlines()
    glued = [o for o in nb.cells[-1].get("outputs", []) if o.get("output_type") == "execute_result"
             or o.get("output_type") == "display_data"]
    changed = nbformat.read(notebook, as_version=4)
    what = change_a_hyperparameter(changed)
    change_error = None
    if what is not None:
        change_error, _ = execute_in_sim(changed, python, code_dir, work, Path(notebook).parent,
                                         allow_errors=True)
    errors = [{"cell": i, "tags": c.metadata.get("tags", []), "error": o.get("ename", "?"),
               "message": o.get("evalue", "")[:200], "source": c.source[:120]}
              for i, c in enumerate(changed.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    return {"notebook": Path(notebook).name, "error": error, "seconds": seconds,
            "setup": stdout_of(nb.cells[0]),
            "probe": json.loads(probe[-1]) if probe and not error else None,
            "glued": [o.get("data", {}).get("text/plain") for o in glued],
            "changed": what, "change_error": change_error, "errors_after_change": errors}


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
    yield {"found": found, "results": results, "jobs": jobs, "seconds": time.perf_counter() - start,
           "view": view, "tmp": tmp}
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.book
def test_colab_sim_starts_without_mlpbook_and_myst_nb(colab_sim: dict) -> None:
    """The simulated Colab has torch & co., but neither mlpbook nor myst_nb, before setup."""
    assert colab_sim["found"] == {"mlpbook": False, "myst_nb": False, "torch": True,
                                  "ipykernel": True, "pip": True, "setuptools": True}


@pytest.mark.book
def test_every_notebook_runs_top_to_bottom_in_colab_sim(colab_sim: dict) -> None:
    failed = [f"{r['notebook']}:\n{r['error']}" for r in colab_sim["results"] if r["error"]]
    assert not failed, "\n\n".join(failed)
    assert len(colab_sim["results"]) == len(code_pages())


@pytest.mark.book
def test_setup_cell_installed_mlpbook_in_colab_sim(colab_sim: dict) -> None:
    """The setup cell ran pip: mlpbook now lives in the throwaway venv, installed (not editable)
    from MLPBOOK_PIP_SOURCE, with nothing else (no torch/numpy/matplotlib: --no-deps); and
    ``from myst_nb import glue`` got the setup cell's stand-in, which displays the value."""
    for result, (_, python, code, work) in zip(colab_sim["results"], colab_sim["jobs"]):
        assert result["probe"], result
        venv = Path(work) / "venv"
        assert f"Installing mlpbook from {code}" in result["setup"], result["setup"]
        assert Path(result["probe"]["mlpbook"]).is_relative_to(venv), result["probe"]
        assert result["probe"]["myst_nb_file"] is None, "the real myst_nb was imported"
        assert result["glued"] == ["4242"], result["glued"]
        purelib = next(venv.glob("lib/python3*/site-packages"))
        installed = sorted(p.name for p in purelib.iterdir() if p.name != "__pycache__")
        assert "mlpbook" in installed and any(re.fullmatch(r"mlpbook-[\d.]+\.dist-info", n)
                                              for n in installed), installed
        assert all(n.startswith("mlpbook") for n in installed if n != "colab-sim.pth"), installed


@pytest.mark.book
def test_changing_a_hyperparameter_trips_no_hidden_check(colab_sim: dict) -> None:
    """A student changes a visible learning rate, number of epochs or seed and runs all: no
    cell the site hides raises (a visible cell may: the student sees its code)."""
    for result in colab_sim["results"]:  # (-rA shows what changed and what a visible cell said)
        visible = [f"cell {e['cell']}: {e['error']}" for e in result["errors_after_change"]]
        print(f"{result['notebook']}: {result['changed']}; Run all (with install) "
              f"{result['seconds']:.1f} s; errors in visible cells after the change: {visible or 'none'}")
    for result in colab_sim["results"]:
        assert result["changed"], f"{result['notebook']}: no visible lr, epochs or seed to change"
        assert result["change_error"] is None or "CellExecutionError" not in result["change_error"]
        hidden = [e for e in result["errors_after_change"] if HIDDEN & set(e["tags"])]
        assert not hidden, (f"{result['notebook']} after {result['changed']}: a hidden cell "
                            f"failed: {hidden}")


UNREACHABLE = "git+https://127.0.0.1:9/nobody/nothing.git#subdirectory=code"


@pytest.mark.book
@pytest.mark.parametrize("override", [True, False])
def test_setup_cell_stops_at_once_naming_an_unreachable_source(colab_sim: dict, override: bool) -> None:
    """Install source unreachable (MLPBOOK_PIP_SOURCE a missing folder; or, without it, the
    source the notebook was built with): the setup cell stops "Run all" at once with one
    message naming the source and what to do, never a later ModuleNotFoundError."""
    tmp = Path(tempfile.mkdtemp(prefix="colab-unreachable-", dir=colab_sim["tmp"]))
    source = str(tmp / "no-such-dir" / "code") if override else f"mlpbook @ {UNREACHABLE}"
    python = make_colab_venv(tmp / "venv", colab_sim["view"])
    setup = setup_source(f"mlpbook @ {UNREACHABLE}", install_advice("https://github.com/o/r", "c0ffee"))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup),
                                         nbformat.v4.new_code_cell("print('went on')")])
    error, seconds = execute_in_sim(nb, str(python), source if override else "", tmp, tmp)
    assert error is not None, "the setup cell did not stop the notebook"
    shown = "\n".join(line for o in nb.cells[0].outputs if o.get("output_type") == "error"
                      for line in o.get("traceback", []))
    assert shown.startswith("❌ Could not install the course package mlpbook from " + source), shown
    if override:
        assert "Check MLPBOOK_PIP_SOURCE" in shown, shown
    else:
        assert "https://github.com/o/r must be public and commit c0ffee pushed" in shown, shown
    assert "Traceback" not in shown and "ModuleNotFoundError" not in error
    assert nb.cells[1].get("execution_count") is None and not nb.cells[1].outputs  # stopped
    assert seconds < 60, f"took {seconds:.0f} s to fail"


@pytest.mark.book
def test_setup_cell_is_a_no_op_where_mlpbook_is_importable(built_book: Path, tmp_path: Path) -> None:
    """In the book's own kernel (.venv, mlpbook installed editable) the setup cell never calls
    pip, even with MLPBOOK_PIP_SOURCE pointing nowhere: a stand-in ``pip`` on PYTHONPATH records
    any call (and a final ``python -m pip --version`` proves it would notice one)."""
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
    # positive control: the stand-in pip does notice a call made the way the setup cell makes it
    control = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import subprocess, sys\nsubprocess.run([sys.executable, '-m', 'pip', '--version'])")])
    NotebookClient(control, timeout=60, kernel_name="python3").execute(env=env, cwd=str(tmp_path))
    assert calls.read_text().strip() == "--version"


# --- publishing ------------------------------------------------------------------------------


@pytest.mark.book
def test_publish_puts_the_notebooks_on_gh_pages(built_book: Path, tmp_path: Path) -> None:
    """`make publish`'s ghp-import call, into a throwaway repository: the gh-pages branch holds
    every notebook the Colab buttons open, and .nojekyll (else GitHub Pages hides _static/);
    not the instructor's notebooks, which live outside the site."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    env = {**os.environ, "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.org"}
    subprocess.run([sys.executable, "-m", "ghp_import", "--no-jekyll", "--branch", "gh-pages",
                    str(built_book)], cwd=repo, check=True, env=env)
    files = set(git(repo, "ls-tree", "-r", "--name-only", "gh-pages").split())
    assert ".nojekyll" in files
    for page in code_pages():
        assert f"notebooks/{page.slug}.ipynb" in files
        assert f"{page.docname}.html" in files
    assert not [f for f in files if "solutions.ipynb" in f], "an instructor notebook is published"
