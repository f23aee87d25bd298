"""Pages that load fast on a phone (issue 30; docs/performance.md).

Every page of the built site, served with gzip and ``Cache-Control: max-age=600`` as GitHub
Pages serves it (tools/serve_gzip.py), is checked on the cheap proxies:

- what it transfers on a first visit (<= 500 KB) and as the second page of a visit (<= 100 KB),
  counted from Chromium's network events (bytes on the wire, cache hits are 0);
- no maths engine, no icon script and no search index is requested;
- no render-blocking script over 2 KB (gzip) in ``<head>``;
- the maths arrives typeset, with MathML for screen readers; the icons are inline SVG;
- the explorer's script is only on the pages that show the explorer.

Lighthouse (mobile defaults) runs on the heaviest page only (tools/bench_lighthouse.py): its
bytes, layout shift and render-blocking resources, which do not depend on how busy the machine
is. Its timings (performance, LCP, TBT) do, several-fold on a shared runner, so they are held to
the budget by ``make bench`` (every page, exit status and table), not by a test that would fail
whenever the machine is busy.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browsing import browser  # noqa: F401  (the session's one Chromium)
from conftest import SITE_ROOT
from pages import book_pages

import bench_lighthouse
from serve_gzip import gzipped_size, serve

pytestmark = [pytest.mark.book, pytest.mark.browser]

PAGES = [p.docname for p in book_pages(SITE_ROOT)]
SOURCES = {p.docname: p.path for p in book_pages(SITE_ROOT)}
BUDGET = bench_lighthouse.BUDGET
MAX_BLOCKING_SCRIPT = 2 * 1024  # gzip bytes of one script that holds up the first paint
NEVER_REQUESTED = re.compile(r"mathjax|tex-chtml|fontawesome\.js|searchindex\.js|katex(\.min)?\.js",
                             re.I)


@pytest.fixture(scope="module")
def gzip_site(built_book: Path):
    server, url = serve(built_book)
    yield url
    server.shutdown()
    server.server_close()


def _visit(context, url: str) -> dict[str, int]:
    """Load ``url`` in ``context`` until the network is idle; path -> bytes on the wire."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    urls: dict[str, str] = {}
    sizes: dict[str, int] = {}
    cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(
        e["requestId"], sizes.get(e["requestId"], 0) + int(e["encodedDataLength"])))
    try:
        page.goto(url, wait_until="load")
        page.wait_for_load_state("networkidle")
        page.evaluate("() => document.fonts.ready.then(() => true)")
    finally:
        cdp.detach()
        page.close()
    base = url.rsplit("/book/", 1)[0] + "/"
    out: dict[str, int] = {}
    for rid, u in urls.items():
        path = u[len(base):] if u.startswith(base) else u
        out[path] = out.get(path, 0) + sizes.get(rid, 0)
    return out


@pytest.fixture(scope="module")
def loads(browser, gzip_site: str) -> dict[str, dict]:  # noqa: F811
    """Per page: its requests on a first visit, and as the second page after the first page
    of the book (the first page itself: after the second)."""
    out = {}
    for docname in PAGES:
        context = browser.new_context(viewport={"width": 412, "height": 823}, is_mobile=True,
                                      has_touch=True)
        try:
            first = _visit(context, f"{gzip_site}{docname}.html")
        finally:
            context.close()
        out[docname] = {"first": first}
    for docname in PAGES:
        before = PAGES[1] if docname == PAGES[0] else PAGES[0]
        context = browser.new_context(viewport={"width": 412, "height": 823}, is_mobile=True,
                                      has_touch=True)
        try:
            _visit(context, f"{gzip_site}{before}.html")
            out[docname]["second"] = _visit(context, f"{gzip_site}{docname}.html")
            out[docname]["after"] = before
        finally:
            context.close()
    return out


def kb(n: float) -> str:
    return f"{n / 1024:.0f} KB"


def _largest(requests: dict[str, int], n: int = 5) -> str:
    return ", ".join(f"{p.split('?')[0]} {kb(b)}" for p, b in
                     sorted(requests.items(), key=lambda kv: -kv[1])[:n])


@pytest.mark.parametrize("docname", PAGES)
def test_first_visit_within_budget(loads: dict, docname: str) -> None:
    first = loads[docname]["first"]
    total = sum(first.values())
    assert total <= BUDGET["first_visit_bytes"], (
        f"{docname}.html transfers {kb(total)} on a first visit (budget "
        f"{kb(BUDGET['first_visit_bytes'])}); largest: {_largest(first)}")


