"""What readers see: every page of the built site, in a real browser, on a desktop and on phones.

The built site is served on 127.0.0.1 and driven with Playwright (sync API) in Debian's Chromium
(``/usr/bin/chromium``, or the path in ``PLAYWRIGHT_CHROMIUM_EXECUTABLE``; see tests/browsing.py,
shared with the other browser tests); one browser per session. Each page is visited once per
device and theme: desktop (1280x900) in light and dark, phones with touch at 360x740 (light) and
390x844 (light and dark). The visit records everything, the tests below assert on the record:

- no console error, no failed request for a local asset, no request leaving 127.0.0.1;
- maths typeset at build time by KaTeX (no raw ``$$``, no TeX error);
- every hidden answer (toggle / dropdown admonitions, exercise solutions, ``<details>``) and
  every predict-then-run output (``hide-output`` cells) hidden until its toggle is clicked,
  then visible;
- every image loads and has alt text; pages with code have a Colab button;
- axe-core: no serious or critical violation, on the desktop in light and dark mode and on the
  phones;
- navigation: on a phone the site navigation opens on a tap and by keyboard (Enter), shows links
  to every other page, and closes (tap outside, Escape); the "on this page" drawer too; on the
  desktop the sidebar button hides and shows the sidebar, by click and by keyboard;
- nothing wider than a phone's screen: the page never scrolls sideways, nothing sticks out past
  the right edge or is cut off unless it sits in a horizontal scroller, every scroller that
  overflows shows the fade cue, and no equation number overlaps its equation;
- figure text: rendered size of the smallest text in every figure (measured from the SVG: font
  size x displayed width / drawing width) >= 0.8x the body text on the desktop and >= 0.45x on
  a phone (computational graphs keep 0.7 of their size and scroll);
- no missing-glyph box: every character on the page (text and CSS ::before/::after icons) is
  drawn by some font, not as the .notdef box;
- a full-page screenshot per page, device and theme in ``_build/screenshots/`` for human review
  (``<page>-light.jpg``, ``<page>-dark.jpg`` on the desktop, ``<page>-phone-390-light.jpg`` ...,
  with every answer revealed; ``report.txt`` sums up each visit, ``axe.json`` holds axe's
  findings).

Without Chromium these tests fail (never skip) and say how to get it.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from browsing import (AXE_OPTIONS, AXE_START_JS, TWO_FRAMES_JS, LoadRecord, SiteHandler,  # noqa: F401
                      axe_script, browser, open_page, read_through, site, wait_for_mathjax,
                      wait_for_requests)
from conftest import SITE_ROOT
from pages import book_pages

pytestmark = [pytest.mark.browser, pytest.mark.book]

PAGES = book_pages(SITE_ROOT)  # the pages of the site under test (MLPBOOK_SITE: a built copy)
DOCNAMES = [p.docname for p in PAGES]
CODE_PAGES = [p.docname for p in PAGES if p.has_code]
THEMES = ("light", "dark")
COLAB_PREFIX = "https://colab.research.google.com/github/"
SERIOUS = ("serious", "critical")


@dataclass(frozen=True)
class Device:
    name: str
    width: int
    height: int
    touch: bool = False


DESKTOP = Device("desktop", 1280, 900)
PHONES = (Device("phone-360", 360, 740, touch=True), Device("phone-390", 390, 844, touch=True))
DEVICES = {d.name: d for d in (DESKTOP, *PHONES)}
# Phone visits: both widths in light mode, the common one in dark mode too.
PHONE_VISITS = [("phone-360", "light"), ("phone-390", "light"), ("phone-390", "dark")]
# axe-core (seconds a page) runs every rule once per page, on the desktop in light mode, and
# each other rule where its answer can differ: the colour rules in dark mode (the same page in
# other colours; they are the same at every width), the rest on the 390 px phone (the same
# colours, another layout). Each visit's rules are the rules axe has, filtered: a new axe rule
# runs too. ``None``: every rule.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]
AXE_VISITS = {
    ("desktop", "light"): None,
    ("desktop", "dark"): {"runOnly": {"type": "rule", "values": COLOUR_RULES}},
    ("phone-390", "light"): {"rules": {r: {"enabled": False} for r in COLOUR_RULES}},
}
#: MLPBOOK_SHOTS=1: full-page screenshots (for review, ~1 min more); else the first screen.
FULL_SCREENSHOTS = os.environ.get("MLPBOOK_SHOTS") == "1"
# Figure text against the body text: on the desktop, and (with wide figures scrolling) a phone.
MIN_FIGURE_TEXT_DESKTOP = 0.8
MIN_FIGURE_TEXT_PHONE = 0.45


# --- one visit of one page on one device in one theme ------------------------------------------

@dataclass
class Visit:
    """Everything seen on one page, on one device, in one theme."""

    docname: str
    theme: str
    device: str = "desktop"
    theme_applied: str = ""
    load: LoadRecord = field(default_factory=LoadRecord)
    maths: dict = field(default_factory=dict)
    hidden: list[dict] = field(default_factory=list)
    hide_output_cells: list[dict] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    empty_figures: list[str] = field(default_factory=list)
    colab: dict = field(default_factory=dict)
    nav: dict = field(default_factory=dict)
    layout: dict = field(default_factory=dict)
    figures: list[dict] = field(default_factory=list)
    glyphs: list[dict] = field(default_factory=list)
    axe: list[dict] = field(default_factory=list)
    screenshot: Path | None = None
    seconds: float = 0.0

    @property
    def console_errors(self) -> list[str]:
        return self.load.console_errors

    @property
    def failed_requests(self) -> list[str]:
        return self.load.failed_requests

    @property
    def external_requests(self) -> list[str]:
        return self.load.external_requests

    @property
    def where(self) -> str:
        return f"{self.docname}.html ({self.device}, {self.theme})"


MATHS_JS = """() => {
  const article = document.querySelector('article') || document.body;
  const maths = [...article.querySelectorAll('.math')];
  const raw = [];
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT, {acceptNode(n) {
    return n.parentElement.closest('pre, code, script, style, .katex, .highlight')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT; }});
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const t = n.textContent;
    if (t.includes('$$') || /\\\\[\\(\\[]/.test(t)) raw.push(t.trim().slice(0, 80));
  }
  return {
    elements: maths.length,
    typeset: maths.filter(m => m.querySelector('.katex')).length,
    containers: article.querySelectorAll('.katex').length,
    errors: [...article.querySelectorAll('.katex-error')].map(e => e.textContent.slice(0, 80)),
    raw,
  };
}"""

# Hidden things in document order, so that an outer toggle is opened before an inner one.
HIDDEN_SELECTOR = "article .admonition.toggle, article details"

DESCRIBE_JS = """(el) => {
  const cell = el.closest('.cell');
  let kind;
  if (el.tagName === 'DETAILS') {
    if (el.classList.contains('below-input') || (cell && el.querySelector(':scope > .cell_output')))
      kind = 'predict-then-run output';
    else if (el.classList.contains('above-input')) kind = 'hidden code input';
    else if (el.classList.contains('toggle-details')) kind = 'toggle';
    else kind = 'details';
  } else if (el.classList.contains('solution')) kind = 'exercise solution';
  else if (el.classList.contains('dropdown')) kind = 'dropdown admonition';
  else kind = 'toggle admonition';
  const title = el.tagName === 'DETAILS' ? el.querySelector(':scope > summary')
                                         : el.querySelector(':scope > .admonition-title');
  const text = (title ? title.innerText : '').trim().replace(/\\s+/g, ' ').slice(0, 60);
  const where = cell ? ' in a code cell' : '';
  return {kind, label: `${kind} "${text}"${where}` + (el.id ? ` #${el.id}` : '')};
}"""

BODY_VISIBLE_JS = """(el) => {
  const isDetails = el.tagName === 'DETAILS';
  const body = [...el.childNodes].filter(n => isDetails ? n.nodeName !== 'SUMMARY'
      : !(n.classList && n.classList.contains('admonition-title')))
    .filter(n => n.nodeType === 1 || (n.nodeType === 3 && n.textContent.trim()));
  const open = isDetails ? el.open : !el.classList.contains('toggle-hidden');
  const visible = n => {
    if (n.nodeType === 3) {  // bare text, e.g. <details><summary>..</summary>text</details>
      const r = document.createRange(); r.selectNodeContents(n);
      return open && el.checkVisibility() && r.getBoundingClientRect().height > 0;
    }
    return n.checkVisibility() && n.getBoundingClientRect().height > 0;
  };
  return {parts: body.length, shown: body.filter(visible).length, open};
}"""

HIDE_OUTPUT_JS = """() => [...document.querySelectorAll(
    'article .cell.tag_hide-output, article .cell.tag_hide-cell')].map((cell, i) => {
  const out = cell.querySelector('.cell_output');
  const details = out && out.closest('details');
  const content = out ? out.textContent.trim().length + out.querySelectorAll('img, svg').length : 0;
  return {index: i, has_output: content > 0,
          in_details: !!details && cell.contains(details),
          visible: !!out && out.checkVisibility() && out.getBoundingClientRect().height > 0,
          text: (cell.querySelector('.cell_input') || cell).textContent.trim().slice(0, 60)};
})"""

REVEAL_ALL_JS = """() => {
  document.querySelectorAll('article .admonition.toggle.toggle-hidden > .admonition-title')
    .forEach(t => t.click());
  document.querySelectorAll('article details:not([open])').forEach(d => { d.open = true; });
}"""

IMAGES_JS = """async () => {
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return imgs.map(i => ({src: i.getAttribute('src'), alt: i.getAttribute('alt'),
                         naturalWidth: i.naturalWidth, inArticle: !!i.closest('article')}));
}"""

EMPTY_FIGURES_JS = """() => [...document.querySelectorAll('article figure')]
  .filter(f => !f.querySelector('img, svg, object, video, canvas'))
  .map(f => f.id || f.textContent.trim().slice(0, 60))"""


def _check_hidden(page, visit: Visit) -> None:
    """Every hidden answer, code input and output: hidden, then shown by clicking its toggle."""
    visit.hide_output_cells = page.evaluate(HIDE_OUTPUT_JS)
    items = page.locator(HIDDEN_SELECTOR)
    for i in range(items.count()):
        el = items.nth(i)
        info = el.evaluate(DESCRIBE_JS)
        before = el.evaluate(BODY_VISIBLE_JS)
        # A reader clicks the summary / admonition title (anywhere on it: Playwright clicks its
        # centre); if that does not reveal the content, the explicit toggle button is tried so
        # that the report says both what failed and whether the content can be shown at all.
        title = el.locator(":scope > summary, :scope > .admonition-title").first
        clicked, error, title_works = False, "", False
        try:
            title.scroll_into_view_if_needed(timeout=5_000)
            title.click(timeout=5_000)
            clicked = True
            title_works = el.evaluate(BODY_VISIBLE_JS)["shown"] > 0
            button = el.locator(":scope > .admonition-title .toggle-button")
            if not title_works and button.count() and not el.evaluate(BODY_VISIBLE_JS)["open"]:
                button.first.click(timeout=5_000)
        except Exception as exc:  # recorded: a toggle a reader cannot click is a failure
            error = str(exc).splitlines()[0]
        after = el.evaluate(BODY_VISIBLE_JS)
        visit.hidden.append({**info, "before": before, "after": after, "clicked": clicked,
                             "title_works": title_works, "error": error})
    # After clicking every toggle, every predict-then-run output must be visible.
    for cell, now in zip(visit.hide_output_cells, page.evaluate(HIDE_OUTPUT_JS)):
        cell["visible_after"] = now["visible"]


def _check_colab(page, visit: Visit) -> None:
    links = page.locator(f'a[href^="{COLAB_PREFIX}"]')
    visit.colab = {"hrefs": [links.nth(i).get_attribute("href") for i in range(links.count())],
                   "visible_after_click": False}
    if not visit.colab["hrefs"]:
        return
    menu = page.locator(".dropdown-launch-buttons > button")
    if menu.count():
        menu.first.click()
    try:
        links.first.wait_for(state="visible", timeout=15_000)
        visit.colab["visible_after_click"] = True
    except Exception:
        pass


# The page has settled: no transition or finite animation running, and no re-measuring that
# reader.js has scheduled after a click (<html data-reader-pending>). Wait for it with
# page.wait_for_function, then let two frames pass (ResizeObserver callbacks run before a frame).
SETTLED_JS = """() => !('readerPending' in document.documentElement.dataset) && document.getAnimations()
  .every(a => a.playState !== 'running' || a.effect.getComputedTiming().iterations === Infinity)"""


# Every region of the article that scrolls (either way) has a tab stop (tabindex >= 0) or
# focusable content: what axe's scrollable-region-focusable asks.
SCROLLERS_FOCUSABLE_JS = """() => [...document.querySelectorAll('article *')].every(el => {
  const s = getComputedStyle(el), scrolls = v => v === 'auto' || v === 'scroll';
  const over = (scrolls(s.overflowX) && el.scrollWidth > el.clientWidth)
            || (scrolls(s.overflowY) && el.scrollHeight > el.clientHeight);
  return !over || el.tabIndex >= 0
         || !!el.querySelector('a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])'); })"""


def _settle(page) -> None:
    page.wait_for_function(SETTLED_JS, timeout=30_000)
    page.evaluate(TWO_FRAMES_JS)

# Nothing past the right edge: every visible element of the article, its header and footer.
# An element may extend past the screen's right edge (or past a box that clips it) only inside a
# horizontal scroller (overflow-x auto/scroll) within the article that itself ends on screen.
LAYOUT_JS = """() => {
  const W = document.documentElement.clientWidth;
  const article = document.querySelector('article.bd-article');
  const roots = [...document.querySelectorAll(
    'article.bd-article, .bd-header-article, footer.prev-next-footer, .bd-footer-article')];
  const cache = new Map();
  const ox = el => { if (!cache.has(el)) cache.set(el, getComputedStyle(el).overflowX); return cache.get(el); };
  const scrolls = el => ox(el) === 'auto' || ox(el) === 'scroll';
  const clips = el => ox(el) === 'hidden' || ox(el) === 'clip';
  const describe = el => {
    const cls = [...el.classList].slice(0, 3).join('.');
    const text = (el.textContent || el.getAttribute('alt') || '').trim().replace(/\\s+/g, ' ').slice(0, 50);
    const sec = el.closest('section[id]');
    return `<${el.tagName.toLowerCase()}${cls ? '.' + cls : ''}> "${text}"` + (sec ? ` in #${sec.id}` : '');
  };
  const reported = new Set();
  const underReported = el => { for (let p = el.parentElement; p; p = p.parentElement)
    if (reported.has(p)) return true; return false; };
  const offscreen = [], cut = [];
  for (const root of roots) for (const el of root.querySelectorAll('*')) {
    // (KaTeX draws stretchy parts, a root's vinculum, as 400em-wide SVGs clipped by design: its
    // formula's boxes are checked, not the inside of those SVGs)
    if (el.closest('.katex-mathml, script, style, .headerlink, .katex svg')) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) continue;
    if (!el.checkVisibility({visibilityProperty: true, opacityProperty: false})) continue;
    let box = null;  // the nearest ancestor that scrolls or clips sideways
    for (let p = el.parentElement; p && p !== document.documentElement; p = p.parentElement) {
      if (scrolls(p) || clips(p)) { box = p; break; }
    }
    const inScroller = box && scrolls(box) && article && article.contains(box) && box !== article
      && box.getBoundingClientRect().right <= W + 0.5;
    if (r.right > W + 0.5 && !inScroller && !underReported(el)) {
      reported.add(el);
      offscreen.push(`${describe(el)}: right edge at ${Math.round(r.right)} px > ${W}`);
    } else if (box && clips(box) && !underReported(el)) {
      const b = box.getBoundingClientRect();
      if (r.right > b.right + 1 || r.left < b.left - 1) {
        reported.add(el);
        cut.push(`${describe(el)}: cut off by ${describe(box).split(' ')[0]} ` +
                 `(${Math.round(r.left)}-${Math.round(r.right)} px shown in ${Math.round(b.left)}-${Math.round(b.right)})`);
      }
    }
  }
  // Every box that scrolls sideways and has more to show carries the fade cue.
  const uncued = [];
  for (const el of article ? article.querySelectorAll('*') : []) {
    if (!scrolls(el) || el.scrollWidth - el.clientWidth <= 1) continue;
    if (!el.checkVisibility() || el.getBoundingClientRect().width < 1) continue;
    const mask = getComputedStyle(el).maskImage || getComputedStyle(el).webkitMaskImage || 'none';
    const cued = (el.classList.contains('scroll-more-right') || el.classList.contains('scroll-more-left'))
      && mask !== 'none';
    if (!cued) uncued.push(describe(el));
  }
  // Equation numbers against the visible part of their equation.
  const numbers = [];
  let equations = 0;
  for (const m of document.querySelectorAll('article div.math')) {
    const no = m.querySelector(':scope > .eqno');
    const box = m.querySelector(':scope > .katex-display');
    if (!no || !box || !no.firstChild) continue;
    equations += 1;
    const range = document.createRange();
    range.selectNodeContents(no.firstChild);
    const n = range.getBoundingClientRect();
    const c = box.getBoundingClientRect();
    const math = (box.querySelector('.katex-html') || box).getBoundingClientRect();
    const vis = {left: Math.max(c.left, math.left), right: Math.min(c.right, math.right),
                 top: Math.max(c.top, math.top), bottom: Math.min(c.bottom, math.bottom)};
    const overlap = Math.min(n.right, vis.right) - Math.max(n.left, vis.left) > 0.5
      && Math.min(n.bottom, vis.bottom) - Math.max(n.top, vis.top) > 0.5;
    if (overlap || n.right > W + 0.5 || n.width < 1)
      numbers.push(`${no.firstChild.textContent.trim()} (#${m.id}): number at ` +
                   `${Math.round(n.left)}-${Math.round(n.right)} px, equation shown at ` +
                   `${Math.round(vis.left)}-${Math.round(vis.right)} px`);
  }
  return {innerWidth: window.innerWidth, clientWidth: W,
          scrollWidth: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
          offscreen, cut, uncued, numbers, equations};
}"""

# Every figure image of the article as displayed: its file and displayed width, and the page's
# body text size.
FIGURES_JS = """() => {
  const body = document.querySelector('article p') || document.body;
  return [...document.querySelectorAll('article .cell_output img, article figure img')]
    .filter(i => i.checkVisibility() && i.getBoundingClientRect().width > 0)
    .map(i => ({src: new URL(i.currentSrc || i.getAttribute('src'), location.href).pathname,  // the file shown (<picture>: by theme and width)
                width: i.getBoundingClientRect().width, naturalWidth: i.naturalWidth,
                scroller: !!i.closest('.figure-scroll'),
                caption: ((i.closest('figure') || i).textContent || '').trim().slice(0, 50),
                body: parseFloat(getComputedStyle(body).fontSize)}));
}"""

# Missing glyphs: every character of the page's text (outside KaTeX, which has its own
# fonts) and of CSS ::before/::after content, drawn with the font the page uses for it, against
# the drawing of a character no font has (the .notdef box). Identical pixels = a missing glyph.
GLYPHS_JS = """async () => {
  await document.fonts.ready;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 48;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (ch, font) => {
    ctx.clearRect(0, 0, 48, 48); ctx.font = font; ctx.textBaseline = 'middle';
    ctx.fillStyle = '#000'; ctx.fillText(ch, 4, 24);
    return ctx.getImageData(0, 0, 48, 48).data;
  };
  const fontOf = s => `${s.fontStyle} ${s.fontWeight} 32px ${s.fontFamily}`;
  const seen = new Map();
  const add = (text, font, where) => {
    for (const ch of text) {
      const cp = ch.codePointAt(0);
      if (cp < 0x80 || /\\s/.test(ch)) continue;
      const key = ch + '\\u0000' + font;
      if (!seen.has(key)) seen.set(key, {ch, cp: 'U+' + cp.toString(16).toUpperCase().padStart(4, '0'), font, where});
    }
  };
  const roots = [...document.querySelectorAll('article.bd-article, .bd-header-article, footer.prev-next-footer')];
  for (const root of roots) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {acceptNode(n) {
      return n.parentElement.closest('.katex, script, style') ? NodeFilter.FILTER_REJECT
                                                                      : NodeFilter.FILTER_ACCEPT; }});
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.parentElement.checkVisibility()) continue;
      add(n.textContent, fontOf(getComputedStyle(n.parentElement)),
          n.parentElement.tagName.toLowerCase() + ' "' + n.textContent.trim().slice(0, 40) + '"');
    }
    for (const el of root.querySelectorAll('*')) {
      // replaced elements and SVG draw no ::before/::after (Font Awesome leaves content there)
      if (el.closest('.katex, svg, img, input, video, canvas, iframe') || !el.checkVisibility()) continue;
      for (const pseudo of ['::before', '::after']) {
        const s = getComputedStyle(el, pseudo);
        const m = /^"(.*)"$/.exec(s.content || '');
        if (!m || s.display === 'none') continue;
        add(m[1], fontOf(s), `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}${pseudo}`);
      }
    }
  }
  const missing = [];
  const notdef = new Map();
  for (const {ch, cp, font, where} of seen.values()) {
    if (!notdef.has(font)) notdef.set(font, draw('\\u{10FFFD}', font));
    const a = draw(ch, font), b = notdef.get(font);
    if (a.every((v, i) => v === b[i])) missing.push(`${cp} ${JSON.stringify(ch)} in ${where} (font: ${font})`);
  }
  return {checked: seen.size, missing};
}"""

VISIBLE_LINKS_JS = """(links) => links
  .filter(a => a.checkVisibility() && a.getBoundingClientRect().width > 0)
  .map(a => new URL(a.getAttribute('href'), location.href))
  .map(u => ({path: u.pathname, hash: u.hash}))"""

DIALOG_OPEN_JS = "(id) => !!(document.getElementById(id) || {}).open"
# A drawer's states, as a reader's next key or tap finds it. Open: the dialog is open and its
# transitions have ended. Closed: the dialog is closed and its "close" event has been handled
# (the theme moves the sidebar back out of the drawer then, in a later task than close()); the
# test counts those events (WATCH_CLOSES_JS) and waits for one more than before.
DRAWER_OPEN_JS = """(id) => { const d = document.getElementById(id);
  return !!d && d.open && d.getAnimations({subtree: true}).every(a => a.playState !== 'running'); }"""
WATCH_CLOSES_JS = """(id) => { const d = document.getElementById(id);
  if (d && d.__closes === undefined) { d.__closes = 0; d.addEventListener('close', () => { d.__closes += 1; }); }
  return d ? d.__closes : 0; }"""
DRAWER_CLOSED_JS = """([id, before]) => { const d = document.getElementById(id);
  return !!d && !d.open && d.__closes > before; }"""
SIDEBAR_SHOWN_JS = """() => { const s = document.getElementById('pst-primary-sidebar');
  return !!s && s.checkVisibility({visibilityProperty: true}) && s.getBoundingClientRect().width > 0; }"""


def _until(page, js: str, arg=None, timeout: int = 15_000) -> bool:
    """Whether ``js`` becomes true (a state, polled every frame) within ``timeout`` ms: long
    enough for a loaded machine; the wait ends as soon as the state is reached."""
    try:
        page.wait_for_function(js, arg=arg, timeout=timeout)
        return True
    except Exception:
        return False


def _docname_of(path: str) -> str:
    """``/book/mlp.html`` -> ``book/mlp``."""
    return re.sub(r"\.html$", "", unquote(path).lstrip("/"))


def _check_phone_nav(page, visit: Visit, device: Device) -> None:
    """The drawers, as a phone reader uses them: tap to open, tap outside or Escape to close,
    and the same by keyboard (Enter on the focused button)."""
    nav: dict = {}
    for kind, dialog in (("primary", "pst-primary-sidebar-modal"),
                         ("secondary", "pst-secondary-sidebar-modal")):
        button = page.locator(f".bd-header-article button.{kind}-toggle").first
        rec: dict = {"button": bool(page.locator(f".bd-header-article button.{kind}-toggle").count())
                     and button.is_visible()}
        nav[kind] = rec
        if not rec["button"]:
            continue
        try:
            page.evaluate(WATCH_CLOSES_JS, dialog)
            button.tap(timeout=5_000)
            rec["opened_by_tap"] = _until(page, DRAWER_OPEN_JS, dialog)
            rec["links"] = page.eval_on_selector_all(f"#{dialog} a[href]", VISIBLE_LINKS_JS)
            rec["expanded"] = button.get_attribute("aria-expanded")
            if rec["opened_by_tap"]:
                # tap the dimmed page beside the drawer (the left drawer opens on the left)
                box = page.evaluate("(id) => { const r = document.getElementById(id)"
                                    ".getBoundingClientRect(); return [r.left, r.right]; }", dialog)
                x = box[1] + (device.width - box[1]) / 2 if kind == "primary" else box[0] / 2
                closes = page.evaluate(WATCH_CLOSES_JS, dialog)
                page.touchscreen.tap(x, device.height / 2)
                rec["closed_by_tap_outside"] = _until(page, DRAWER_CLOSED_JS, [dialog, closes])
            button.focus()
            page.keyboard.press("Enter")
            rec["opened_by_enter"] = _until(page, DRAWER_OPEN_JS, dialog)
            closes = page.evaluate(WATCH_CLOSES_JS, dialog)
            page.keyboard.press("Escape")
            rec["closed_by_escape"] = _until(page, DRAWER_CLOSED_JS, [dialog, closes])
            rec["focus_returned"] = _until(page, "(b) => document.activeElement === b",
                                           button.element_handle())
        except Exception as exc:  # recorded: a drawer a reader cannot operate is a failure
            rec["error"] = str(exc).splitlines()[0]
        finally:  # leave the page as a reader would find it (no drawer, no button tooltip)
            closes = page.evaluate(WATCH_CLOSES_JS, dialog)
            if page.evaluate(DIALOG_OPEN_JS, dialog):
                page.evaluate("(id) => document.getElementById(id).close()", dialog)
                _until(page, DRAWER_CLOSED_JS, [dialog, closes])
            page.evaluate("() => document.activeElement.blur()")
    visit.nav = nav


def _check_desktop_nav(page, visit: Visit) -> None:
    """The sidebar button on a desktop: hides and shows the sidebar, by click and by Enter."""
    button = page.locator(".bd-header-article button.primary-toggle").first
    rec: dict = {"button": button.is_visible(), "shown_at_start": page.evaluate(SIDEBAR_SHOWN_JS)}
    try:
        button.click(timeout=5_000)
        rec["hidden_by_click"] = _until(page, f"() => !({SIDEBAR_SHOWN_JS})()")
        rec["expanded_when_hidden"] = button.get_attribute("aria-expanded")
        button.click(timeout=5_000)
        rec["shown_by_click"] = _until(page, SIDEBAR_SHOWN_JS)
        button.focus()
        page.keyboard.press("Enter")
        rec["hidden_by_enter"] = _until(page, f"() => !({SIDEBAR_SHOWN_JS})()")
        page.keyboard.press("Enter")
        rec["shown_by_enter"] = _until(page, SIDEBAR_SHOWN_JS)
        rec["dialog_opened"] = page.evaluate(DIALOG_OPEN_JS, "pst-primary-sidebar-modal")
    except Exception as exc:
        rec["error"] = str(exc).splitlines()[0]
    finally:
        page.evaluate("() => document.activeElement.blur()")
    visit.nav = {"desktop": rec}


class Visitor:
    """Visits pages on devices in themes and keeps the record of each.

    axe-core's colour-contrast rule takes seconds on a long page; it runs in the page's own
    renderer process while the next page loads (``IN_FLIGHT`` pages at a time), so the session
    uses both cores although the sync API drives one page at a time.
    """

    IN_FLIGHT = 2

    def __init__(self, browser, base_url: str, screenshots: Path):
        self.browser, self.base_url, self.screenshots = browser, base_url, screenshots
        self.visits: dict[tuple[str, str, str], Visit] = {}
        self.contexts: dict = {}

    def context(self, theme: str, device: str = "desktop"):
        """One browser context per device and theme, shared by its pages."""
        if (device, theme) not in self.contexts:
            d = DEVICES[device]
            context = self.browser.new_context(
                viewport={"width": d.width, "height": d.height}, color_scheme=theme,
                has_touch=d.touch, is_mobile=d.touch, service_workers="block")
            context.set_default_timeout(30_000)
            # pydata-sphinx-theme keeps the reader's choice in localStorage "mode" (light, dark
            # or auto, the default: follow prefers-color-scheme) and shows the result as
            # <html data-theme>. Light: every page is a first visit (empty storage) on a system
            # that prefers light. Dark: the reader picked dark with the theme switcher, on a
            # system that prefers dark as well.
            context.add_init_script(
                "localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');"
                if theme == "dark" else "localStorage.clear();")
            self.contexts[(device, theme)] = context
        return self.contexts[(device, theme)]

    def close(self) -> None:
        for context in self.contexts.values():
            context.close()
        self.contexts.clear()

    def new_page(self, theme: str, visit: Visit, device: str = "desktop"):
        return open_page(self.context(theme, device), visit.load)

    def start(self, docname: str, theme: str, device: str = "desktop"):
        """Load a page, run every check, screenshot it, and start axe on it."""
        start = time.perf_counter()
        visit = Visit(docname, theme, device)
        d = DEVICES[device]
        page = self.new_page(theme, visit, device)
        try:
            page.goto(self.base_url + f"{docname}.html", wait_until="load")
            wait_for_mathjax(page)
            page.evaluate("() => document.fonts.ready.then(() => true)")
            visit.theme_applied = page.evaluate("() => document.documentElement.dataset.theme")
            visit.maths = page.evaluate(MATHS_JS)
            if d.touch:
                _check_phone_nav(page, visit, d)
            elif theme == "light":
                _check_desktop_nav(page, visit)
            if device == "desktop" and theme == "light":
                _check_hidden(page, visit)
            else:
                page.evaluate(REVEAL_ALL_JS)
            read_through(page)  # a reader scrolls: what is measured near the screen, is
            visit.images = page.evaluate(IMAGES_JS)
            visit.empty_figures = page.evaluate(EMPTY_FIGURES_JS)
            _settle(page)
            visit.layout = page.evaluate(LAYOUT_JS)
            visit.figures = page.evaluate(FIGURES_JS)
            if theme == "light" and device in ("desktop", "phone-390"):
                visit.glyphs = page.evaluate(GLYPHS_JS)
            # The screenshot and axe see every answer revealed: they cover hidden content too.
            slug = docname.split("/", 1)[-1].replace("/", "-")
            name = f"{slug}-{theme}" if device == "desktop" else f"{slug}-{device}-{theme}"
            # JPEG at high quality: for human review, 2-3x faster to encode than PNG and no larger
            # on these long pages.
            visit.screenshot = self.screenshots / f"{name}.jpg"
            # from the top: fixed and sticky bars are drawn where the window is scrolled to
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=str(visit.screenshot), full_page=FULL_SCREENSHOTS, type="jpeg",
                            quality=90)
            if theme == "light" and device == "desktop":
                _check_colab(page, visit)  # leaves the launch menu open: axe checks it too
            wait_for_requests(page, visit.load)  # late requests (fonts)
            # A full-page screenshot resizes the page and back: the page re-measures what
            # scrolls (the theme and reader.js give it a tab stop). axe sees the settled page.
            _settle(page)
            _until(page, SCROLLERS_FOCUSABLE_JS)  # not reached: axe reports what is missing
            visit.load.quiet = True
            if (device, theme) in AXE_VISITS:  # axe takes seconds a page: each rule once
                page.evaluate(axe_script())
                page.evaluate(AXE_START_JS, {**AXE_OPTIONS, **(AXE_VISITS[device, theme] or {})})
        except Exception:
            page.close()
            raise
        visit.seconds = time.perf_counter() - start
        return visit, page

    def finish(self, visit: Visit, page) -> None:
        """Collect axe's results and close the page."""
        start = time.perf_counter()
        try:
            if (visit.device, visit.theme) in AXE_VISITS:
                visit.axe = page.evaluate("() => window.__mlpbookAxe")
        finally:
            page.close()
        visit.seconds += time.perf_counter() - start
        self.visits[(visit.docname, visit.theme, visit.device)] = visit

    def visit_all(self, keys: list[tuple[str, str, str]]) -> None:
        pending: list = []
        try:
            for key in keys:
                if key in self.visits:
                    continue
                pending.append(self.start(*key))
                if len(pending) >= self.IN_FLIGHT:
                    self.finish(*pending.pop(0))
            while pending:
                self.finish(*pending.pop(0))
        finally:
            for _, page in pending:
                page.close()

    def report(self) -> str:
        """One line per page, device and theme: time, axe findings, load and layout problems."""
        lines = []
        for (d, t, dev), x in sorted(self.visits.items()):
            axe = ", ".join(f"{a['id']}({a['impact']})x{a['nodes']}" for a in x.axe) or "clean"
            load = len(x.console_errors) + len(x.failed_requests) + len(x.external_requests)
            lay = x.layout
            layout = (f"  width {lay.get('scrollWidth')}/{lay.get('clientWidth')}, past edge "
                      f"{len(lay.get('offscreen', []))}, cut {len(lay.get('cut', []))}, "
                      f"no cue {len(lay.get('uncued', []))}, eq numbers "
                      f"{len(lay.get('numbers', []))}/{lay.get('equations', 0)}")
            kinds: dict[str, int] = {}
            for h in x.hidden:
                kinds[h["kind"]] = kinds.get(h["kind"], 0) + 1
            seen = (f"  maths {x.maths.get('containers', 0)}, images {len(x.images)}, "
                    f"hidden {kinds}" if (t, dev) == ("light", "desktop") else "")
            lines.append(f"{d:24} {dev:9} {t:5} {x.seconds:5.1f}s  load problems: {load}  "
                         f"axe: {axe}{layout}{seen}")
        return "\n".join(lines) + "\n"


