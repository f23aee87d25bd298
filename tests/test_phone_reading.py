"""Reading on a phone, in both themes: figures, graphs, program output, tables, small targets.

One visit per page (the session's build and browser); each visit is measured at 360 and 390 px
(touch) and on the desktop (1280 px), in the light and the dark theme, by resizing the viewport
and switching ``html[data-theme]`` (what the theme's switch does), waiting each time until every
visible figure shows the file its ``<picture>`` selects. A figure is measured from the SVG file
it displays (``currentSrc``): its smallest text in CSS px as displayed, each text's colour and
each thin line's colour (with its opacity) against the background it sits on. With
``MLPBOOK_SHOTS=1`` full-page screenshots of every view go to
``_build/screenshots/phone-reading/``, for review (docs/figures.md).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from browsing import LoadRecord, browser, open_page, read_through, site  # noqa: F401 - fixtures by name
from conftest import ROOT, SITE_ROOT
from pages import book_pages

from mlpbook.figvariants import contrast

pytestmark = [pytest.mark.book, pytest.mark.browser]

DOCNAMES = [p.docname for p in book_pages(SITE_ROOT)]
VIEWS = {"phone-360": (360, 740), "phone-390": (390, 844), "desktop": (1280, 900)}
THEMES = ("light", "dark")
MIN_PHONE_PX = 11.0        # smallest figure text on a phone, CSS px
MIN_DESKTOP_RATIO = 0.8    # smallest figure text on the desktop, x body text
TEXT_CONTRAST, LINE_CONTRAST = 4.5, 3.0
MIN_TARGET_PX = 44.0
SHOTS = ROOT / "_build" / "screenshots" / "phone-reading"
#: MLPBOOK_SHOTS=1: also save full-page screenshots of every view (for review; ~1 min more).
SCREENSHOTS = os.environ.get("MLPBOOK_SHOTS") == "1"

FIGURES_JS = """() => {
  const bg = (el) => {  // the first opaque background behind el
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      const m = c.match(/rgba?\\(([\\d.]+), ([\\d.]+), ([\\d.]+)(?:, ([\\d.]+))?\\)/);
      if (m && (m[4] === undefined || parseFloat(m[4]) > 0.5)) {
        return '#' + [m[1], m[2], m[3]].map(v => (+v).toString(16).padStart(2, '0')).join('');
      }
    }
    return '#ffffff';
  };
  const body = parseFloat(getComputedStyle(document.querySelector('article p')
                                           || document.body).fontSize);
  return [...document.querySelectorAll('article .cell_output img, article figure img')]
    .filter(i => i.checkVisibility() && i.getBoundingClientRect().width > 0)
    .map(i => {
      const box = i.closest('.figure-scroll') || i.parentElement;
      const r = i.getBoundingClientRect(), b = box.getBoundingClientRect();
      return {src: new URL(i.currentSrc || i.src).pathname, width: r.width, body,
              bg: bg(box), graph: !!i.closest('.mlpbook-graph'),
              visible: [Math.max(r.left, b.left) - r.left, Math.min(r.right, b.right) - r.left],
              caption: ((i.closest('figure') || i).textContent || '').trim().slice(0, 50)};
    });
}"""

# Every visible <img> in a <picture> shows what its sources select (after a resize).
SETTLED_JS = """() => [...document.querySelectorAll('article picture img')]
  .filter(i => i.checkVisibility()).every(i => {
    const s = [...i.parentElement.querySelectorAll('source')]
      .find(s => !s.media || matchMedia(s.media).matches);
    const want = new URL(s ? s.srcset : i.getAttribute('src'), location.href).href;
    return i.complete && i.naturalWidth > 0 && i.currentSrc === want;
  })"""

LAYOUT_JS = """() => {
  const px = (el, p) => parseFloat(getComputedStyle(el)[p]);
  const out = {outputs: [], tables: [], targets: [], maths: [], footer: ''};
  document.querySelectorAll('article .cell_output pre').forEach(p => {
    const s = getComputedStyle(p);
    out.outputs.push({ws: s.whiteSpace, ox: s.overflowX,
                      text: p.textContent.trim().slice(0, 40)});
  });
  document.querySelectorAll('article table').forEach(t => {
    const box = t.closest('.pst-scrollable-table-container, .table-wrapper') || t.parentElement;
    if (box.scrollWidth <= box.clientWidth + 1) return;
    box.scrollLeft = box.scrollWidth;
    const cell = t.querySelector('tbody tr > :first-child');
    const c = cell.getBoundingClientRect(), b = box.getBoundingClientRect();
    out.tables.push({first: cell.textContent.trim().slice(0, 30),
                     inView: c.left >= b.left - 1 && c.right <= b.right + 1});
    box.scrollLeft = 0;
  });
  document.querySelectorAll('article details > summary, '
                            + 'article .admonition.toggle > .admonition-title').forEach(s => {
    if (!s.checkVisibility()) return;
    const r = s.getBoundingClientRect();
    out.targets.push({text: s.textContent.trim().slice(0, 40), height: r.height});
  });
  document.querySelectorAll('article span.math').forEach(m => {
    const s = getComputedStyle(m);
    const cut = m.scrollWidth > m.clientWidth + 1 && s.overflowX !== 'auto'
                && s.overflowX !== 'scroll';
    if (cut) out.maths.push(m.textContent.trim().slice(0, 40));
  });
  const f = document.querySelector('.bd-footer-content');
  out.footer = f ? f.textContent.replace(/\\s+/g, ' ').trim() : '';
  return out;
}"""


@dataclass
class Visit:
    docname: str
    figures: dict = field(default_factory=dict)   # (view, theme) -> list of figures
    layout: dict = field(default_factory=dict)    # view -> LAYOUT_JS
    errors: list = field(default_factory=list)


def _svg(path: Path) -> dict:
    """A figure SVG's drawing width and each text's size and colour, each thin line's colour."""
    svg = path.read_text(encoding="utf-8")
    view = re.search(r'viewBox="\s*[-\d.]+\s+[-\d.]+\s+([\d.]+)', svg)
    texts, lines = [], []
    for block in re.findall(r"<text\b.*?</text>", svg, flags=re.S):
        sizes = [float(v) for v in re.findall(r"font-size:\s*([\d.]+)", block)]
        fills = re.findall(r"\bfill:\s*(#[0-9a-fA-F]{6})", block) or ["#000000"]
        label = re.sub(r"<[^>]+>", "", block).strip()[:30]
        if sizes:
            texts += [(max(sizes), fill, label) for fill in set(fills)]
    for tag in re.findall(r"<path\b[^>]*>", svg):
        stroke = re.search(r"\bstroke:\s*(#[0-9a-fA-F]{6})", tag)
        width = re.search(r"stroke-width:\s*([\d.]+)", tag)
        opacity = re.search(r"stroke-opacity:\s*([\d.]+)", tag)
        if stroke and width and float(width.group(1)) <= 2.5:
            lines.append((stroke.group(1), float(opacity.group(1)) if opacity else 1.0))
    return {"width": float(view.group(1)), "texts": texts, "lines": lines}


