"""The lecture decks in Chromium at 1280x720, served with the built site at <site>/slides/.

The decks are built once for the session from the session's book build (tools/slides, without
PDFs, straight into ``_build/html/slides``); each deck is opened once and walked slide by slide
(``deck_visit``). One deck is printed to PDF from ``file://`` through the session's Chromium.
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from browsing import LoadRecord, browser, open_page, site  # noqa: F401
from conftest import ROOT, SITE_ROOT

sys.path[:0] = [str(ROOT / "tools" / "slides"), str(ROOT / "tools" / "sphinxext")]
import build_slides  # noqa: E402
from plan import minutes  # noqa: E402
from source import read_source  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.book]

DECKS = [read_source(p).name for p in sorted((ROOT / "slides").glob("*.md"))]
VIEWPORT = {"width": 1280, "height": 720}
MIN_TEXT_PX = 18

# Every slide with all its fragments shown: overflow, smallest text, and where it is.
MEASURE_JS = """() => {
  const scale = Reveal.getScale();
  return Reveal.getSlides().map((s, i) => {
    Reveal.slide(i);
    while (Reveal.nextFragment()) {}
    const box = s.getBoundingClientRect();
    const outside = [];
    let smallest = Infinity, where = '';
    for (const el of s.querySelectorAll('*')) {
      // (the MathML copy of a formula is for screen readers: clipped to 1 px, never drawn)
      if (el.closest('aside.notes, mjx-assistive-mml, .katex-mathml')) continue;
      const r = el.getBoundingClientRect();
      // a formula's box is checked; KaTeX's insides (struts, stacked spans, the 400em-wide SVG
      // of a root or an arrow, clipped by design) may reach past it
      const katexInside = el.closest('.katex-html') && !el.classList.contains('katex-html');
      if (!katexInside && r.width > 0 && (r.right > box.right + 1 || r.bottom > box.bottom + 1
                          || r.left < box.left - 1 || r.top < box.top - 1))
        outside.push(el.tagName.toLowerCase() + '.' + el.className);
      const glyph = el.tagName === 'MJX-C';  // MathJax draws its glyphs with CSS, not text
      const text = [...el.childNodes].some(n => n.nodeType === 3
                                             && n.textContent.replace(/\\u200b/g, '').trim());
      if ((glyph || text) && el.checkVisibility()) {
        const size = parseFloat(getComputedStyle(el).fontSize) * scale;
        if (size < smallest) { smallest = size; where = el.tagName.toLowerCase() + ': '
          + (el.textContent || '').trim().slice(0, 40); }
      }
    }
    // a box that scrolls is cut off on a projector: a formula or code wider than its slide
    const cut = [...s.querySelectorAll('.katex-display, div.math, .slide-code .highlight, pre')]
      .filter(el => el.scrollWidth > el.clientWidth + 1)
      .map(el => `${el.className}: ${el.scrollWidth} px in ${el.clientWidth}`);
    return {index: i + 1, overflow: s.scrollHeight > s.clientHeight + 1
              || s.scrollWidth > s.clientWidth + 1, outside: outside.slice(0, 5),
            smallest, where, cut};
  });
}"""

# Each answer: hidden on arrival at its slide, shown after one step forward ("the click").
ANSWERS_JS = """() => Reveal.getSlides().flatMap((s, i) => {
  const answers = [...s.querySelectorAll('.answer')];
  if (!answers.length) return [];
  Reveal.slide(i, 0, -1);
  const shown = a => a.classList.contains('visible') && getComputedStyle(a).opacity === '1'
                     && getComputedStyle(a).visibility !== 'hidden';
  const before = answers.map(shown);
  const fragments = answers.every(a => a.classList.contains('fragment'));
  Reveal.next();
  const after = answers.map(shown);
  return [{index: i + 1, fragments, before, after, still: Reveal.getIndices().h === i}];
})"""


# Formulas typeset as on the site (MathJax today, or HTML rendered at build time): none left as
# raw TeX, none with a TeX error.
MATHS_JS = """() => {
  const maths = [...document.querySelectorAll('.slides .math, .slides .katex')];
  return {count: maths.length,
          raw: maths.filter(e => !e.querySelector('mjx-container, .katex-html, math'))
                    .map(e => e.textContent.slice(0, 60)),
          errors: document.querySelectorAll('.slides mjx-merror, .slides .katex-error').length};
}"""


@dataclass
class DeckVisit:
    record: LoadRecord
    slides: list[dict] = field(default_factory=list)
    answers: list[dict] = field(default_factory=list)
    total: int = 0
    maths: dict = field(default_factory=dict)


@pytest.fixture(scope="session")
def decks(built_book: Path) -> Path:
    """The decks of the session's book, published with the site (no PDFs: one test prints)."""
    out = built_book / "slides"
    built = build_slides.build(SITE_ROOT, out)
    build_slides.write_index(SITE_ROOT, out, built, pdfs=False)
    return out


_VISITS: dict[str, DeckVisit] = {}