def _needed(items) -> list[tuple[str, str, str]]:
    """The (page, theme, device) visits the selected tests of this module need, in order."""
    keys: dict[tuple[str, str, str], None] = {}
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.module.__name__ == __name__ and "docname" in params:
            keys[(params["docname"], params.get("theme", "light"),
                  params.get("device", "desktop"))] = None
    return list(keys)


@pytest.fixture(scope="session")
def visits(request, browser, site: str, built_book: Path) -> dict[tuple[str, str, str], Visit]:
    """Every (page, theme, device) the selected tests need, visited once, in one pass."""
    shots = built_book.parent / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    visitor = Visitor(browser, site, shots)
    start = time.perf_counter()
    try:
        visitor.visit_all(_needed(request.session.items))
    finally:
        visitor.close()
    (shots / "report.txt").write_text(
        visitor.report() + f"total {time.perf_counter() - start:.1f}s\n")
    (shots / "axe.json").write_text(json.dumps(
        {f"{d} {dev} {t}": v.axe for (d, t, dev), v in sorted(visitor.visits.items())}, indent=1))
    return visitor.visits


def _svg_text_sizes(path: Path) -> tuple[float, list[float]]:
    """An SVG figure's drawing width (viewBox units) and the size of each of its texts.

    matplotlib writes text (``svg.fonttype: none``) as ``<text>`` elements whose glyphs carry a
    ``font-size``; a text's size is its largest (sub- and superscripts are smaller by design).
    """
    svg = path.read_text(encoding="utf-8")
    view = re.search(r'viewBox="\s*[-\d.]+\s+[-\d.]+\s+([\d.]+)', svg)
    width = float(view.group(1)) if view else float(re.search(r'<svg[^>]*\bwidth="([\d.]+)', svg).group(1))
    sizes = []
    for block in re.findall(r"<text\b.*?</text>", svg, flags=re.S):
        found = [float(v) for v in re.findall(r'font-size(?::\s*|=")([\d.]+)', block)]
        if found:
            sizes.append(max(found))
    return width, sizes


