"""The freshness rules (tools/freshness.py), one by one, without executing anything.

A synthetic book (conftest.mini_book) is "executed" by storing made-up outputs the way the build
stores real ones, so each rule is checked in milliseconds: which pages are executed after an
edit, which are re-rendered, and what happens to damaged or half-written state.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
from pathlib import Path

import freshness
import pytest
from conftest import mini_book, page
from pages import CACHE, book_pages

USES_PACKAGE = "from mlpbook import engine\nprint(engine.Value(2.0))"
COUNTER = itertools.count()


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """An index without code, two pages that import mlpbook, one that does not."""
    return mini_book(tmp_path / "repo", {
        "t-index": page("Index"),
        "t-a": page("A", USES_PACKAGE, "print('a')"),
        "t-b": page("B", "print(6 * 7)"),
        "t-c": page("C", USES_PACKAGE, "print('c')"),
    })


class Said(list):
    """Collects what freshness says."""

    def __call__(self, line: str) -> None:
        self.append(line)


def fake_run(root: Path, docnames: list[str] | None = None, say=None, force: bool = False) -> list[str]:
    """Do what the build does, with made-up outputs (new ones each time): find the stale pages,
    "execute" them (or only ``docnames`` of them: an interrupted build), cache and stamp them."""
    say = say if say is not None else Said()
    stamps = freshness.Stamps.load(root, say)
    cache = freshness.open_cache(root, say)
    stale = freshness.to_execute(root, cache, stamps, say=say, force=force)
    for page_, digest, _ in stale:
        if docnames is not None and page_.docname not in docnames:
            continue
        nb = freshness.read_notebook(page_.path)
        for count, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
            cell.execution_count = count + 1
            cell.outputs = [{"output_type": "stream", "name": "stdout",
                             "text": f"{page_.docname} run {next(COUNTER)}\n"}]
        nb.metadata.pop("source_map", None)
        freshness.store_outputs(cache, stamps, page_, nb, digest, 0.1)
    return [p.docname for p, _, _ in stale]


def stale(root: Path, say=None) -> list[str]:
    """The pages a build would execute now (without executing them)."""
    say = say if say is not None else Said()
    stamps = freshness.Stamps.load(root, say)
    return [p.docname for p, _, _ in freshness.to_execute(
        root, freshness.open_cache(root, say), stamps, say=say)]


def rendered(root: Path) -> None:
    """A render that succeeded."""
    plan = freshness.render_plan(root)
    freshness.begin_render(root)
    freshness.finish_render(root, plan)


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


@pytest.fixture
def built(book: Path) -> Path:
    """The book executed and rendered once: nothing to do."""
    assert fake_run(book) == ["book/t-a", "book/t-b", "book/t-c"]
    rendered(book)
    assert stale(book) == [] and freshness.render_plan(book).reread == []
    return book


def test_first_build_executes_pages_with_code_and_renders_everything(book: Path) -> None:
    assert stale(book) == ["book/t-a", "book/t-b", "book/t-c"]
    plan = freshness.render_plan(book)
    assert plan.everything and plan.reread == sorted(p.docname for p in book_pages(book))


def test_prose_edit_rerenders_that_page_and_executes_nothing(built: Path) -> None:
    """Prose is not an input of execution (the cache serves a page by its code cells alone),
    but it is what the page shows: the page is re-read, nothing runs."""
    b = built / "book" / "t-b.md"
    b.write_text(b.read_text().replace("Some prose.", "Some prose, and one more sentence."))
    append(built / "book" / "t-a.md", "\nA new paragraph after the last cell.\n")
    assert fake_run(built) == []
    plan = freshness.render_plan(built)
    assert not plan.everything and plan.reread == ["book/t-a", "book/t-b"]


@pytest.mark.parametrize("edit", [
    ("print(6 * 7)", "print(6 * 8)"),                                     # a cell's code
    ("```{code-cell} ipython3\nprint(6", "```{code-cell} ipython3\n:tags: [hide-input]\n\nprint(6"),
    ("  name: python3\n", "  name: python3\nmystnb:\n  execution_timeout: 5\n"),  # front matter
    ("Some prose.\n\n", "Some prose.\n\n```{code-cell} ipython3\nx = 1\n```\n\n"),  # a new cell
])
def test_code_edit_executes_and_rerenders_that_page(built: Path, edit: tuple[str, str]) -> None:
    """What execution depends on: code, a cell's options (tags), the front matter, the cells."""
    b = built / "book" / "t-b.md"
    old, new = edit
    assert old in b.read_text()
    b.write_text(b.read_text().replace(old, new, 1))
    assert fake_run(built) == ["book/t-b"]
    plan = freshness.render_plan(built)
    assert not plan.everything and plan.reread == ["book/t-b"]


