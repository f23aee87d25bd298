"""The site's two editions, built one after the other in a temporary copy of the repository.

The student edition (``SOLUTIONS=hide``) must hold none of the solution text of ``book/lab.md``:
not in the pages, the search index, the page sources offered for download, nor the images the
solution code draws. Each check first finds the same text in the instructor edition, so that
it cannot pass by looking in the wrong place; and switching back must bring every solution back.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import ROOT, copy_repo, run_build

sys.path.insert(0, str(ROOT / "tools" / "sphinxext"))
from editions import page_cells, solution_spans, solution_texts, strip_solutions  # noqa: E402
from grade_lab import read_lab  # noqa: E402  (tools/: the lab's one manifest)
from solutions import page_text, solutions_path  # noqa: E402

LAB = ROOT / "book" / "lab.md"
HAS_SOLUTIONS = solutions_path(LAB).is_file()  # a public copy has no book/solutions/
needs_solutions = pytest.mark.skipif(not HAS_SOLUTIONS, reason="no book/solutions/ here (a "
                                     "public copy): nothing to look for")


def _key(text: str) -> str:
    """Text without whitespace: highlighted code and wrapped prose compare equal to the source."""
    return re.sub(r"\s+", "", text)


class _Text(HTMLParser):
    """The text of an HTML page (what a reader or a search engine sees)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return _key("".join(parser.parts))


def notebook_text(data: str) -> str:
    """The sources and text outputs of a notebook."""
    parts = []
    for cell in json.loads(data).get("cells", []):
        parts.append("".join(cell.get("source", "")))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            for mime in ("text/plain", "text/html", "text/markdown"):
                parts.append("".join(output.get("data", {}).get(mime, "")))
    return _key("\n".join(parts))


def _rest_of_book() -> str:
    """Every other page, and the package (the pages show its code, and print its messages)."""
    paths = [p for p in sorted((ROOT / "book").glob("*.md")) if p != LAB]
    paths += sorted((ROOT / "code" / "mlpbook").rglob("*.py"))
    return "\n".join(p.read_text(encoding="utf-8") for p in paths)


def fragments(text: str = page_text(LAB)) -> dict[str, list[str]]:
    """Pieces of the solutions that appear nowhere else in the book: code lines and prose."""
    elsewhere = _key(strip_solutions(text) + _rest_of_book())
    code, prose = [], []
    for block in solution_texts(text):
        in_code = hidden = in_yaml = False
        for line in block.splitlines():
            if line.startswith("```"):
                in_code, hidden, in_yaml = line.startswith("```{code-cell}"), False, False
                continue
            if in_code:
                hidden = hidden or (line.startswith(":tags:") and "remove-cell" in line)
                if line == "---":  # a cell's YAML options: metadata, not code
                    in_yaml = not in_yaml
                if in_yaml or line == "---":
                    continue
                s = _key(line)
                if (not hidden and len(s) >= 10 and not line.startswith(("#", ":", "---"))
                        and s not in elsewhere):
                    code.append(s)
                continue
            if line.startswith((":", "$$", "\\", "|", "(")) or "&" in line:
                continue
            plain = re.sub(r"\{[\w:-]+\}`[^`]*`|`[^`]*`|\$[^$]*\$|[*_]", "|", line)
            for chunk in re.split(r"[|.,;:()!?]", plain):
                if len(chunk.split()) >= 4 and _key(chunk) not in elsewhere:
                    prose.append(_key(chunk))
    return {"code": code, "prose": prose}


# --------------------------------------------------------------------------------------------
# The text functions, on their own
# --------------------------------------------------------------------------------------------

PAGE = """intro

```{exercise-start} Title
:label: ex-a
```
starter
```{exercise-end}
```

```{solution-start} ex-a
:class: dropdown
```
secret prose

```{code-cell} ipython3
secret_code = 1
```

```{solution-end}
```

between

::::{solution} ex-b
:class: dropdown
more secret
```{code-cell} ipython3
secret = 2
```
::::

end
"""