def _figure_text(visit: Visit, built_book: Path) -> list[dict]:
    """For each figure of a visit: the smallest text as rendered, in CSS px and x body text."""
    out = []
    for f in visit.figures:
        path = built_book / f["src"].lstrip("/")
        rec = {**f, "file": path.name}
        if path.suffix.lower() != ".svg":
            rec["error"] = (f"{path.name} is not a vector figure (SVG): its text size is "
                            "unknown (mlpbook.plot.use_book_style() makes figures SVG)")
        else:
            width, sizes = _svg_text_sizes(path)
            if sizes:
                rec["min_px"] = min(sizes) * f["width"] / width
                rec["ratio"] = rec["min_px"] / f["body"]
        out.append(rec)
    return out


# --- the tests ---------------------------------------------------------------------------------

ALL_VISITS = [(t, "desktop") for t in THEMES] + [(t, d) for d, t in PHONE_VISITS]


@pytest.mark.parametrize(("theme", "device"), ALL_VISITS)
@pytest.mark.parametrize("docname", DOCNAMES)
def test_page_loads_cleanly_offline(visits, docname: str, theme: str, device: str) -> None:
    v = visits[(docname, theme, device)]
    problems = ([f"console error: {e}" for e in v.console_errors]
                + [f"failed local request: {r}" for r in v.failed_requests]
                + [f"external request (the site must work offline): {r}" for r in v.external_requests])
    assert not problems, f"{v.where}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(("theme", "device"), ALL_VISITS)