def test_page_without_code_is_rerendered_not_executed(built: Path) -> None:
    append(built / "book" / "t-index.md", "\nOne more sentence.\n")
    assert stale(built) == []
    assert freshness.render_plan(built).reread == ["book/t-index"]


@pytest.mark.parametrize("name", ["engine.py", "explorer-core.js", "explorer.css", "assets/widget.js"])
def test_package_edit_executes_the_pages_that_import_it(built: Path, name: str) -> None:
    """An edit to a module, or to a file the package ships: the explorer's script and style,
    which pages inline in their outputs, or a new one in a folder of its own."""
    path = built / "code" / "mlpbook" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(path.read_text() + "\n// an edit\n" if path.exists() else "// new\n")
    assert fake_run(built) == ["book/t-a", "book/t-c"]
    assert freshness.render_plan(built).reread == ["book/t-a", "book/t-c"]


@pytest.mark.parametrize("name", ["requirements.txt", "_config.yml"])
def test_requirements_or_config_edit_executes_and_rerenders_everything(built: Path, name: str) -> None:
    append(built / name, "\n# an edit\n")
    assert fake_run(built) == ["book/t-a", "book/t-b", "book/t-c"]
    plan = freshness.render_plan(built)
    assert plan.everything and "configuration" in plan.reason


@pytest.mark.parametrize("name", ["tools/sphinxext/mlpbook_build.py", "book/_static/custom.css",
                                  "book/references.bib", "_toc.yml"])
def test_extension_static_or_toc_edit_rerenders_everything_executes_nothing(built: Path, name: str) -> None:
    append(built / name, "\n")
    assert stale(built) == []
    assert freshness.render_plan(built).everything


def test_missing_cache_entry_is_executed(built: Path) -> None:
    from jupyter_cache.cache.db import NbCacheRecord

    cache = freshness.open_cache(built)
    a = book_pages(built)[1]
    pk, _ = freshness.cached_notebook_path(cache, a)
    NbCacheRecord.remove_records([pk], cache.db)
    said = Said()
    assert stale(built, said) == ["book/t-a"] and said == []  # missing is stale, not damage


@pytest.mark.parametrize("damage", ["deleted", "truncated", "replaced"])
def test_damaged_cached_notebook_is_said_discarded_and_executed(built: Path, damage: str) -> None:
    cache = freshness.open_cache(built)
    a = book_pages(built)[1]
    pk, notebook = freshness.cached_notebook_path(cache, a)
    if damage == "deleted":
        notebook.unlink()
    elif damage == "truncated":
        notebook.write_bytes(notebook.read_bytes()[:100])
    else:  # valid JSON, but not what was stamped
        nb = json.loads(notebook.read_text())
        nb["cells"][0]["outputs"] = []
        notebook.write_text(json.dumps(nb))
    said = Said()
    assert stale(built, said) == ["book/t-a"]
    assert len(said) == 1 and "t-a.md" in said[0], said
    assert freshness.cached_notebook_path(freshness.open_cache(built), a) is None  # discarded
    assert fake_run(built) == ["book/t-a"] and stale(built) == []


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 100])
def test_unreadable_cache_database_is_said_and_every_page_executed(built: Path, content: bytes) -> None:
    (built / CACHE / "global.db").write_bytes(content)
    said = Said()
    assert fake_run(built, say=said) == ["book/t-a", "book/t-b", "book/t-c"]
    assert len(said) == 1 and "global.db" in said[0], said
    assert stale(built) == []


@pytest.mark.parametrize("content", ['{"version": 2, "pages": {"book/t-a": {"inp', "[]", ""])
def test_unreadable_stamps_are_said_and_every_page_executed(built: Path, content: str) -> None:
    (built / freshness.STAMPS).write_text(content)
    said = Said()
    assert fake_run(built, say=said) == ["book/t-a", "book/t-b", "book/t-c"]
    assert len(said) == 1 and "stamps" in said[0], said
    assert stale(built) == []