@pytest.mark.parametrize("docname", PAGES)
def test_second_page_within_budget(loads: dict, docname: str) -> None:
    second = {p: b for p, b in loads[docname]["second"].items() if b > 0}
    total = sum(second.values())
    assert total <= BUDGET["second_page_bytes"], (
        f"{docname}.html transfers {kb(total)} after {loads[docname]['after']}.html (budget "
        f"{kb(BUDGET['second_page_bytes'])}): is something not cacheable? {_largest(second)}")


def _variant_files(html: str, theme: str) -> set[str]:
    """The image files of a page's figures drawn for ``theme`` (figure_variants.py)."""
    files = set()
    for picture in re.findall(rf'<picture class="[^"]*\bmlpbook-{theme}\b.*?</picture>', html, re.S):
        files |= {u.rsplit("/", 1)[-1] for u in re.findall(r'(?:src|srcset)="([^"]+)"', picture)}
    return files


@pytest.mark.parametrize("docname", PAGES)
def test_a_figure_is_fetched_in_the_readers_theme_only(built_book: Path, loads: dict,
                                                      docname: str) -> None:
    """Light mode (a first visit): none of the dark figures is downloaded (their <picture> is
    not displayed and its image is lazy)."""
    html = (built_book / f"{docname}.html").read_text()
    dark_only = _variant_files(html, "dark") - _variant_files(html, "light")
    fetched = {p.split("?")[0].rsplit("/", 1)[-1] for p in loads[docname]["first"]}
    assert not dark_only & fetched, f"{docname}.html fetched dark figures: {dark_only & fetched}"


@pytest.mark.parametrize("docname", PAGES)
def test_no_maths_engine_icon_script_or_search_index(loads: dict, docname: str) -> None:
    bad = [p for p in loads[docname]["first"] if NEVER_REQUESTED.search(p)]
    assert not bad, f"{docname}.html requests {bad}: the maths and icons come built into the page"


def _head(html: str) -> str:
    return html.split("</head>", 1)[0]


@pytest.mark.parametrize("docname", PAGES)
def test_no_large_render_blocking_script(built_book: Path, docname: str) -> None:
    html_path = built_book / f"{docname}.html"
    blocking = []
    for tag in re.findall(r"<script\b[^>]*\bsrc=\"[^\"]+\"[^>]*>", _head(html_path.read_text())):
        if re.search(r"\b(defer|async)\b|type=\"module\"", tag):
            continue
        src = re.search(r'src="([^"?#]+)', tag).group(1)
        size = gzipped_size((html_path.parent / src).resolve())
        if size > MAX_BLOCKING_SCRIPT:
            blocking.append(f"{src} ({size} B gzip)")
    assert not blocking, (f"{docname}.html: render-blocking scripts in <head> over "
                          f"{MAX_BLOCKING_SCRIPT} B: {blocking} (defer them: tools/sphinxext/lean_pages)")


@pytest.mark.parametrize("docname", PAGES)
def test_maths_typeset_with_mathml_and_icons_inline(built_book: Path, docname: str) -> None:
    html = (built_book / f"{docname}.html").read_text()
    maths = re.findall(r'<(?:span|div) class="math notranslate nohighlight"', html)
    assert html.count('<span class="katex-mathml"><math') == len(maths), (
        f"{docname}.html: {len(maths)} formulas, not all typeset by KaTeX with MathML")
    assert "\\(" not in html and "\\[" not in re.sub(r"<annotation.*?</annotation>", "", html), (
        f"{docname}.html still holds TeX for a browser-side engine")
    assert not re.search(r'<i [^>]*class="[^"]*\bfa-', html), f"{docname}.html: a Font Awesome <i> left"
    assert "svg-inline--fa" in html and "fontawesome" not in html


PRELOAD_RE = re.compile(r'<link rel="preload" href="([^"]+)" as="font" type="font/woff" crossorigin />')