@pytest.mark.parametrize("docname", DOCNAMES)
def test_theme_applied_and_screenshot_saved(visits, docname: str, theme: str, device: str) -> None:
    v = visits[(docname, theme, device)]
    assert v.theme_applied == theme, f"asked for {theme} mode, the page shows {v.theme_applied!r}"
    assert v.screenshot and v.screenshot.stat().st_size > 1000, f"no screenshot for {docname}"


@pytest.mark.parametrize("docname", DOCNAMES)
def test_maths_rendered(visits, docname: str) -> None:
    m = visits[(docname, "light", "desktop")].maths
    assert not m["raw"], f"raw TeX left in the text of {docname}.html: {m['raw'][:5]}"
    assert not m["errors"], f"TeX KaTeX could not typeset on {docname}.html: {m['errors'][:5]}"
    if m["elements"]:
        assert m["containers"] > 0, f"{docname}.html has maths but no KaTeX output (.katex)"
        assert m["typeset"] == m["elements"], (
            f"{docname}.html: only {m['typeset']} of {m['elements']} maths elements were typeset")


@pytest.mark.parametrize("docname", DOCNAMES)
def test_hidden_answers_hidden_until_clicked(visits, docname: str) -> None:
    v = visits[(docname, "light", "desktop")]
    bad = []
    for h in v.hidden:
        if h["before"]["shown"] or h["before"]["open"]:
            bad.append(f"{h['label']}: visible before its toggle was clicked")
        if not h["clicked"]:
            bad.append(f"{h['label']}: its toggle could not be clicked ({h['error']})")
        elif not h["title_works"] and h["after"]["shown"]:
            bad.append(f"{h['label']}: clicking its title does not reveal it "
                       "(only the chevron button does)")
        elif not h["after"]["shown"]:
            bad.append(f"{h['label']}: still hidden after clicking its toggle "
                       f"({h['after']['shown']}/{h['after']['parts']} parts shown)")
    assert not bad, f"{docname}.html:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("docname", DOCNAMES)
