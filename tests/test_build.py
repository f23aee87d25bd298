"""The build executes every page, fails loudly on any broken check, and is never stale."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pages
import pytest
from conftest import (BUILD_ENV, SITE_ROOT, build_command, copy_repo, exec_report, kernels_of,
                      mini_book, page, renderers_of, run_build)
from pages import CACHE, book_pages

pytestmark = pytest.mark.slow


def flip_central_difference(root: Path) -> None:
    """Inject a fault: the central difference returns the negated slope."""
    path = root / "code" / "mlpbook" / "gradcheck.py"
    text = path.read_text()
    # return (<term with f(x + h)> - <term with f(x - h)>) / (2 * h): swap the two terms
    faulty, n = re.subn(r"return \(([^\n]*?f\(x \+ h\)[^\n]*?) - ([^\n]*?f\(x - h\)[^\n]*?)\) / \(2 \* h\)",
                        r"return (\2 - \1) / (2 * h)", text)
    assert n == 1, "the central-difference formula was not found in gradcheck.py"
    path.write_text(faulty)


def test_book_builds(built_book: Path) -> None:
    """`make book`: every page executes and renders with warnings as errors."""
    pages = book_pages()
    for page in pages:
        assert (built_book / f"{page.docname}.html").exists(), page.docname
    report = exec_report(SITE_ROOT)
    assert report["failures"] == []


def test_package_fault_alone_fails_the_build_and_names_the_page(built_book: Path,
                                                                tmp_path: Path) -> None:
    """Never stale: with a warm cache and untouched pages, a sign flip in the package's finite
    differences re-executes every page that imports the package, and fails the build, naming
    the page and showing the cell. (A fresh build, without a cache, executes every page anyway.)"""
    root = copy_repo(tmp_path / "repo", with_cache=True)
    flip_central_difference(root)
    result = run_build(root, "--execute-only")
    assert result.returncode != 0, "a stale cache hid a broken gradient check"
    users = {p.docname for p in book_pages(root) if p.has_code and p.imports_mlpbook}
    assert set(exec_report(root)["executed"]) == users
    assert "book/autograd" in [f["page"] for f in exec_report(root)["failures"]]
    assert "FAILED book/autograd.md:" in result.stderr
    assert "--- cell source ---" in result.stderr and "Error" in result.stderr


def test_no_change_rebuild_executes_nothing(built_book: Path, tmp_path: Path) -> None:
    """(c) A rebuild with no change executes zero pages, and still renders the site."""
    root = copy_repo(tmp_path / "repo", with_cache=True)
    result = run_build(root)
    assert result.returncode == 0, result.stderr[-4000:]
    assert exec_report(root)["executed"] == []
    assert (root / "_build" / "html" / "book" / "autograd.html").exists()


def test_prose_edit_executes_nothing_code_edit_one_page(built_book: Path, tmp_path: Path) -> None:
    """Editing one page's prose executes nothing (its render plan re-reads that page); editing
    one of its code cells executes that page and no other."""
    import freshness

    root = copy_repo(tmp_path / "repo", with_cache=True)
    page = root / "book" / "autograd.md"
    text = page.read_text()
    page.write_text(text + "\nOne more sentence of prose.\n")
    result = run_build(root, "--execute-only")
    assert result.returncode == 0, result.stderr[-4000:]
    assert exec_report(root)["executed"] == []
    plan = freshness.render_plan(root)
    assert not plan.everything and plan.reread == ["book/autograd"], plan.reason
    first_cell = text.index("```{code-cell}")
    code = text.index("\n\n", first_cell) + 2  # the first line of code, after the options
    page.write_text(text[:code] + "_edited = True  # a code edit\n" + text[code:])
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


# --- the build machinery under faults, on small synthetic books (conftest.mini_book) -----------
# Each builds a copy whose pages run in about a second, so that every fault costs seconds.

PROBE = Path("code") / "mlpbook" / "buildprobe.py"  # a module only these books' pages import


def set_probe(root: Path, value: int) -> None:
    """Change the package: the probe pages print ``probe <value>``."""
    (root / PROBE).write_text(f'"""A module for the build tests."""\nVALUE = {value}\n')


def probe_book(dest: Path) -> Path:
    """Two pages that print a value from the package, one that does not use it, one that links
    to it (and has no code), and an index."""
    probe = "from mlpbook import buildprobe\nprint('probe', buildprobe.VALUE, {!r})"
    root = mini_book(dest, {"t-index": page("Index"), "t-a": page("A", probe.format("a")),
                            "t-b": page("B", probe.format("b")),
                            "t-c": page("C", "print('plain', 6 * 7)"),
                            "t-d": "# D\n\nA page that links to {doc}`t-c`.\n"})
    set_probe(root, 1)
    return root


def html(root: Path, name: str) -> str:
    """A rendered page, with the copy's own path replaced, and without the ``?v=<checksum>`` of
    static files (Sphinx adds it only when the file was in the output before the page was
    written: not in a first build, for files that extensions copy at its end)."""
    text = (root / "_build" / "html" / "book" / f"{name}.html").read_text()
    return re.sub(r"\?v=[0-9a-f]+", "", text.replace(str(root), "<repo>"))


def build_ok(root: Path, *args: str) -> dict:
    """Build; fail the test with the build's output unless it succeeds; return its report."""
    result = run_build(root, *args, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return exec_report(root)


def shown(root: Path, name: str) -> str:
    """A rendered page's text (its markup removed)."""
    return re.sub(r"<[^>]+>", "", html(root, name))


GLUE_PAGE = ("from myst_nb import glue\nfrom mlpbook import buildprobe\n"
             "glue('probe_value', buildprobe.VALUE * 7, display=False)")


def test_prose_edit_rerenders_its_page_from_the_cache(tmp_path: Path) -> None:
    """A prose edit re-renders its page and executes nothing: the page shows the new sentence
    and the numbers its prose glues from the (unchanged) cached outputs. An edit of its code then
    executes that page alone, and the glued number follows."""
    root = mini_book(tmp_path / "repo", {
        "t-index": page("Index"), "t-c": page("C", "print('plain', 6 * 7)"),
        "t-g": page("G", GLUE_PAGE).replace("Some prose.", "Seven probes: {glue:text}`probe_value`.")})
    set_probe(root, 1)
    g = root / "book" / "t-g.md"
    first = build_ok(root)
    assert "book/t-g" in first["executed"] and "Seven probes: 7." in shown(root, "t-g")
    g.write_text(g.read_text().replace("Seven probes:", "A new sentence. Seven probes:"))
    report = build_ok(root)
    assert report["executed"] == [], report
    assert report["rendered"]["reread"] == ["book/t-g"] and not report["rendered"]["everything"]
    assert "A new sentence. Seven probes: 7." in shown(root, "t-g")
    g.write_text(g.read_text().replace("buildprobe.VALUE * 7", "buildprobe.VALUE * 8"))
    report = build_ok(root)
    assert report["executed"] == ["book/t-g"], report
    assert "A new sentence. Seven probes: 8." in shown(root, "t-g")


def test_mended_page_renders_what_the_cache_holds(tmp_path: Path) -> None:
    """A package edit plus a failing page, then the page mended: the site equals a clean build's.

    The failing build executed (and cached) the other pages but rendered nothing; the next one
    executes only the mended page, and must still re-render the pages executed before. A page
    retitled at the same time (prose: re-read, not executed) is quoted fresh by the unchanged page that links to it.
    """
    root = probe_book(tmp_path / "repo")
    build_ok(root)
    assert "probe 1" in html(root, "t-a")
    set_probe(root, 2)
    b = root / "book" / "t-b.md"
    good = b.read_text()
    b.write_text(good.replace("print('probe'", "raise RuntimeError('broken page')\nprint('probe'"))
    failed = run_build(root, timeout=600)
    assert failed.returncode != 0
    assert [f["page"] for f in exec_report(root)["failures"]] == ["book/t-b"]
    b.write_text(good)
    c = root / "book" / "t-c.md"
    c.write_text(c.read_text().replace("# C", "# C, retitled"))
    report = build_ok(root)
    assert report["executed"] == ["book/t-b"]  # t-c's edit is prose: re-read, not executed
    assert {"book/t-a", "book/t-b", "book/t-c"} <= set(report["rendered"]["reread"])
    assert "probe 2" in html(root, "t-a") and "probe 2" in html(root, "t-b")
    assert "C, retitled" in html(root, "t-d")

    clean = tmp_path / "clean"
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns("_build"))
    build_ok(clean)
    for name in ("t-index", "t-a", "t-b", "t-c", "t-d"):
        assert html(root, name) == html(clean, name), name