@pytest.mark.parametrize("docname", PAGES)
def test_the_fonts_of_the_maths_come_with_the_stylesheets(built_book: Path, docname: str) -> None:
    """A page with maths asks for KaTeX's two main fonts before its stylesheets (not after the
    first layout: a round trip before the first paint); only the ones its formulas draw."""
    from sphinxext.katex_math import PRELOAD_FONTS

    html = (built_book / f"{docname}.html").read_text()
    head = html[:html.index("</head>")]
    preloaded = PRELOAD_RE.findall(head)
    for href in preloaded:
        assert (built_book / docname).parent.joinpath(href).resolve().is_file(), href
    drawn = {f"{font}.woff" for font, by in PRELOAD_FONTS.items() if by in html}
    assert {h.rsplit("/", 1)[-1] for h in preloaded} == drawn, (docname, preloaded)
    if preloaded:
        assert head.index(preloaded[-1]) < head.index('rel="stylesheet"'), "after the CSS"


def test_no_stylesheet_imports_another(built_book: Path, tmp_path: Path) -> None:
    """Every stylesheet of a page is asked for at once: none @imports another (theme.css holds
    basic.css, its URLs rebased); inlining is idempotent."""
    from sphinxext.lean_pages import theme_css

    imports = [p.relative_to(built_book).as_posix() for p in (built_book / "_static").rglob("*.css")
               if "@import" in p.read_text(encoding="utf-8")]
    assert not imports, f"stylesheets that @import another: {imports}"
    theme = (built_book / theme_css.THEME_CSS).read_text(encoding="utf-8")
    basic = (built_book / theme_css.BASIC_CSS).read_text(encoding="utf-8")
    assert "url(file.png)" in basic and "url(../file.png)" in theme
    site = tmp_path / "site"
    (site / theme_css.THEME_CSS).parent.mkdir(parents=True)
    (site / theme_css.THEME_CSS).write_text(f"/* x */\n{theme_css.IMPORT_BASIC}\n")
    (site / theme_css.BASIC_CSS).write_text("a{background:url(file.png)}")
    assert theme_css.inline_basic_css(site) and not theme_css.inline_basic_css(site)
    assert (site / theme_css.THEME_CSS).read_text() == "/* x */\na{background:url(../file.png)}\n"


MAX_STYLESHEETS = 5  # before the first paint: the theme's, exercises', sphinx-design's, maths', ours


@pytest.mark.parametrize("docname", PAGES)
def test_few_stylesheets_and_the_theme_s_cascade(built_book: Path, docname: str) -> None:
    """The stylesheets a page uses come in a few files (lean_pages/bundle_css.py), which hold
    the theme's first and the site's own last, each once."""
    from sphinxext.lean_pages import bundle_css

    page = f"{docname}.html"
    html = (built_book / page).read_text()
    linked = [path for block in bundle_css.head_links(html, page) for _, path in block]
    assert len(linked) <= MAX_STYLESHEETS, (docname, linked)
    cascade = [m for path in linked for m in bundle_css.members(built_book, path)]
    assert cascade[0] == "_static/styles/theme.css" and cascade[-1] == "_static/custom.css", cascade
    assert len(set(cascade)) == len(cascade) and all((built_book / m).is_file() for m in cascade)
    assert ("_static/katex/katex.min.css" in cascade) == ('class="katex"' in html)


COUNT_RULES_JS = """(texts) => texts.map((text) => {
  const sheet = new CSSStyleSheet(); sheet.replaceSync(text); return sheet.cssRules.length; })"""


def test_a_bundle_parses_to_the_rules_of_its_members(built_book: Path, browser) -> None:  # noqa: F811
    """Chromium reads as many rules from each bundle as from its stylesheets one by one: a rule
    a member leaves open, or a URL rewritten wrongly, would cut off the rest of the bundle (a
    quoted data: URL once did, and the sidebar no longer hid on a desktop)."""
    from sphinxext.lean_pages import bundle_css

    bundles = sorted((built_book / "_static").rglob(f"{bundle_css.PREFIX}*.css"))
    assert bundles, "no stylesheet bundle in the site"
    page = browser.new_page()
    try:
        for path in bundles:
            site_path = path.relative_to(built_book).as_posix()
            members = bundle_css.members(built_book, site_path)
            texts = [(built_book / m).read_text(encoding="utf-8") for m in members]
            counts = page.evaluate(COUNT_RULES_JS, [path.read_text(encoding="utf-8"), *texts])
            assert counts[0] == sum(counts[1:]), (site_path, dict(zip(members, counts[1:])))
    finally:
        page.close()


@pytest.mark.parametrize("docname", PAGES)
def test_explorer_script_only_where_the_explorer_is(built_book: Path, docname: str) -> None:
    html = (built_book / f"{docname}.html").read_text()
    shows = "explore(" in SOURCES[docname].read_text()
    assert ("mlpx-spec" in html) == shows, (
        f"{docname}.html {'lacks' if shows else 'carries'} the explorer's script")