def test_predict_then_run_outputs_hidden_until_revealed(visits, docname: str) -> None:
    v = visits[(docname, "light", "desktop")]
    bad = []
    for c in v.hide_output_cells:
        where = f"hide-output cell {c['index'] + 1} ({c['text']!r})"
        if not c["has_output"]:
            bad.append(f"{where}: has no output to reveal")
        elif not c["in_details"] or c["visible"]:
            bad.append(f"{where}: output visible before it was revealed")
        elif not c.get("visible_after"):
            bad.append(f"{where}: output still hidden after clicking 'Show code cell output'")
    assert not bad, f"{docname}.html:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("docname", DOCNAMES)
def test_figures_load_and_have_alt_text(visits, docname: str) -> None:
    v = visits[(docname, "light", "desktop")]
    bad = [f"{i['src']}: did not load" for i in v.images if not i["naturalWidth"]]
    bad += [f"{i['src']}: no alt text" for i in v.images if not (i["alt"] or "").strip()]
    bad += [f"figure {f!r}: has no image" for f in v.empty_figures]
    assert not bad, f"{docname}.html:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("docname", CODE_PAGES)
def test_code_pages_have_colab_button(visits, built_book: Path, docname: str) -> None:
    c = visits[(docname, "light", "desktop")].colab
    import sys  # the GitHub location the site was built with (none: no Colab button)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools" / "sphinxext"))
    from colab_notebooks.location import resolve
    if resolve(SITE_ROOT)[0] is None:  # e.g. a CI clone, whose origin is a local path
        assert not c["hrefs"], f"{docname}.html: a Colab link without a GitHub location: {c['hrefs']}"
        return
    if not (built_book / "notebooks").is_dir() and not any(h.endswith(".ipynb") for h in c["hrefs"]):
        pytest.xfail("the Colab extension is not in place yet (no _build/html/notebooks/): "
                     f"launch links are {c['hrefs'] or 'absent'}")
    assert c["hrefs"], f"{docname}.html has code but no 'Open in Colab' link ({COLAB_PREFIX}...)"
    assert all(h.endswith(".ipynb") for h in c["hrefs"]), (
        f"Colab opens notebooks only, but {docname}.html links to {c['hrefs']}")
    assert c["visible_after_click"], "the Colab link did not appear when the launch menu was opened"


