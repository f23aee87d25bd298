"""The build executes every page, fails loudly on any broken check, and is never stale."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import SITE_ROOT, copy_repo, exec_report, run_build
from pages import CACHE, book_pages

pytestmark = pytest.mark.slow


def flip_central_difference(root: Path) -> None:
    """Inject a fault: the central difference returns the negated slope."""
    path = root / "code" / "mlpbook" / "gradcheck.py"
    text = path.read_text()
    faulty, n = re.subn(r"return \(f\(x \+ h\) - f\(x - h\)\)", "return (f(x - h) - f(x + h))", text)
    assert n == 1, "the central-difference formula was not found in gradcheck.py"
    path.write_text(faulty)


def test_book_builds(built_book: Path) -> None:
    """`make book`: every page executes and renders with warnings as errors."""
    pages = book_pages()
    for page in pages:
        assert (built_book / f"{page.docname}.html").exists(), page.docname
    report = exec_report(SITE_ROOT)
    assert report["failures"] == []


def test_fault_in_package_fails_build_and_names_page(tmp_path: Path) -> None:
    """(a) A sign flip in the package's finite differences fails a fresh build, naming the page."""
    root = copy_repo(tmp_path / "repo")
    flip_central_difference(root)
    result = run_build(root, "--execute-only")
    assert result.returncode != 0
    assert "FAILED book/autograd.md:" in result.stderr
    assert "--- cell source ---" in result.stderr and "Error" in result.stderr


def test_package_change_alone_reexecutes(built_book: Path, tmp_path: Path) -> None:
    """(b) Never stale: with a warm cache and untouched pages, a package fault still fails."""
    root = copy_repo(tmp_path / "repo", with_cache=True)
    flip_central_difference(root)
    result = run_build(root, "--execute-only")
    assert result.returncode != 0, "a stale cache hid a broken gradient check"
    users = {p.docname for p in book_pages(root) if p.has_code and p.imports_mlpbook}
    assert set(exec_report(root)["executed"]) == users
    assert "book/autograd" in [f["page"] for f in exec_report(root)["failures"]]


def test_no_change_rebuild_executes_nothing(built_book: Path, tmp_path: Path) -> None:
    """(c) A rebuild with no change executes zero pages, and still renders the site."""
    root = copy_repo(tmp_path / "repo", with_cache=True)
    result = run_build(root)
    assert result.returncode == 0, result.stderr[-4000:]
    assert exec_report(root)["executed"] == []
    assert (root / "_build" / "html" / "book" / "autograd.html").exists()


def test_prose_edit_reexecutes_one_page(built_book: Path, tmp_path: Path) -> None:
    """Editing one page's prose re-executes that page and no other."""
    root = copy_repo(tmp_path / "repo", with_cache=True)
    page = root / "book" / "autograd.md"
    page.write_text(page.read_text() + "\nOne more sentence of prose.\n")
    result = run_build(root, "--execute-only")
    assert result.returncode == 0, result.stderr[-4000:]
    assert exec_report(root)["executed"] == ["book/autograd"]


def merge_streams(outputs: list) -> list:
    """Outputs as the page renders them: stdout chunks joined (nb_merge_streams), no stderr.

    How a kernel splits one print into stream messages varies from run to run, and stderr
    (warnings naming a temporary file of the kernel) is not rendered (stderr_output: remove).
    """
    merged: list = []
    for out in outputs:
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            continue
        if (out.get("output_type") == "stream" and merged
                and merged[-1].get("output_type") == "stream" and merged[-1]["name"] == out["name"]):
            merged[-1] = {**merged[-1], "text": merged[-1]["text"] + out["text"]}
        else:
            merged.append(dict(out))
    return merged


def cached_outputs(root: Path) -> dict[str, list]:
    """Every page's code-cell outputs as held in the execution cache of ``root``.

    The repository's own path (in tracebacks shown on purpose) is replaced by ``<repo>``.
    """
    from build import read_notebook
    from jupyter_cache import get_cache

    cache = get_cache(str(root / CACHE))
    found = {}
    for page in book_pages(root):
        if page.has_code:
            _, nb = cache.merge_match_into_notebook(read_notebook(page.path))
            outputs = [merge_streams(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code"]
            text = json.dumps(outputs)
            for where in {str(root), str(SITE_ROOT)}:  # the cache may come from SITE_ROOT
                text = text.replace(where, "<repo>")
            found[page.docname] = json.loads(text)
    return found


def test_two_builds_give_the_same_outputs(built_book: Path, tmp_path: Path) -> None:
    """Everything is seeded: re-executing every page reproduces every output, figures included."""
    root = copy_repo(tmp_path / "repo", with_cache=True)
    before = cached_outputs(root)
    result = run_build(root, "--execute-only", "--force")
    assert result.returncode == 0, result.stderr[-4000:]
    after = cached_outputs(root)
    assert after.keys() == before.keys()
    for page in before:
        for i, (a, b) in enumerate(zip(before[page], after[page])):
            assert a == b, f"{page}: the outputs of code cell {i} differ between two executions"