def test_strip_solutions_removes_gated_and_plain_blocks() -> None:
    assert len(solution_spans(PAGE)) == 2
    out = strip_solutions(PAGE)
    assert "secret" not in out and "solution" not in out
    for kept in ("intro", "starter", "exercise-end", "between", "end"):
        assert kept in out
    assert all("secret" in block for block in solution_texts(PAGE))


def test_page_cells_cut_where_strip_solutions_cuts() -> None:
    """The converter and the grader read a page's cells with page_cells: the cells outside the
    solutions are exactly the cells of the page without them (the student edition's source)."""
    import jupytext

    for text in (PAGE, page_text(LAB)):
        cells = page_cells(text)
        outside = [c.source for c, inside in cells if not inside and c.cell_type == "code"]
        stripped = jupytext.reads(strip_solutions(text), fmt="md:myst").cells
        assert outside == [c.source for c in stripped if c.cell_type == "code"]
        prose = _key("".join(c.source for c, inside in cells if not inside))
        assert prose == _key("".join(c.source for c in stripped))
        inside = "".join(c.source for c, inside in cells if inside)
        assert all(_key(block.split("\n", 1)[1].split("```")[0]) in _key(inside)
                   for block in solution_texts(text))
    assert {c.source for c, inside in page_cells(PAGE) if inside and c.cell_type == "code"} == {
        "secret_code = 1", "secret = 2"}


def test_unclosed_gated_solution_is_an_error() -> None:
    with pytest.raises(ValueError, match="solution-end"):
        solution_spans("```{solution-start} ex\n```\nsecret\n")


@needs_solutions
def test_lab_has_solutions_to_look_for() -> None:
    """One solution per exercise of the lab's manifest, all in book/solutions/, none in the
    page itself."""
    found = fragments()
    assert len(solution_texts(page_text(LAB))) == len(read_lab().exercises)
    assert not solution_texts(LAB.read_text(encoding="utf-8"))
    assert len(found["code"]) >= 20 and len(found["prose"]) >= 10, found


# --------------------------------------------------------------------------------------------
# Both editions, built
# --------------------------------------------------------------------------------------------


def _build(root: Path, edition: str) -> subprocess.CompletedProcess:
    return run_build(root, env={"SOLUTIONS": edition})