@pytest.mark.parametrize(("theme", "device"), [(t, d) for t, d in ALL_VISITS if (d, t) in AXE_VISITS])
@pytest.mark.parametrize("docname", DOCNAMES)
def test_accessibility_axe(visits, docname: str, theme: str, device: str) -> None:
    v = visits[(docname, theme, device)]
    serious = [a for a in v.axe if a["impact"] in SERIOUS]
    assert not serious, f"axe on {v.where}: serious/critical violations:\n" + "\n".join(
        f"  {a['id']} ({a['impact']}, {a['nodes']} nodes): {a['help']}\n    at {a['targets']}\n"
        f"    {a['summary']}" for a in serious)


def test_search_finds_autograd_page(browser, site: str) -> None:
    """The theme's search page, as a reader uses it: search.html?q=zero_grad."""
    visit, visitor = Visit("search", "light"), Visitor(browser, site, Path())
    page = visitor.new_page("light", visit)
    try:
        page.goto(site + "search.html?q=zero_grad", wait_until="load")
        page.wait_for_function(
            "() => document.querySelector('#search-results .search-summary')"
            " && document.querySelector('#search-results .search-summary').textContent.trim()",
            timeout=20_000)
        hrefs = page.eval_on_selector_all("#search-results ul.search li a",
                                          "els => els.map(a => a.getAttribute('href'))")
        summary = page.inner_text("#search-results .search-summary")
    finally:
        visitor.close()
    assert any(h.split("?")[0].split("#")[0].endswith("book/autograd.html") for h in hrefs), (
        f"searching 'zero_grad' did not find book/autograd.html: {summary!r}, results {hrefs}")
    problems = visit.console_errors + visit.failed_requests + visit.external_requests
    assert not problems, f"search.html: {problems}"


