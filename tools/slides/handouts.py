"""The decks in Chromium: one PDF per deck (reveal.js's print view, one page per slide) and a
screenshot of every slide at 1280x720 (``_build/screenshots/slides/<deck>-NN.png``).

Chromium is the installed one (``/usr/bin/chromium``, or ``PLAYWRIGHT_CHROMIUM_EXECUTABLE``),
driven by Playwright for Python; the decks are opened from ``file://`` and may not ask for
anything else (a request elsewhere, or a console error, stops the build).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sitehtml import SlideError

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 720}
READY_JS = "() => window.Reveal && Reveal.isReady && Reveal.isReady()"
PRINT_READY_JS = """() => window.Reveal && Reveal.isReady && Reveal.isReady()
  && document.querySelectorAll('.pdf-page').length > 0"""


def chromium() -> str:
    env = os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE")
    for candidate in (env, "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise SlideError("Chromium not found (PLAYWRIGHT_CHROMIUM_EXECUTABLE, /usr/bin/chromium): "
                     "install it (`apt-get install chromium`) or run with --no-pdf")


def open_deck(context, url: str, ready: str = READY_JS):
    """A deck loaded from ``url``; raises if it logs an error or asks for anything outside."""
    page = context.new_page()
    problems: list[str] = []
    base = url.rsplit("/", 1)[0]

    def route(request_route):
        target = request_route.request.url
        if target.startswith(("data:", "blob:", "about:")) or target.startswith(base):
            request_route.continue_()
        else:
            problems.append(f"request outside the deck folder: {target}")
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    page.goto(url)
    page.wait_for_function(ready, timeout=30_000)
    if problems:
        raise SlideError(f"{url}: " + "; ".join(problems))
    return page


def screenshots(page, name: str, folder: Path) -> int:
    """Every slide with all its fragments shown."""
    total = page.evaluate("() => Reveal.getTotalSlides()")
    for index in range(total):
        page.evaluate("(i) => { Reveal.slide(i); while (Reveal.nextFragment()) {} }", index)
        page.screenshot(path=str(folder / f"{name}-{index + 1:02d}.png"))
    return total


def print_pdf(context, html: Path, target: Path) -> int:
    """``html`` printed to ``target`` through reveal.js's print view; returns its slide count.
    Raises if the print view has not one page per slide."""
    page = open_deck(context, html.as_uri())
    count = page.evaluate("() => Reveal.getTotalSlides()")
    page.close()
    page = open_deck(context, html.as_uri() + "?print-pdf", PRINT_READY_JS)
    pages = page.evaluate("() => document.querySelectorAll('.pdf-page').length")
    if pages != count:
        raise SlideError(f"{html.name}: the print view has {pages} pages for {count} slides "
                         "(a slide overflows its page?)")
    page.pdf(path=str(target), prefer_css_page_size=True, print_background=True)
    page.close()
    return count


def print_decks(out: Path, decks, shots: Path) -> None:
    from playwright.sync_api import sync_playwright

    if shots.exists():
        shutil.rmtree(shots)
    shots.mkdir(parents=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS,
                                     headless=True)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            for deck in decks:
                url = (out / f"{deck.name}.html").as_uri()
                page = open_deck(context, url)
                count = screenshots(page, deck.name, shots)
                page.close()
                print_pdf(context, out / f"{deck.name}.html", out / f"{deck.name}.pdf")
                print(f"[slides] {deck.name}: {count} slides, {deck.name}.pdf, screenshots")
            context.close()
        finally:
            browser.close()