@pytest.fixture
def deck_visit(browser, site: str, decks: Path):  # noqa: F811
    def visit(name: str) -> DeckVisit:
        if name not in _VISITS:
            context = browser.new_context(viewport=VIEWPORT)
            record = LoadRecord()
            page = open_page(context, record)
            page.goto(f"{site}slides/{name}.html")
            page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
            result = DeckVisit(record, total=page.evaluate("() => Reveal.getTotalSlides()"))
            result.maths = page.evaluate(MATHS_JS)
            result.slides = page.evaluate(MEASURE_JS)
            result.answers = page.evaluate(ANSWERS_JS)
            context.close()
            _VISITS[name] = result
        return _VISITS[name]

    return visit


@pytest.mark.parametrize("name", DECKS)
def test_deck_loads_offline_without_errors(deck_visit, name: str) -> None:
    visit = deck_visit(name)
    assert visit.total > 1
    assert not visit.record.console_errors, visit.record.console_errors
    assert not visit.record.failed_requests, visit.record.failed_requests
    assert not visit.record.external_requests, visit.record.external_requests


@pytest.mark.parametrize("name", DECKS)
def test_maths_rendered_like_the_site(deck_visit, decks: Path, name: str) -> None:
    maths = deck_visit(name).maths
    if 'class="math' in (decks / f"{name}.html").read_text("utf-8"):
        assert maths["count"], f"{name}: its formulas are missing"
    assert not maths["raw"], f"{name}: formulas left as TeX: {maths['raw']}"
    assert not maths["errors"], f"{name}: {maths['errors']} formula(s) with a TeX error"


@pytest.mark.parametrize("name", DECKS)
def test_no_slide_overflows_and_text_reads_from_the_back(deck_visit, name: str) -> None:
    visit = deck_visit(name)
    assert len(visit.slides) == visit.total
    for slide in visit.slides:
        assert not slide["overflow"] and not slide["outside"], (
            f"{name} slide {slide['index']} is larger than 1280x720: {slide['outside']}")
        assert not slide["cut"], f"{name} slide {slide['index']}: cut off: {slide['cut']}"
        assert slide["smallest"] >= MIN_TEXT_PX, (
            f"{name} slide {slide['index']}: text of {slide['smallest']:.1f} px ({slide['where']})")


CUT_FORMULAS_JS = """() => [...Reveal.getCurrentSlide().querySelectorAll('.katex-display')]
  .filter(el => el.scrollWidth > el.clientWidth + 1)
  .map(el => `${el.scrollWidth} px in ${el.clientWidth}`)"""


@pytest.mark.parametrize("name", DECKS)
def test_a_deck_opened_at_a_formula_fits_it(browser, site: str, decks: Path, name: str) -> None:  # noqa: F811
    """A presenter who reloads the deck, or opens a link to a slide, lands on a slide before the
    maths fonts have come: its formula is fitted again once they have (it was cut off at the
    slide's edge, layer-backprop's second slide)."""
    html = (decks / f"{name}.html").read_text(encoding="utf-8")
    slides = html.split('<section id="slide-')[1:]
    first = next((i for i, s in enumerate(slides) if "katex-display" in s), None)
    if first is None:
        pytest.skip(f"{name} has no display formula")
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(f"{site}slides/{name}.html#/{first}")
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
        page.evaluate("() => document.fonts.ready.then(() => true)")
        page.wait_for_function("() => Reveal.getIndices().h === %d" % first, timeout=10_000)
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        assert page.evaluate(CUT_FORMULAS_JS) == [], f"{name} slide {first + 1}: a formula cut off"
    finally:
        context.close()


@pytest.mark.parametrize("name", DECKS)
def test_each_answer_only_after_a_click(deck_visit, decks: Path, name: str) -> None:
    visit = deck_visit(name)
    expected = (decks / f"{name}.html").read_text(encoding="utf-8").count('class="answer fragment"')
    assert expected, f"{name} poses no question with an answer to reveal"
    assert sum(len(a["before"]) for a in visit.answers) == expected
    for answer in visit.answers:
        assert answer["fragments"] and answer["still"], answer
        assert not any(answer["before"]), f"{name} slide {answer['index']} shows its answer at once"
        assert all(answer["after"]), f"{name} slide {answer['index']}: no answer after the click"


def _instructor_cues(built_book: Path, session: str, spans: list[tuple[int, int]]) -> set[str]:
    """The instructor timetable's cues in the deck's time: its timed bullets and, where a block
    has none, its timed subsections."""
    soup = BeautifulSoup((built_book / "book" / "instructor.html").read_text("utf-8"), "html.parser")
    top = soup.find(id=f"sec-instructor-{session}").find_parent("section")
    cues = set()
    within = lambda t: any(a <= minutes(t) < b for a, b in spans)  # noqa: E731
    for item in top.select("section li"):
        found = re.match(r"(\d+:\d\d)\b", item.get_text(" ", strip=True))
        if found and within(found.group(1)):
            cues.add(found.group(1))
    for heading in top.find_all("h3"):
        found = re.match(r"(\d+:\d\d)–", heading.get_text(" ", strip=True))
        if found and within(found.group(1)) and not heading.find_parent("section").select("li"):
            cues.add(found.group(1))
        elif found and within(found.group(1)) and session == "practice":
            cues.add(found.group(1))
    return cues