def _site(root: Path) -> dict:
    """What a build left in _build/html: page texts, other text files, image hashes, index."""
    out = root / "_build" / "html"
    pages, files, images = {}, {}, {}
    for path in out.rglob("*"):
        if not path.is_file():
            continue
        rel = str(path.relative_to(out))
        data = path.read_bytes()
        images[hashlib.sha256(data).hexdigest()] = rel
        if path.suffix == ".html":
            pages[rel] = html_text(data.decode("utf-8"))
        elif path.suffix == ".ipynb":
            files[rel] = notebook_text(data.decode("utf-8"))
        elif path.suffix in (".md", ".txt", ".js", ".json"):
            files[rel] = _key(html.unescape(data.decode("utf-8", "replace")))
    raw = (out / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(raw[raw.index("(") + 1:raw.rindex(")")])
    inventory = zlib.decompress((out / "objects.inv").read_bytes().split(b"\n", 4)[4]).decode()
    files["objects.inv"] = _key(inventory)  # after its 4 header lines, zlib-compressed
    instructor = root / "_build" / "instructor" / "lab-solutions.ipynb"
    return {"pages": pages, "files": files, "hashes": images, "index": index,
            "sources": (out / "_sources" / "book" / "lab.md").read_text(encoding="utf-8"),
            "inventory": inventory,
            "instructor": notebook_text(instructor.read_text(encoding="utf-8"))}


class _SolutionImages(HTMLParser):
    """The ``src`` of every image inside a solution block of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # > 0 inside a solution's <div>
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        attrs = dict(attrs)
        if tag == "div" and (self.depth or "solution" in (attrs.get("class") or "").split()):
            self.depth += 1
        elif tag == "img" and self.depth:
            self.found.append(attrs.get("src", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.depth:
            self.depth -= 1


def _solution_images(root: Path) -> set[str]:
    """Hashes of the images drawn inside the solutions of the lab page, as rendered."""
    page = root / "_build" / "html" / "book" / "lab.html"
    parser = _SolutionImages()
    parser.feed(page.read_text(encoding="utf-8"))
    return {hashlib.sha256((page.parent / src).read_bytes()).hexdigest()
            for src in parser.found}


def _lab_terms(index: dict) -> set[str]:
    lab = index["docnames"].index("book/lab")
    return {term for term, docs in index["terms"].items()
            if lab == docs or (isinstance(docs, list) and lab in docs)}


@pytest.fixture(scope="module")
def editions(tmp_path_factory) -> dict:
    if not HAS_SOLUTIONS:
        pytest.skip("no book/solutions/ here (a public copy): one edition only")
    root = copy_repo(tmp_path_factory.mktemp("editions") / "repo", with_cache=True)
    built = {}
    for step, edition in (("show", "show"), ("hide", "hide"), ("show-again", "show")):
        result = _build(root, edition)
        if result.returncode != 0:
            pytest.fail(f"{edition} build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}",
                        pytrace=False)
        built[step] = _site(root)
        if step == "show":
            built["solution_images"] = _solution_images(root)
    built["root"] = root
    return built


pytestmark = pytest.mark.slow


def test_instructor_edition_shows_every_solution(editions) -> None:
    lab = editions["show"]["pages"]["book/lab.html"]
    found = fragments()
    assert all(f in lab for f in found["code"]), [f for f in found["code"] if f not in lab]
    seen = [f for f in found["prose"] if f in lab]
    assert len(seen) >= 0.8 * len(found["prose"]), set(found["prose"]) - set(seen)
    assert editions["solution_images"], "the capacity figure of exercise 5's solution"
    assert editions["solution_images"] <= set(editions["show"]["hashes"])


def test_student_edition_pages_and_files_hold_no_solution(editions) -> None:
    site = editions["hide"]
    found = fragments()["code"] + fragments()["prose"]
    leaks = {(name, f) for name, text in {**site["pages"], **site["files"]}.items()
             if not name.startswith("notebooks/") for f in found if f in text}
    assert not leaks, sorted(leaks)[:10]
    assert _key("Solution to Exercise") not in site["pages"]["book/lab.html"]
    for ex in ("Add tanh", "A width and depth experiment"):  # the exercises stay
        assert _key(ex) in site["pages"]["book/lab.html"]


def test_student_edition_page_source_is_the_page_without_solutions(editions) -> None:
    assert editions["hide"]["sources"] == strip_solutions(page_text(LAB))


def test_student_edition_has_no_solution_figure(editions) -> None:
    leaked = editions["solution_images"] & set(editions["hide"]["hashes"])
    assert not leaked, [editions["hide"]["hashes"][h] for h in leaked]


def test_student_edition_search_index_has_no_solution_words(editions) -> None:
    from sphinx.search.en import SearchEnglish

    stem = SearchEnglish({}).stem
    text = page_text(LAB)
    others = _rest_of_book() + strip_solutions(text)
    other_stems = {stem(w) for w in re.findall(r"[a-z]+", others.lower())}
    words = {w for block in solution_texts(text) for w in re.findall(r"[a-z]{5,}", block.lower())}
    only = {stem(w) for w in words} - other_stems
    assert only & _lab_terms(editions["show"]["index"]), "control: the instructor index has them"
    assert not only & _lab_terms(editions["hide"]["index"])


def solution_labels(text: str = page_text(LAB)) -> set[str]:
    """Labels defined inside the solutions: targets, figure names, :label: and :name:."""
    pattern = r"^\(([\w-]+)\)=$|^\s*(?:name|:name|:label):\s*([\w-]+)\s*$"
    return {a or b for block in solution_texts(text)
            for a, b in re.findall(pattern, block, re.MULTILINE)}


def _labels(inventory: str) -> set[str]:
    return {line.split()[0] for line in inventory.splitlines() if " std:label " in line}


def test_student_edition_forgets_the_labels_of_what_it_removed(editions) -> None:
    """objects.inv (what other Sphinx sites link to) lists no label of removed content, and
    so none of its titles: the solution figure's caption would be one."""
    labels = solution_labels()
    assert "fig-lab-capacity" in labels
    listed = _labels(editions["show"]["inventory"])
    assert labels <= listed and any("-solution-" in label for label in listed), "control"
    kept = _labels(editions["hide"]["inventory"])
    assert not labels & kept and not [label for label in kept if "-solution-" in label]
    assert _key("Final training loss (left)") not in editions["hide"]["files"]["objects.inv"]


def test_instructor_notebook_holds_every_solution_in_both_editions(editions) -> None:
    """_build/instructor/lab-solutions.ipynb, outside the site, whatever the site's edition
    (the student edition's build writes it too, its references to the removed figure kept
    readable without the figure's number)."""
    found = fragments()["code"]
    for step in ("show", "hide"):
        text = editions[step]["instructor"]
        assert [f for f in found if f not in text] == [], step
    assert _key("(the figure above)") in editions["hide"]["instructor"]


def test_switching_back_brings_the_solutions_back(editions) -> None:
    lab = editions["show-again"]["pages"]["book/lab.html"]
    assert all(f in lab for f in fragments()["code"])
    assert editions["show-again"]["sources"] == LAB.read_text(encoding="utf-8")


def test_student_edition_notebook_holds_no_solution(editions) -> None:
    """notebooks/lab.ipynb, the Colab converter's, is published in both editions: no solution
    in either."""
    found = fragments()["code"] + fragments()["prose"]
    for step in ("show", "hide"):
        text = editions[step]["files"]["notebooks/lab.ipynb"]
        assert not [f for f in found if f in text], step


def test_an_unknown_edition_is_refused(editions) -> None:
    result = _build(editions["root"], "maybe")
    assert result.returncode != 0
    assert "SOLUTIONS" in result.stdout + result.stderr


def test_a_copy_without_the_solutions_folder_is_the_student_edition(tmp_path) -> None:
    """A public copy or a student's fork (no book/solutions/): the default build succeeds, and
    no solution line appears anywhere in the site or its notebooks; no instructor notebook."""
    found = fragments()["code"] + fragments()["prose"] if HAS_SOLUTIONS else []
    root = copy_repo(tmp_path / "repo", with_cache=True)
    if (root / "book" / "solutions").exists():
        import shutil

        shutil.rmtree(root / "book" / "solutions")
    result = run_build(root)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    site = _site_without_instructor(root)
    leaks = {(name, f) for name, text in site.items() for f in found if f in text}
    assert not leaks, sorted(leaks)[:10]
    assert _key("Add tanh") in site["book/lab.html"]  # the exercises stay
    assert "notebooks/lab.ipynb" in site
    assert not (root / "_build" / "instructor" / "lab-solutions.ipynb").exists()


def _site_without_instructor(root: Path) -> dict[str, str]:
    out = root / "_build" / "html"
    texts = {}
    for path in out.rglob("*"):
        rel = str(path.relative_to(out))
        if path.suffix == ".html":
            texts[rel] = html_text(path.read_text(encoding="utf-8"))
        elif path.suffix == ".ipynb":
            texts[rel] = notebook_text(path.read_text(encoding="utf-8"))
        elif path.suffix in (".md", ".txt", ".js", ".json"):
            texts[rel] = _key(html.unescape(path.read_text(encoding="utf-8", errors="replace")))
    return texts