def test_cells_that_never_end_fail_within_the_time_limit(tmp_path: Path) -> None:
    """A busy loop, a sleep loop and a printing loop each fail after execute.timeout (3 s here),
    naming page, cell, line and limit, with their kernels killed; a raising cell reports the
    line of the code that raised, not its options."""
    limit = 3
    root = mini_book(tmp_path / "repo", {
        "t-index": page("Index"),
        "t-busy": page("Busy", "x = 1", "while True:\n    x += 1"),
        "t-sleep": page("Sleep", "import time\nwhile True:\n    time.sleep(0.05)"),
        "t-print": page("Print", "i = 0\nwhile True:\n    print(i)\n    i += 1"),
        "t-raise": page("Raise", ":tags: [hide-output]\n\nx = 1\nraise ValueError('the line below the tags')"),
    }, timeout=limit)
    start = time.monotonic()
    result = run_build(root, "--execute-only", "--jobs", "2", timeout=600)
    wall = time.monotonic() - start
    assert result.returncode == 1
    failures = {f["page"]: f for f in exec_report(root)["failures"]}
    assert set(failures) == {"book/t-busy", "book/t-sleep", "book/t-print", "book/t-raise"}
    lines = {name: (root / f"{name}.md").read_text().splitlines() for name in failures}
    for name, text in {"book/t-busy": "    x += 1", "book/t-sleep": "    time.sleep(0.05)",
                       "book/t-print": "    print(i)"}.items():
        f = failures[name]
        assert f["error"] == "CellTimeoutError", f
        # the interrupt lands inside the loop: the line it was on, in the .md
        assert lines[name][f["line"] - 1] in (text, "while True:"), (f["line"], lines[name])
        assert f"{name}.md:{f['line']}" in f["message"] and f"{limit} s" in f["message"]
        assert "execute.timeout" in f["message"] and f"cell {f['cell']}" in f["message"]
        assert f"FAILED {name}.md:{f['line']} (cell {f['cell']})" in result.stderr
        # the time limit plus kernel start-up and the interrupt, with room for a loaded machine
        assert exec_report(root)["seconds"][name] < limit + 45
    raised = failures["book/t-raise"]
    assert raised["error"] == "ValueError"
    assert lines["book/t-raise"][raised["line"] - 1] == "raise ValueError('the line below the tags')"
    assert kernels_of(root) == []
    assert wall < 600