def test_server_saw_no_missing_file(visits) -> None:
    """Requests the browser makes by itself (e.g. /favicon.ico) are not page requests; the
    server's record catches them. (Runs after the page visits; axe's own fetches excepted.)"""
    by_axe = {urlsplit(r.split(": ")[0]).path for v in visits.values() for r in v.load.later_requests}
    missing = sorted({e for e in SiteHandler.errors if e.split(": ")[0].split("?")[0] not in by_axe})
    assert not missing, ("the server answered these requests with an error (a missing favicon "
                         "makes Chromium ask for /favicon.ico):\n  " + "\n  ".join(missing))


# --- on a phone, and figures a reader can read (issue 18) --------------------------------------

PHONE_NAMES = [d.name for d in PHONES]
LAYOUT_DEVICES = ["desktop", *PHONE_NAMES]


@pytest.mark.parametrize("device", PHONE_NAMES)
@pytest.mark.parametrize("docname", DOCNAMES)
def test_navigation_opens_on_tap_and_by_keyboard_on_a_phone(visits, docname: str,
                                                            device: str) -> None:
    v = visits[(docname, "light", device)]
    nav, bad = v.nav, []
    primary = nav.get("primary", {})
    if not primary.get("button"):
        bad.append("no visible site-navigation button in the page header")
    else:
        if primary.get("error"):
            bad.append(f"site navigation: {primary['error']}")
        if not primary.get("opened_by_tap"):
            bad.append("tapping the site-navigation button does not open the navigation")
        else:
            linked = {_docname_of(link["path"]) for link in primary.get("links", [])}
            missing = sorted(set(DOCNAMES) - {docname} - linked)
            if missing:
                bad.append(f"the open navigation shows no link to {missing}")
            if primary.get("expanded") != "true":
                bad.append(f"the open navigation's button says aria-expanded={primary.get('expanded')!r}")
            if not primary.get("closed_by_tap_outside"):
                bad.append("tapping beside the open navigation does not close it")
        if not primary.get("opened_by_enter"):
            bad.append("Enter on the focused site-navigation button does not open the navigation")
        elif not primary.get("closed_by_escape"):
            bad.append("Escape does not close the navigation")
        elif not primary.get("focus_returned"):
            bad.append("after Escape, focus is not back on the navigation button")
    secondary = nav.get("secondary", {})
    if secondary.get("button"):  # pages with sections: the "on this page" drawer
        if secondary.get("error"):
            bad.append(f"'on this page': {secondary['error']}")
        if not secondary.get("opened_by_tap"):
            bad.append("tapping the 'on this page' button does not open the page contents")
        elif not any(link["hash"] for link in secondary.get("links", [])):
            bad.append("the open 'on this page' drawer shows no link to a section")
        elif not secondary.get("closed_by_tap_outside"):
            bad.append("tapping beside the open 'on this page' drawer does not close it")
        if not secondary.get("opened_by_enter") or not secondary.get("closed_by_escape"):
            bad.append("the 'on this page' drawer does not open with Enter and close with Escape")
    assert not bad, f"{v.where}:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("docname", DOCNAMES)
def test_sidebar_button_hides_and_shows_the_sidebar_on_desktop(visits, docname: str) -> None:
    rec = visits[(docname, "light", "desktop")].nav.get("desktop", {})
    bad = []
    if not rec.get("button"):
        bad.append("no visible sidebar button")
    elif rec.get("error"):
        bad.append(rec["error"])
    else:
        if not rec.get("shown_at_start"):
            bad.append("the sidebar is not shown when the page opens")
        for key, what in (("hidden_by_click", "a click does not hide the sidebar"),
                          ("shown_by_click", "a second click does not show it again"),
                          ("hidden_by_enter", "Enter on the focused button does not hide it"),
                          ("shown_by_enter", "a second Enter does not show it again")):
            if not rec.get(key):
                bad.append(what)
        if rec.get("expanded_when_hidden") != "false":
            bad.append(f"hidden sidebar, but the button says aria-expanded="
                       f"{rec.get('expanded_when_hidden')!r}")
        if rec.get("dialog_opened"):
            bad.append("the button opened the phone drawer on a desktop")
    assert not bad, f"{docname}.html (desktop):\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("device", PHONE_NAMES)