def _blend(fg: str, bg: str, alpha: float) -> str:
    mix = [alpha * int(fg[i:i + 2], 16) + (1 - alpha) * int(bg[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(v):02x}" for v in mix)


@pytest.fixture(scope="module")
def visits(browser, site: str, built_book: Path) -> dict[str, Visit]:  # noqa: F811
    if SCREENSHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
    out: dict[str, Visit] = {}
    context = browser.new_context(viewport={"width": 360, "height": 740}, has_touch=True,
                                  device_scale_factor=1)
    try:
        for docname in DOCNAMES:
            visit = out[docname] = Visit(docname)
            page = open_page(context, LoadRecord())
            page.goto(site + f"{docname}.html", wait_until="load")
            page.evaluate("() => document.fonts.ready.then(() => true)")
            page.evaluate("""() => {
              document.querySelectorAll('article .admonition.toggle.toggle-hidden > '
                + '.admonition-title').forEach(t => t.click());
              document.querySelectorAll('article details:not([open])')
                .forEach(d => { d.open = true; });
            }""")
            has_figures = page.evaluate("() => !!document.querySelector('article img')")
            for view, (w, h) in VIEWS.items():
                page.set_viewport_size({"width": w, "height": h})
                for theme in THEMES:
                    visit.figures[(view, theme)] = []
                    if not (has_figures or SCREENSHOTS):
                        continue
                    page.evaluate(f"() => {{ document.documentElement.dataset.theme = '{theme}';"
                                  f" document.documentElement.dataset.mode = '{theme}'; }}")
                    read_through(page)  # boxes are measured near the screen
                    page.wait_for_function(SETTLED_JS, timeout=15_000)
                    visit.figures[(view, theme)] = page.evaluate(FIGURES_JS)
                    if SCREENSHOTS:
                        slug = docname.split("/")[-1]
                        page.screenshot(path=str(SHOTS / f"{slug}-{view}-{theme}.jpg"),
                                        type="jpeg", quality=60, full_page=True)
                if not (has_figures or SCREENSHOTS):
                    read_through(page)
                visit.layout[view] = page.evaluate(LAYOUT_JS)
            page.close()
    finally:
        context.close()
    return out


CASES = [(v, t) for v in VIEWS for t in THEMES]


@pytest.mark.parametrize(("view", "theme"), CASES)
def test_figure_text_size_and_colours(visits, built_book: Path, view: str, theme: str) -> None:
    """Every figure as displayed: smallest text >= 11 px on a phone and >= 0.8x body text on
    the desktop; text >= 4.5:1 and thin lines >= 3:1 against the background behind it."""
    bad, seen = [], 0
    for docname, visit in visits.items():
        for f in visit.figures[(view, theme)]:
            path = built_book / f["src"].lstrip("/")
            where = f"{docname} {path.name} ({f['caption']!r})"
            if path.suffix != ".svg":
                bad.append(f"{where}: not an SVG figure")
                continue
            seen += 1
            svg = _svg(path)
            scale = f["width"] / svg["width"]
            smallest = min(s for s, _, _ in svg["texts"]) * scale if svg["texts"] else None
            if smallest is not None and view != "desktop" and smallest < MIN_PHONE_PX:
                bad.append(f"{where}: smallest text {smallest:.1f} px at {view} (< 11)")
            if smallest is not None and view == "desktop" and \
                    smallest < MIN_DESKTOP_RATIO * f["body"]:
                bad.append(f"{where}: smallest text {smallest:.1f} px on the desktop "
                           f"(< 0.8 x {f['body']:.0f} px)")
            for _, fill, label in svg["texts"]:
                if contrast(fill, f["bg"]) < TEXT_CONTRAST and not _on_cell(path, label):
                    bad.append(f"{where}: text {label!r} {fill} on {f['bg']}: "
                               f"{contrast(fill, f['bg']):.2f}:1")
            for stroke, alpha in set(svg["lines"]):
                seen_as = _blend(stroke, f["bg"], alpha)
                if contrast(seen_as, f["bg"]) < LINE_CONTRAST:
                    bad.append(f"{where}: line {stroke} (opacity {alpha}) on {f['bg']}: "
                               f"{contrast(seen_as, f['bg']):.2f}:1")
    assert seen > 0, "no figure was measured"
    assert not bad, f"{view}, {theme}:\n  " + "\n  ".join(bad)


def _on_cell(path: Path, label: str) -> bool:
    """Text that sits on its own coloured cell (mlpbook.figvariants.keep_colour)."""
    svg = path.read_text(encoding="utf-8")
    return any(label in re.sub(r"<[^>]+>", "", g)
               for g in re.findall(r'<g id="mlpbook-keep-\d+">.*?</g>', svg, flags=re.S))


@pytest.mark.parametrize("view", ["phone-360", "phone-390"])
def test_graphs_start_at_their_output(visits, built_book: Path, view: str) -> None:
    """A computational graph on a phone shows its right end (output L and the first backward
    steps) when it first appears: the box is scrolled to the end of the drawing."""
    graphs = [(d, f) for d, v in visits.items() for t in THEMES for f in v.figures[(view, t)]
              if f["graph"]]
    assert len(graphs) >= 6, f"expected the 3 graph figures in 2 themes, found {len(graphs)}"
    bad = [f"{d} {Path(f['src']).name}: visible {f['visible'][0]:.0f}-{f['visible'][1]:.0f} "
           f"of {f['width']:.0f} px" for d, f in graphs if f["visible"][1] < f["width"] - 2]
    assert not bad, "graphs not scrolled to their output:\n  " + "\n  ".join(bad)


def test_program_output_scrolls_instead_of_wrapping(visits) -> None:
    bad = [f"{d}: {o['text']!r} white-space {o['ws']}, overflow-x {o['ox']}"
           for d, v in visits.items() for o in v.layout["phone-360"]["outputs"]
           if o["ws"] != "pre" or o["ox"] not in ("auto", "scroll")]
    assert not bad, "\n".join(bad)


def test_wide_tables_keep_their_first_column(visits) -> None:
    tables = [(d, t) for d, v in visits.items() for t in v.layout["phone-360"]["tables"]]
    assert tables, "no table scrolls at 360 px: nothing measured"
    bad = [f"{d}: first column {t['first']!r} scrolls out of view" for d, t in tables
           if not t["inView"]]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("view", ["phone-360", "phone-390"])
def test_touch_targets_and_inline_maths(visits, view: str) -> None:
    bad = [f"{d}: {t['text']!r} is {t['height']:.0f} px tall" for d, v in visits.items()
           for t in v.layout[view]["targets"] if t["height"] < MIN_TARGET_PX]
    bad += [f"{d}: inline maths cut: {m!r}" for d, v in visits.items()
            for m in v.layout[view]["maths"]]
    assert not bad, "\n".join(bad)


def test_footer_names_the_course(visits) -> None:
    footer = visits["book/intro"].layout["desktop"]["footer"]
    assert "Week 3" in footer and "By Deep Learning course" not in footer, footer


def test_contrast_helper() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert _blend("#000000", "#ffffff", 0.5) == "#808080"
