"""What a reader sees: questions that make them think, only reader code, references by name.

- Every core lecture page asks at least one "Predict first" question and one "Self-check", each
  followed by a hidden answer (a dropdown, or the folded output of the cell below it).
- Visible cells hold reader code only: no ``from myst_nb import glue``, no ``glue(...)``
  (build plumbing goes in ``remove-cell`` cells).
- Pages point to each other with ``{doc}``/``{ref}``, never by position ("the next page").
- Nothing in the repository reads a file outside it, and no built page shows the path of the
  machine that built it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from pages import book_pages

CORE = ["book/mlp", "book/backprop", "book/layer-backprop", "book/autograd"]
POSITIONAL = re.compile(
    r"\b(previous|next|following|preceding) pages?\b|\b(last|earlier|later) page\b"
    r"|\bpages? (ahead|back)\b|\bthe page (before|after)\b", re.IGNORECASE)
PLUMBING = re.compile(r"^\s*(from myst_nb import|glue\()", re.MULTILINE)


def cells(docname: str) -> list:
    sys.path.insert(0, str(ROOT / "tools"))
    from build import read_notebook

    return read_notebook(ROOT / f"{docname}.md").cells


@pytest.mark.parametrize("docname", CORE)
def test_core_page_asks_questions_with_hidden_answers(docname: str) -> None:
    nb = cells(docname)
    found = {"Predict first": 0, "Self-check": 0}
    for i, cell in enumerate(nb):
        if cell.cell_type != "markdown":
            continue
        for kind in found:
            for m in re.finditer(rf"```{{admonition}} {kind}\n", cell.source):
                found[kind] += 1
                rest = cell.source[m.end():]
                # the answer: a dropdown later in this markdown, or a folded cell output next
                later = rest + "".join(c.source for c in nb[i + 1:i + 4] if c.cell_type == "markdown")
                folded = any("hide-output" in c.metadata.get("tags", [])
                             for c in nb[i + 1:i + 2] if c.cell_type == "code")
                assert re.search(r":class: dropdown", later) or folded, \
                    f"{docname}: a {kind!r} box with no hidden answer after it"
    assert found["Predict first"] >= 1, f"{docname} asks no 'Predict first' question"
    assert found["Self-check"] >= 1, f"{docname} has no 'Self-check' question"


# book/lab is left to the lab's own tests (tests/test_grade.py, tests/test_editions.py).
@pytest.mark.parametrize("page", [p for p in book_pages() if p.has_code and p.docname != "book/lab"],
                         ids=lambda p: p.docname)
def test_visible_cells_hold_no_build_plumbing(page) -> None:
    for i, cell in enumerate(cells(page.docname)):
        if cell.cell_type == "code" and "remove-cell" not in cell.metadata.get("tags", []):
            assert not PLUMBING.search(cell.source), \
                f"{page.docname}, code cell {i}: glue in a visible cell:\n{cell.source}"


@pytest.mark.parametrize("page", book_pages(), ids=lambda p: p.docname)
def test_pages_refer_to_each_other_by_name(page) -> None:
    text = re.sub(r"```.*?```", "", page.text, flags=re.DOTALL)  # prose only
    hits = [m.group(0) for m in POSITIONAL.finditer(text)]
    assert not hits, f"{page.docname}: refers to a page by position: {hits}; use {{doc}}/{{ref}}"


def test_nothing_reads_outside_the_repository() -> None:
    pattern = re.compile(r"\.\./shared|/work/|/home/\w+/")
    offenders = []
    for folder in ("book", "code", "tests", "tools"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".md", ".yml", ".toml", ".txt"} and path.is_file():
                for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    if pattern.search(line) and path.name != Path(__file__).name:
                        offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)


@pytest.mark.book
def test_no_built_page_shows_the_build_machine_path(built_book: Path) -> None:
    for html in (built_book / "book").glob("*.html"):
        text = html.read_text(encoding="utf-8")
        for where in (str(ROOT), "site-packages", "/tmp/ipykernel"):
            assert where not in text, f"{html.name} shows {where!r} (a traceback or warning?)"


@pytest.mark.book
def test_svg_figures_name_only_fonts_of_their_own_text(built_book: Path) -> None:
    """An SVG figure keeps its text as text (``svg.fonttype: none``) in DejaVu Sans. A glyph
    that matplotlib's mathtext takes from its own Computer Modern fonts is written as that
    font's code point: the prime of ``$\\sigma'(z)$`` became a "0" in font ``cmsy10``, which a
    browser without that font draws as "σ⁰(z)"."""
    bad = []
    for html in sorted((built_book / "book").glob("*.html")):
        for src in sorted(set(re.findall(r'src="([^"]+\.svg)"', html.read_text("utf-8")))):
            svg = (html.parent / src).resolve().read_text(encoding="utf-8")
            fonts = set(re.findall(r"font-family:\s*'([^']+)'", svg))
            if odd := sorted(f for f in fonts if not f.startswith("DejaVu Sans")):
                bad.append(f"{html.name}: {src} uses {odd}")
    assert not bad, "figures with glyphs a reader's browser cannot draw:\n" + "\n".join(bad)