@pytest.mark.parametrize("docname", DOCNAMES)
def test_nothing_wider_than_a_phone_screen(visits, docname: str, device: str) -> None:
    v, d = visits[(docname, "light", device)], DEVICES[device]
    lay, bad = v.layout, []
    if lay["innerWidth"] != d.width:  # a mobile browser widens the layout to fit the content
        bad.append(f"the page lays out {lay['innerWidth']} px wide on a {d.width} px screen")
    if lay["scrollWidth"] > d.width:
        bad.append(f"the page scrolls sideways: {lay['scrollWidth']} px on a {d.width} px screen")
    bad += [f"past the right edge, not in a horizontal scroller: {x}" for x in lay["offscreen"]]
    bad += [f"cut off with no way to scroll to it: {x}" for x in lay["cut"]]
    assert not bad, f"{v.where}:\n  " + "\n  ".join(bad[:20])


@pytest.mark.parametrize("device", LAYOUT_DEVICES)
@pytest.mark.parametrize("docname", DOCNAMES)
def test_what_scrolls_sideways_shows_it(visits, docname: str, device: str) -> None:
    """A box that scrolls sideways (wide equation, table, code, output, graph) fades out on the
    side where there is more: the visible cue. And no equation number overlaps its equation."""
    v = visits[(docname, "light", device)]
    lay = v.layout
    bad = [f"scrolls sideways with no cue (reader.js / custom.css): {x}" for x in lay["uncued"]]
    bad += [f"equation number overlaps its equation: {x}" for x in lay["numbers"]]
    if device == "desktop":
        bad += [f"past the right edge: {x}" for x in lay["offscreen"]]
        bad += [f"cut off: {x}" for x in lay["cut"]]
    assert not bad, f"{v.where}:\n  " + "\n  ".join(bad[:20])


@pytest.mark.parametrize("device", ["desktop", "phone-390"])
@pytest.mark.parametrize("docname", DOCNAMES)
def test_figure_text_is_legible(visits, built_book: Path, docname: str, device: str) -> None:
    """The smallest text of every figure, as rendered, against the body text: >= 0.8x on the
    desktop; >= 0.45x on a 390 px phone (a figure that would shrink more scrolls instead)."""
    v = visits[(docname, "light", device)]
    floor = MIN_FIGURE_TEXT_DESKTOP if device == "desktop" else MIN_FIGURE_TEXT_PHONE
    bad = []
    for f in _figure_text(v, built_book):
        if "error" in f:
            bad.append(f["error"])
        elif "ratio" in f and f["ratio"] < floor:
            bad.append(f"{f['file']} ({f['caption']!r}): smallest text {f['min_px']:.1f} px = "
                       f"{f['ratio']:.2f}x the {f['body']:.0f} px body text (< {floor}x), shown "
                       f"{f['width']:.0f} px wide" + (" in a scroller" if f["scroller"] else ""))
    assert not bad, f"{v.where}:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("device", ["desktop", "phone-390"])
@pytest.mark.parametrize("docname", DOCNAMES)
def test_no_missing_glyph_boxes(visits, docname: str, device: str) -> None:
    """Every character (✅ / ❌ included, with no emoji font installed) and every CSS icon is
    drawn by a font, not as the missing-glyph box."""
    g = visits[(docname, "light", device)].glyphs
    assert g["checked"] > 0, "no character was checked"
    assert not g["missing"], (f"{docname}.html ({device}): characters drawn as missing-glyph "
                              "boxes:\n  " + "\n  ".join(g["missing"][:20]))


def test_figure_text_measure_reads_matplotlib_svg(tmp_path: Path) -> None:
    """The measurement itself, on a figure drawn by the book's style: 11 pt ticks, an 11 pt
    label with a smaller subscript (counted at its base size), a page-set 7 pt legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mlpbook.plot import use_book_style

    with matplotlib.rc_context():
        use_book_style()
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([0, 1], [0, 1], label="line")
        ax.set_xlabel("$x_1$")
        ax.legend(fontsize=7)
        fig.savefig(tmp_path / "f.svg")
        plt.close(fig)
    width, sizes = _svg_text_sizes(tmp_path / "f.svg")
    assert width == pytest.approx(4 * 72)
    assert min(sizes) == pytest.approx(7) and max(sizes) == pytest.approx(11)
    visit = Visit("book/x", "light")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "f.svg").write_bytes((tmp_path / "f.svg").read_bytes())
    (tmp_path / "book" / "f.png").write_bytes(b"")
    visit.figures = [{"src": "/book/f.svg", "width": 576.0, "body": 16.0, "scroller": False,
                      "caption": "", "naturalWidth": 384},
                     {"src": "/book/f.png", "width": 300.0, "body": 16.0, "scroller": False,
                      "caption": "", "naturalWidth": 300}]
    svg, png = _figure_text(visit, tmp_path)
    assert svg["min_px"] == pytest.approx(7 * 2) and svg["ratio"] == pytest.approx(14 / 16)
    assert "error" in png and "use_book_style" in png["error"]


@pytest.mark.parametrize("kind", ["primary", "secondary"])
def test_a_drawer_closes_with_escape_however_fast_the_reader_is(browser, site: str, kind: str) -> None:
    """The race that made the phone-navigation test flaky, made certain (reader.js): a drawer
    closed and opened again before the browser dispatches its "close" event keeps its contents
    and the focus, and Escape closes an open drawer even when the focus is outside it."""
    phone = DEVICES["phone-360"]
    context = browser.new_context(viewport={"width": phone.width, "height": phone.height},
                                  has_touch=True, is_mobile=True, service_workers="block")
    # every close event, stale ones included (registered before the page's own scripts)
    context.add_init_script("window.__allCloses = 0; window.addEventListener('close', "
                            "() => { window.__allCloses += 1; }, true);")
    try:
        page = context.new_page()
        page.goto(site + "book/intro.html", wait_until="load")
        dialog = f"pst-{kind}-sidebar-modal"
        button = page.locator(f".bd-header-article button.{kind}-toggle").first
        closes = page.evaluate(WATCH_CLOSES_JS, dialog)
        button.tap()
        assert _until(page, DRAWER_OPEN_JS, dialog), "the drawer does not open"
        # close and reopen in one task: the close event is dispatched after both
        stale = page.evaluate("""([id, kind]) => { document.getElementById(id).close();
          document.querySelector(`.bd-header-article button.${kind}-toggle`).click();
          return window.__allCloses + 1; }""", [dialog, kind])
        assert _until(page, "(n) => window.__allCloses === n", stale), "no close event"
        state = page.evaluate("""(id) => { const d = document.getElementById(id);
          return {open: d.open, links: d.querySelectorAll('a[href]').length,
                  focus: d.contains(document.activeElement)}; }""", dialog)
        assert state == {"open": True, "links": state["links"], "focus": True} and state["links"], state
        page.evaluate("() => document.activeElement.blur()")  # focus outside the drawer
        page.keyboard.press("Escape")
        assert _until(page, DRAWER_CLOSED_JS, [dialog, closes]), "Escape does not close the drawer"
    finally:
        context.close()