@pytest.mark.parametrize("name", DECKS)
def test_speaker_notes_carry_the_timetable_cues(decks: Path, built_book: Path, name: str) -> None:
    soup = BeautifulSoup((decks / f"{name}.html").read_text("utf-8"), "html.parser")
    reveal = soup.select_one(".reveal")
    spans = [tuple(minutes(t) for t in span.split("–"))
             for span in reveal["data-times"].split(", ")]
    slides = soup.select(".slides > section")
    session = "practice" if "practice" in name else "lecture"
    cues = _instructor_cues(built_book, session, spans)
    assert cues, f"no timetable cue in {reveal['data-times']}"
    noted = {}
    for slide in slides:
        notes = slide.select_one("aside.notes")
        for cue in slide.get("data-cues", "").split():
            assert notes is not None and notes.get_text(strip=True), f"{name}: cue {cue} without notes"
            noted[cue] = notes.get_text(" ", strip=True)
    assert cues <= set(noted), f"{name}: timetable cues without a slide: {sorted(cues - set(noted))}"
    first = slides[0].select_one("aside.notes").get_text(" ", strip=True)
    assert f"({reveal['data-minutes']} min)" in first  # minutes for the block


@functools.cache
def _built_page(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text("utf-8"), "html.parser")


@pytest.mark.parametrize("name", DECKS)
def test_slide_figures_are_the_page_figures(decks: Path, built_book: Path, name: str) -> None:
    soup = BeautifulSoup((decks / f"{name}.html").read_text("utf-8"), "html.parser")
    figures = soup.select("figure[data-figure]")
    for figure in figures:
        page = _built_page(built_book / "book" / f"{figure['data-page']}.html")
        original = page.find(id=figure["data-figure"]).find("img")["src"]
        mine = decks / figure.find("img")["src"]
        assert mine.read_bytes() == (built_book / "book" / original).resolve().read_bytes()
    if name in ("motivation", "mlp", "practice"):
        assert figures, f"{name} shows none of its page's figures"


def test_index_lists_every_deck_in_lesson_plan_order(decks: Path) -> None:
    text = (decks / "index.html").read_text("utf-8")
    links = list(dict.fromkeys(re.findall(r'<a href="([\w-]+)\.html">', text)))
    assert links == DECKS, links
    assert "0:00–0:10" in text and "10 min" in text


def test_speaker_view_shows_the_time_left_in_the_block(browser, site: str, decks: Path) -> None:  # noqa: F811
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = open_page(context, LoadRecord())
        page.goto(f"{site}slides/recap.html")
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
        with context.expect_page() as popup:
            page.evaluate("() => Reveal.getPlugin('notes').open()")
        speaker = popup.value
        speaker.wait_for_function(
            "() => /^\\d+:\\d\\d$/.test((document.querySelector('.block-clock-value') || {}).textContent)",
            timeout=15_000)
        label = speaker.text_content(".block-clock .label")
        left = speaker.text_content(".block-clock-value")
        assert "Recap & retrieval, 10 min" in label
        mins, secs = map(int, left.split(":"))
        assert 9 * 60 < mins * 60 + secs <= 10 * 60, f"{left} left of a 10-minute block"
    finally:
        context.close()


def test_dark_theme_is_available(browser, site: str, decks: Path) -> None:  # noqa: F811
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = open_page(context, LoadRecord())
        page.goto(f"{site}slides/recap.html?theme=dark")
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
        colours = page.evaluate("""() => [getComputedStyle(document.body).backgroundColor,
                                         getComputedStyle(document.querySelector('.reveal h1')).color]""")
        assert colours == ["rgb(17, 17, 17)", "rgb(242, 242, 242)"], colours
        page.keyboard.press("d")
        assert page.evaluate("() => document.documentElement.classList.contains('dark')") is False
    finally:
        context.close()


def test_pdf_has_one_page_per_slide_and_its_text_extracts(browser, decks: Path, tmp_path: Path) -> None:  # noqa: F811
    from handouts import print_pdf
    from pypdf import PdfReader

    context = browser.new_context(viewport=VIEWPORT)
    try:
        count = print_pdf(context, decks / "recap.html", tmp_path / "recap.pdf")  # from file://
    finally:
        context.close()
    reader = PdfReader(tmp_path / "recap.pdf")
    assert len(reader.pages) == count
    text = [page.extract_text() for page in reader.pages]
    assert "Recap and retrieval" in text[0]
    soup = BeautifulSoup((decks / "recap.html").read_text("utf-8"), "html.parser")
    glued = soup.select(".slides > section")[1].select_one(".glued").get_text()
    assert glued in text[1], (glued, text[1][:300])


def test_instructor_timetable_links_every_deck(decks: Path, built_book: Path) -> None:
    soup = BeautifulSoup((built_book / "book" / "instructor.html").read_text("utf-8"), "html.parser")
    linked = {a["href"] for a in soup.select('table a[href^="../slides/"]')}
    for href in linked:
        assert (built_book / "book" / href).resolve().is_file(), f"dead deck link {href}"
    assert {f"../slides/{name}.html" for name in DECKS} <= linked