def test_interrupted_execution_keeps_what_finished(built: Path) -> None:
    """Each page is cached and stamped as it finishes: after an interrupt, only the pages that
    had not finished are executed again."""
    append(built / "code" / "mlpbook" / "engine.py", "\n# an edit\n")
    assert fake_run(built, docnames=["book/t-a"]) == ["book/t-a", "book/t-c"]
    assert stale(built) == ["book/t-c"]


def test_render_follows_the_cache_not_what_this_run_executed(built: Path) -> None:
    """A build executes pages, then fails (another page) or is interrupted before it renders:
    the next render re-reads them although the next build executes none of them."""
    append(built / "code" / "mlpbook" / "engine.py", "\n# an edit\n")
    fake_run(built)  # executed and cached, never rendered
    assert stale(built) == []
    plan = freshness.render_plan(built)
    assert not plan.everything and plan.reread == ["book/t-a", "book/t-c"]
    rendered(built)
    assert freshness.render_plan(built).reread == []


def test_new_outputs_of_unchanged_inputs_are_rerendered(built: Path) -> None:
    """Re-executed with the same inputs (--force, or after a repair), a page may print other
    outputs: those are what the cache now holds, so they are rendered."""
    assert fake_run(built, docnames=["book/t-b"], force=True) == ["book/t-a", "book/t-b", "book/t-c"]
    assert freshness.render_plan(built).reread == ["book/t-b"]


def test_interrupted_render_is_followed_by_a_full_render(built: Path) -> None:
    freshness.begin_render(built)  # ... and never finished
    plan = freshness.render_plan(built)
    assert plan.everything and "did not finish" in plan.reason
    rendered(built)
    assert not freshness.render_plan(built).everything


def test_unreadable_render_record_means_a_full_render(built: Path) -> None:
    (built / freshness.RENDERED).write_text('{"site": "abc", "pag')
    said = Said()
    assert freshness.render_plan(built, said).everything
    assert len(said) == 1 and "render record" in said[0]


def test_pages_with_identical_code_share_an_entry_without_ping_pong(tmp_path: Path) -> None:
    """jupyter-cache keys an entry on the code alone: two pages with the same code share it.
    Storing one restamps the other, so neither is taken for damaged and re-executed forever."""
    root = mini_book(tmp_path / "repo", {"t-index": page("Index"), "t-a": page("A", "print(1)"),
                                         "t-b": page("B", "print(1)")})
    assert fake_run(root) == ["book/t-a", "book/t-b"]
    said = Said()
    assert stale(root, said) == [] and said == []
    append(root / "book" / "t-a.md", "\nProse.\n")
    assert fake_run(root) == []  # prose: nothing runs
    # re-executed with the same code (here: an edit of its front matter, which jupyter-cache
    # does not key on), A stores new outputs in the shared entry; B is restamped with them
    a = root / "book" / "t-a.md"
    a.write_text(a.read_text().replace("  name: python3\n", "  name: python3\nmystnb:\n  x: 1\n", 1))
    assert fake_run(root) == ["book/t-a"]
    assert stale(root, said) == [] and said == []


def test_first_format_stamps_are_checked_then_kept(built: Path) -> None:
    """Stamps written by the build before the outputs were stamped: trusted only once the cached
    notebook is read back, then upgraded; no page is executed for it."""
    stamps = json.loads((built / freshness.STAMPS).read_text())["pages"]
    (built / freshness.STAMPS).write_text(json.dumps({k: v["inputs"] for k, v in stamps.items()}))
    said = Said()
    assert stale(built, said) == [] and said == []
    assert json.loads((built / freshness.STAMPS).read_text())["pages"]["book/t-a"]["outputs"]


def test_writes_are_atomic(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    freshness.write_atomic(target, "old")
    freshness.write_atomic(target, "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["state.json"]


def test_ctrl_c_waits_for_writes_that_belong_together() -> None:
    # Python's own Ctrl-C handler, as tools/build.py installs it: also where pytest started with
    # SIGINT ignored (a shell script's background job, `make test &`)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    done = []
    try:
        with pytest.raises(KeyboardInterrupt):
            with freshness.no_interrupt():
                os.kill(os.getpid(), signal.SIGINT)
                done.append("the second write")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert done == ["the second write"]