def test_a_corrupt_cache_is_repaired(tmp_path: Path) -> None:
    """A truncated or deleted cached notebook, an empty cache database and a truncated stamps
    file: each is said in one line, discarded, what depends on it re-executed, and the build
    succeeds, with no file deleted by hand."""
    import freshness

    root = probe_book(tmp_path / "repo")
    build_ok(root)
    cache_dir = root / pages.CACHE

    def notebook_of(name: str) -> Path:
        cache = freshness.open_cache(root)
        _, path = freshness.cached_notebook_path(cache, pages.Page(f"book/{name}", root / "book" / f"{name}.md"))
        return path

    def truncate(path: Path) -> None:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    faults = {
        "truncated notebook": (lambda: truncate(notebook_of("t-a")), ["book/t-a"], "do not match their stamp"),
        "deleted notebook": (lambda: notebook_of("t-b").unlink(), ["book/t-b"], "are missing"),
        "deleted entry folder": (lambda: shutil.rmtree(notebook_of("t-a").parent), ["book/t-a"],
                                 "are missing"),
        "empty database": (lambda: (cache_dir / "global.db").write_bytes(b""),
                           ["book/t-a", "book/t-b", "book/t-c"], "database"),
        "truncated stamps": (lambda: truncate(root / freshness.STAMPS),
                             ["book/t-a", "book/t-b", "book/t-c"], "stamps"),
    }
    for fault, (inject, expected, said) in faults.items():
        inject()
        result = run_build(root, timeout=600)
        assert result.returncode == 0, f"{fault}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        report = exec_report(root)
        assert len(report["repaired"]) == 1 and said in report["repaired"][0], (fault, report)
        assert result.stdout.count("[build] repaired:") == 1, fault
        assert report["executed"] == expected, fault
        assert "probe 1" in html(root, "t-a") and "probe 1" in html(root, "t-b"), fault
        # (each next fault's build executes exactly what that fault needs: nothing was left over)
    again = build_ok(root, "--execute-only")
    assert again["executed"] == [] and again["repaired"] == []


EDITS = ("prose edit on every page", "code edit, then undone")  # no edit: the test above