@pytest.fixture(scope="module")
def heaviest(loads: dict, gzip_site: str) -> tuple[str, dict]:
    """The page that transfers the most, and Lighthouse's report on it (mobile defaults)."""
    if not bench_lighthouse.LIGHTHOUSE_CLI.is_file():
        pytest.fail(bench_lighthouse.HOW_TO_INSTALL, pytrace=False)
    page = max(PAGES, key=lambda d: sum(loads[d]["first"].values()))
    return page, bench_lighthouse.lighthouse(f"{gzip_site}{page}.html")


def test_lighthouse_heaviest_page_bytes_layout_blocking(heaviest, gzip_site: str) -> None:
    """What does not depend on how busy the machine is: bytes, layout shift, blocking scripts."""
    page, lhr = heaviest
    r = bench_lighthouse.figures(lhr, gzip_site)
    scripts = [u for u in r["render_blocking"] if u.split("?")[0].endswith(".js")]
    assert not scripts, f"{page}.html: Lighthouse finds render-blocking scripts {scripts}"
    assert r["first_visit_bytes"] <= BUDGET["first_visit_bytes"], (
        f"{page}.html: {kb(r['first_visit_bytes'])} transferred (Lighthouse)")
    assert r["cls"] <= BUDGET["cls"], f"{page}.html: cumulative layout shift {r['cls']:.3f}"


def test_theme_tab_stop_pass_left_to_reader_js(built_book: Path, tmp_path: Path) -> None:
    """The theme's pass that measured every scroll box at load returns at once in the written
    site (reader.js measures near the screen); a theme whose code differs fails the build."""
    from sphinxext.lean_pages import theme_js

    js = (built_book / theme_js.JS).read_text(encoding="utf-8")
    assert js.startswith(theme_js.MARK) and js.count(theme_js.RETURN + theme_js.PASS) == 1
    site = tmp_path / "site"
    (site / theme_js.JS).parent.mkdir(parents=True)
    original = js[len(theme_js.MARK):].replace(theme_js.RETURN + theme_js.PASS, theme_js.PASS)
    (site / theme_js.JS).write_text(original, encoding="utf-8")
    assert theme_js.drop_tab_stop_pass(site) and not theme_js.drop_tab_stop_pass(site)
    assert (site / theme_js.JS).read_text(encoding="utf-8") == js  # idempotent, same result
    (site / theme_js.JS).write_text(original.replace(theme_js.PASS, "const e=()=>{}"))
    with pytest.raises(theme_js.ThemeChanged, match="tab-stop pass"):
        theme_js.drop_tab_stop_pass(site)


# After load on a phone: is the last section skipped by the browser, and has any of its scroll
# boxes been measured (a cue class or a tab stop given by reader.js)? Then the same after the
# reader has been everywhere.
OFFSCREEN_JS = """() => {
  const last = [...document.querySelectorAll('article.bd-article > section > section')].pop();
  const boxes = [...last.querySelectorAll('pre, .cell_output > .output, .katex-display')];
  // (a section skipped by content-visibility is itself drawn, as a box; its contents are not)
  return {skipped: !last.firstElementChild.checkVisibility({contentVisibilityAuto: true}),
          boxes: boxes.length,
          measured: boxes.filter(b => b.classList.contains('scrolls-x')
                                  || 'readerTabStop' in b.dataset).length,
          wide: boxes.filter(b => b.scrollWidth > b.clientWidth + 1).length,
          uncued: boxes.filter(b => b.scrollWidth > b.clientWidth + 1
                                    && !b.classList.contains('scrolls-x')).length};
}"""


def test_only_sections_near_the_screen_are_laid_out_and_measured(browser, gzip_site: str) -> None:  # noqa: F811
    """The long maths pages lay out and measure only what is near the screen at load (most of
    their blocking time on a phone was layout of the whole page); the rest, when the reader
    comes near it."""
    from browsing import TWO_FRAMES_JS, read_through

    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{gzip_site}book/autograd.html", wait_until="load")
        page.evaluate(TWO_FRAMES_JS)
        before = page.evaluate(OFFSCREEN_JS)
        read_through(page)
        after = page.evaluate(OFFSCREEN_JS)
    finally:
        context.close()
    assert before["skipped"] and before["boxes"] and not before["measured"], before
    assert after["wide"] and not after["uncued"], after
