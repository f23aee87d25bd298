"""`make preview` (tools/serve.py): a save under book/ runs the project's build, and the open
page reloads by itself and shows the edit.

The server runs on a scratch root whose ``tools/build.py`` is a stand-in that writes the page's
text into ``_build/html`` at once (the real build is tested elsewhere; the preview only has to
call it, serve what it wrote and reload the browser). The browser is the session's one Chromium.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browsing import browser  # noqa: F401 (the session's Chromium: a fixture)
from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import serve  # noqa: E402

FAKE_BUILD = '''\
import pathlib, sys
root = pathlib.Path(sys.argv[sys.argv.index("--root") + 1])
out = root / "_build" / "html"
out.mkdir(parents=True, exist_ok=True)
text = (root / "book" / "page.md").read_text()
(out / "index.html").write_text("<!doctype html><html><body><p id=t>" + text + "</p></body></html>")
with open(root / "builds.log", "a") as f:
    f.write("build\\n")
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(predicate, what: str, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            value = predicate()
            if value:
                return value
        except Exception:  # noqa: BLE001 - server not up yet, page mid-reload
            pass
        time.sleep(0.05)
    pytest.fail(f"{what}: not within {timeout:.0f} s")


def test_rebuild_runs_the_project_build(tmp_path: Path) -> None:
    """The change callback runs tools/build.py of the root it serves, and returns its status."""
    (tmp_path / "tools").mkdir()
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "page.md").write_text("hello")
    (tmp_path / "tools" / "build.py").write_text(FAKE_BUILD)
    assert serve.rebuild(tmp_path, 1, (tmp_path / "book" / "page.md",)) == 0
    assert "hello" in (tmp_path / "_build" / "html" / "index.html").read_text()
    (tmp_path / "tools" / "build.py").write_text("raise SystemExit(3)")
    assert serve.rebuild(tmp_path, 1) == 3


def test_the_watch_ignores_the_build_output_and_editor_files(tmp_path: Path) -> None:
    from sphinx_autobuild.filter import IgnoreFilter

    ignore = IgnoreFilter([str(tmp_path / "_build")], list(serve.IGNORED_RE))
    assert ignore(str(tmp_path / "_build" / "html" / "index.html"))
    assert ignore(str(tmp_path / "book" / ".#page.md")) and ignore(str(tmp_path / "book" / "page.md~"))
    assert ignore(str(tmp_path / "code" / "mlpbook" / "__pycache__" / "x.pyc"))
    assert not ignore(str(tmp_path / "book" / "page.md"))
    assert set(serve.WATCHED) >= {"book", "code/mlpbook", "_config.yml", "_toc.yml"}


@pytest.mark.browser
def test_a_saved_edit_reloads_the_open_page(browser, tmp_path: Path) -> None:  # noqa: F811
    root = tmp_path / "repo"
    (root / "tools").mkdir(parents=True)
    (root / "book").mkdir()
    (root / "tools" / "build.py").write_text(FAKE_BUILD)
    page_md = root / "book" / "page.md"
    page_md.write_text("first version")
    port = _free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "tools" / "serve.py"), "--root", str(root),
                               "--port", str(port), "--jobs", "1"], start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    page = browser.new_page()
    try:
        url = f"http://127.0.0.1:{port}/index.html"
        _until(lambda: urllib.request.urlopen(url, timeout=5).status == 200, "the first build")
        page.goto(url)
        assert page.inner_text("#t") == "first version"
        _until(lambda: page.evaluate("ws.readyState") == 1, "the reload socket")
        page_md.write_text("second version")
        _until(lambda: page.inner_text("#t") == "second version", "the edit in the browser")
    finally:
        page.close()
        os.killpg(server.pid, signal.SIGTERM)
        out, _ = server.communicate(timeout=30)
    assert (root / "builds.log").read_text().count("build") >= 2, out
    assert "[preview] changed: book/page.md" in out and "[preview] built in" in out, out


# --- the warm Sphinx (tools/warm_render.py) on a small book -------------------------------------

GLUED = ("from myst_nb import glue\nfrom mlpbook import buildprobe\n"
         "glue('probe_value', buildprobe.VALUE * 7, display=False)")


def _shown(root: Path, name: str) -> str:
    import re

    text = (root / "_build" / "html" / "book" / f"{name}.html").read_text()
    return re.sub(r"<[^>]+>", "", text)


def _site(root: Path) -> dict[str, str]:
    """Every HTML page of the built site, the copy's path and static-file checksums removed."""
    import re

    out = root / "_build" / "html"
    return {str(p.relative_to(out)): re.sub(r"\?v=[0-9a-f]+", "", p.read_text().replace(str(root), "<repo>"))
            for p in sorted(out.rglob("*.html"))}


@pytest.mark.slow
def test_warm_sphinx_renders_prose_and_sends_the_rest_to_the_full_build(tmp_path: Path) -> None:
    """A prose edit is rendered by the warm Sphinx (nothing executed, the glued number from the
    cache, the render recorded); a failing cell goes to tools/build.py, which reports it; the
    mended page too; then prose is warm again; and `make book` after all that gives the site a
    clean build gives."""
    import shutil

    from conftest import exec_report, mini_book, page, run_build

    root = mini_book(tmp_path / "repo", {
        "t-index": page("Index"),
        "t-a": page("A", GLUED).replace("Some prose.", "Seven probes: {glue:text}`probe_value`."),
        "t-b": "# B\n\nA page that links to {doc}`t-a`.\n"})
    (root / "code" / "mlpbook" / "buildprobe.py").write_text("VALUE = 1\n")
    assert run_build(root, timeout=600).returncode == 0
    a = root / "book" / "t-a.md"
    builder = serve.Builder(root, 1, warm=True)
    try:
        assert builder.warm.wait_ready()  # as serve.main does before it serves
        a.write_text(a.read_text().replace("Seven probes:", "A new sentence. Seven probes:"))
        assert builder((a,)) == 0
        report = exec_report(root)
        assert report.get("warm") is True and report["executed"] == [], report
        assert report["rendered"] == {"everything": False, "reread": ["book/t-a"], "succeeded": True}
        assert "A new sentence. Seven probes: 7." in _shown(root, "t-a")

        good = a.read_text()
        a.write_text(good.replace("glue('probe_value'", "raise RuntimeError('broken cell')\nglue('probe_value'"))
        assert builder((a,)) != 0
        report = exec_report(root)
        assert "warm" not in report and [f["page"] for f in report["failures"]] == ["book/t-a"]
        assert report["failures"][0]["error"] == "RuntimeError"

        a.write_text(good.replace("buildprobe.VALUE * 7", "buildprobe.VALUE * 8"))
        assert builder((a,)) == 0
        assert exec_report(root)["executed"] == ["book/t-a"] and "warm" not in exec_report(root)
        assert "Seven probes: 8." in _shown(root, "t-a")

        a.write_text(a.read_text().replace("A new sentence.", "Another sentence."))
        assert builder((a,)) == 0
        assert exec_report(root).get("warm") is True and exec_report(root)["executed"] == []
        assert "Another sentence. Seven probes: 8." in _shown(root, "t-a")
    finally:
        builder.stop()
    assert builder.warm.proc.poll() is not None  # stopped with the server

    made = run_build(root, timeout=600)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    assert exec_report(root)["executed"] == [] and exec_report(root)["rendered"]["reread"] == []
    clean = tmp_path / "clean"
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns("_build"))
    assert run_build(clean, timeout=600).returncode == 0
    after, fresh = _site(root), _site(clean)
    assert after.keys() == fresh.keys()
    for name in after:
        assert after[name] == fresh[name], name