@pytest.mark.parametrize("edit", EDITS)
def test_cache_damage_then_edit_is_repaired(tmp_path: Path, edit: str) -> None:
    """Each kind of cache damage, then an edit, then a build: the damage is said in one line
    (over the builds of the edit), discarded, and every build succeeds. A notebook file deleted
    from its entry folder used to stop the next build after a prose edit with jupyter-cache's
    FileExistsError: the page had to be stored again under the same key, whose folder remained."""
    import freshness

    root = probe_book(tmp_path / "repo")
    build_ok(root, "--execute-only")
    cache_dir = root / pages.CACHE
    book = root / "book"

    def notebook_of(name: str) -> Path:
        cache = freshness.open_cache(root)
        found = freshness.cached_notebook_path(cache, pages.Page(f"book/{name}", book / f"{name}.md"))
        assert found is not None, name
        return found[1]

    def truncate(path: Path) -> None:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    faults = {
        "truncated notebook": (lambda: truncate(notebook_of("t-a")), "do not match their stamp"),
        "deleted notebook": (lambda: notebook_of("t-b").unlink(), "are missing"),
        "deleted entry folder": (lambda: shutil.rmtree(notebook_of("t-a").parent), "are missing"),
        "empty database": (lambda: (cache_dir / "global.db").write_bytes(b""), "database"),
        "truncated stamps": (lambda: truncate(root / freshness.STAMPS), "stamps"),
    }

    def edit_steps() -> list:
        """The edit, as one or more changes of the pages, each followed by a build."""
        if edit == "prose edit on every page":
            return [lambda: [p.write_text(p.read_text() + "\n") for p in book.glob("*.md")]]
        originals = {n: (book / f"{n}.md").read_text() for n in ("t-a", "t-b")}

        def change() -> None:
            for name, text in originals.items():
                (book / f"{name}.md").write_text(text.replace("print('probe'", "# edited\nprint('probe'"))

        def undo() -> None:
            for name, text in originals.items():
                (book / f"{name}.md").write_text(text)
        return [change, undo]

    for fault, (inject, said) in faults.items():
        inject()
        repaired: list[str] = []
        for step in edit_steps():
            step()
            result = run_build(root, "--execute-only", timeout=600)
            assert result.returncode == 0, f"{fault}, {edit}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
            repaired += exec_report(root)["repaired"]
            assert result.stdout.count("[build] repaired:") == len(exec_report(root)["repaired"])
        assert len(repaired) == 1 and said in repaired[0], (fault, edit, repaired)
    report = build_ok(root)
    assert report["repaired"] == [], report
    assert "probe 1" in html(root, "t-a") and "probe 1" in html(root, "t-b")
    again = build_ok(root, "--execute-only")
    assert again["executed"] == [] and again["repaired"] == []


def test_concurrent_builds_execute_each_page_once(tmp_path: Path) -> None:
    """Two builds of one folder at once: the second waits for the first, executes nothing
    itself, and both succeed. A build killed outright leaves no lock behind."""
    log = ("import os, time\nwith open('../executions.log', 'a') as f:\n    print('{}', file=f)\n"
           "while not os.path.exists('../go'):\n    time.sleep(0.05)")
    names = ["t-index", "t-a", "t-b"]
    root = mini_book(tmp_path / "repo", {n: page(n, log.format(n)) for n in names})
    executions = root / "executions.log"

    def start(name: str) -> subprocess.Popen:
        out = (tmp_path / f"{name}.out").open("w")
        return subprocess.Popen(build_command(root, "--execute-only"), cwd=root, text=True,
                                env=BUILD_ENV, stdout=out, stderr=subprocess.STDOUT)

    def wait_for(condition, *runs: subprocess.Popen) -> None:
        deadline = time.monotonic() + 300
        while not condition():
            assert time.monotonic() < deadline and all(run.poll() is None for run in runs)
            time.sleep(0.05)

    first = start("first")
    wait_for(executions.exists, first)  # the first build is executing pages: it holds the lock
    second = start("second")
    wait_for(lambda: "waiting for it to finish" in (tmp_path / "second.out").read_text(), first, second)
    (root / "go").touch()  # the pages of the first build may finish now
    assert [first.wait(timeout=600), second.wait(timeout=600)] == [0, 0]
    assert sorted(executions.read_text().split()) == sorted(names)
    assert "[build] executed 0 page(s)" in (tmp_path / "second.out").read_text()

    a = root / "book" / "t-a.md"  # a code edit (a prose edit executes nothing)
    assert a.read_text().count("time.sleep(0.05)") == 1
    a.write_text(a.read_text().replace("time.sleep(0.05)", "time.sleep(0.05)  # edited"))
    (root / "go").unlink()  # the edited page now waits: the build is killed mid-execution, never
    # after it stored the page (that race made the next build execute nothing, now and then)
    killed = subprocess.Popen(build_command(root, "--execute-only"), cwd=root, env=BUILD_ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: len(executions.read_text().split()) > len(names), killed)
    killed.kill()
    killed.wait()
    for pid in kernels_of(root):  # a killed build cannot stop its kernels (they exit soon)
        os.kill(pid, signal.SIGKILL)
    (root / "go").touch()
    result = run_build(root, "--execute-only", "--no-wait", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert exec_report(root)["executed"] == ["book/t-a"]


def interrupt(run: subprocess.Popen) -> tuple[str, str]:
    """Ctrl-C as a terminal sends it (to the foreground process group); the build's output."""
    os.killpg(run.pid, signal.SIGINT)
    return run.communicate(timeout=120)


def test_ctrl_c_during_execution(tmp_path: Path) -> None:
    """Ctrl-C while pages run: one line, every kernel killed, and the next build is correct."""
    slow = ("import pathlib, time\npathlib.Path('../started-{}').touch()\n"
            "if pathlib.Path('../slow').exists():\n    time.sleep(300)\nprint('done')")
    root = mini_book(tmp_path / "repo", {"t-index": page("Index"), "t-a": page("A", slow.format("a")),
                                         "t-b": page("B", slow.format("b"))})
    (root / "slow").touch()
    run = subprocess.Popen(build_command(root), cwd=root, env=BUILD_ENV, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    while not ((root / "started-a").exists() and (root / "started-b").exists()):
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    assert len(kernels_of(root)) == 2
    _, err = interrupt(run)
    assert run.returncode == 130
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err, err
    assert kernels_of(root) == []
    assert exec_report(root)["interrupted"] is True
    (root / "slow").unlink()
    report = build_ok(root)
    assert report["executed"] == ["book/t-a", "book/t-b"]
    assert "done" in html(root, "t-a") and "done" in html(root, "t-b")


STALL = '''"""Test-only extension: hold the render in the middle of writing the pages."""
import time
from pathlib import Path


def stall(app, pagename, templatename, context, doctree):
    if pagename == "book/t-b" and (Path(app.srcdir) / "stall").exists():
        (Path(app.srcdir) / "stalled").touch()
        time.sleep(300)


def setup(app):
    app.connect("html-page-context", stall)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
'''


def test_ctrl_c_during_render(tmp_path: Path) -> None:
    """Ctrl-C while Sphinx writes the pages: one line, no Sphinx process left, and the next
    build renders every page again, fresh."""
    import yaml

    root = probe_book(tmp_path / "repo")
    (root / "tools" / "sphinxext" / "t_stall.py").write_text(STALL)
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["sphinx"]["local_extensions"]["t_stall"] = "tools/sphinxext"
    (root / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    build_ok(root)
    set_probe(root, 2)
    (root / "stall").touch()
    # started as a shell script starts a background job, with SIGINT ignored (`make book &`):
    # Ctrl-C and a termination request still stop it (tools/build.py sets Python's handler)
    run = subprocess.Popen(build_command(root), cwd=root, env=BUILD_ENV, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.monotonic() + 300
    while not (root / "stalled").exists():
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    assert renderers_of(root)
    _, err = interrupt(run)
    assert run.returncode == 130
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err, err
    assert renderers_of(root) == [] and kernels_of(root) == []
    (root / "stall").unlink()
    result = run_build(root, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "rendering every page (the last render did not finish)" in result.stdout
    assert exec_report(root)["executed"] == []
    assert "probe 2" in html(root, "t-a") and "probe 2" in html(root, "t-b")


def test_benchmark_report_says_what_was_not_measured() -> None:
    """Results from an older run (before a measurement existed) give a table that says "not
    measured" in that row, never a KeyError; a measurement that is there is shown."""
    from bench import NOT_MEASURED, report

    page = {"median": 2.0, "min": 1.5, "max": 3.0, "runs": 3}
    results = {"clean_build": {**page, "median": 70.0}, "pages": {"book/mlp": page},
               "weights": [{"page": "book/mlp", "html_bytes": 2048, "image_bytes": 0}]}
    rows = {line.split(" | ")[0].lstrip("| "): line for line in report(results).splitlines()
            if line.startswith("| ")}
    assert "70.0 s" in rows["clean `make book`"]
    for label in ("no-change rebuild", "site size", "**ratio clean / plain**"):
        assert f"| {NOT_MEASURED} |" in rows[label], rows[label]
    assert [label for label in rows if label.startswith("`make grade`")], rows
    assert f"| {NOT_MEASURED} |" in rows["book/mlp"]  # its Colab notebook's Run all
    assert report({}).count(NOT_MEASURED) == 13


def test_readme_benchmark_table_is_generated() -> None:
    """The guide's benchmark table (docs/benchmarks.md) is what tools/bench.py writes from
    bench/results.json, between its markers: no figure copied (or edited) by hand."""
    from bench import report
    from conftest import ROOT
    from readme import read_section

    results = ROOT / "bench" / "results.json"
    assert read_section("bench") == report(json.loads(results.read_text()))
