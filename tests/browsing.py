"""Shared by the browser tests: the built site on a local server and one headless Chromium.

Import what you need; the fixtures are imported by name into the test module that uses them,
``from browsing import browser, site``: ``site`` (base URL of the built site served on
127.0.0.1) and ``browser`` (Playwright's Chromium, found as tools/provision_browser.py finds it:
``PLAYWRIGHT_CHROMIUM_EXECUTABLE``, ``/usr/bin/chromium``, PATH, Playwright's cache; one per
session, however many modules import it). Helpers:
``open_page`` (a page that must work offline, with its console errors and failed or external
requests recorded), ``wait_for_mathjax``, ``read_through`` (every part of the page brought near the
screen once), and axe-core (``axe_script``, ``AXE_START_JS``).

Without Chromium the tests fail (never skip) and say how to get it.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import provision_browser  # tools/provision_browser.py (conftest puts tools/ on sys.path)

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HOW_TO_GET_CHROMIUM = provision_browser.WHAT_TO_DO


def chromium_executable() -> str:
    """The Chromium to drive (found as `make test` found or installed it:
    tools/provision_browser.py); a test failure (not a skip) that says how to get one if missing."""
    found, message = provision_browser.provision(install=False)
    if not found:
        pytest.fail(message, pytrace=False)
    return found


class SiteHandler(SimpleHTTPRequestHandler):
    """Serves the site silently; remembers every request answered with an HTTP error.

    The server's own record also catches what the browser asks for by itself (a missing
    /favicon.ico), which Playwright does not report as a page request.
    """

    errors: list[str] = []

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def log_request(self, code="-", size="-") -> None:
        code = getattr(code, "value", code)  # an HTTPStatus from send_error
        if str(code).isdigit() and int(code) >= 400:
            self.errors.append(f"{self.path}: HTTP {code}")


@pytest.fixture(scope="session")
def site(built_book: Path):
    """The built site served on 127.0.0.1 (ephemeral port); yields its base URL."""
    handler = functools.partial(SiteHandler, directory=str(built_book))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


_SHARED: dict = {"users": 0, "playwright": None, "browser": None}


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session.

    Playwright's sync API cannot run twice at once in one thread, so every module that imports
    this fixture (each import is its own fixture to pytest) gets the same browser; the last one
    to finish closes it.
    """
    if _SHARED["browser"] is None:
        executable = chromium_executable()
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:
            pytest.fail(f"playwright is not installed ({exc}): run `make venv`", pytrace=False)
        pw = sync_playwright().start()
        try:
            _SHARED["browser"] = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                                    headless=True)
        except Exception as exc:
            pw.stop()
            pytest.fail(f"Chromium at {executable} did not start: {exc}\n" + HOW_TO_GET_CHROMIUM,
                        pytrace=False)
        _SHARED["playwright"] = pw
    _SHARED["users"] += 1
    try:
        yield _SHARED["browser"]
    finally:
        _SHARED["users"] -= 1
        if _SHARED["users"] == 0:
            _SHARED["browser"].close()
            _SHARED["playwright"].stop()
            _SHARED["browser"] = _SHARED["playwright"] = None


@dataclass
class LoadRecord:
    """What a page did while loading: console errors, failed local and any external requests.

    ``quiet`` is set once the page's own work is done (e.g. before axe runs, which fetches
    @import-ed stylesheets itself): failures after that go to ``later_requests``.
    """

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    later_requests: list[str] = field(default_factory=list)
    quiet: bool = False
    in_flight: set = field(default_factory=set)  # requests not yet finished or failed


def open_page(context, record: LoadRecord):
    """A new page in ``context`` that may only talk to 127.0.0.1; what it does goes to ``record``."""
    page = context.new_page()

    def route(r):
        host = urlsplit(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            r.continue_()
        else:  # the site must work offline: flag, and do not wait for the network
            record.external_requests.append(r.request.url)
            r.abort()

    def failed(req):
        # A lazy image's load that the browser gives up (net::ERR_ABORTED: its section left the
        # screen, or the page made it eager) is fetched again when it is needed; that every
        # image loads is checked by its naturalWidth (test_browser's IMAGES_JS), a missing one
        # by its 404 (below).
        if req.resource_type == "image" and "ERR_ABORTED" in (req.failure or ""):
            return
        if urlsplit(req.url).hostname == "127.0.0.1":
            (record.later_requests if record.quiet else record.failed_requests).append(
                f"{req.url}: {req.failure}")

    def response(resp):
        if resp.status >= 400 and urlsplit(resp.url).hostname == "127.0.0.1":
            (record.later_requests if record.quiet else record.failed_requests).append(
                f"{resp.url}: HTTP {resp.status}")

    page.route("**/*", route)
    page.on("request", lambda req: record.in_flight.add(req))
    page.on("requestfinished", lambda req: record.in_flight.discard(req))
    page.on("requestfailed", lambda req: record.in_flight.discard(req))
    page.on("console", lambda m: m.type == "error" and not record.quiet
            and record.console_errors.append(
                f"{m.text} ({m.location.get('url', '')}:{m.location.get('lineNumber', '')})"))
    page.on("pageerror", lambda e: record.console_errors.append(f"uncaught: {e}"))
    page.on("requestfailed", failed)
    page.on("response", response)
    return page


def wait_for_requests(page, record: LoadRecord, timeout: float = 30.0) -> None:
    """Until every request the page made has finished or failed (Playwright's "networkidle"
    waits for 500 ms of quiet on top, every time)."""
    end = time.monotonic() + timeout
    while record.in_flight and time.monotonic() < end:
        page.wait_for_timeout(20)  # lets Playwright deliver the request events
    if record.in_flight:
        raise TimeoutError(f"requests still loading after {timeout:.0f} s: "
                           + ", ".join(sorted(r.url for r in record.in_flight)[:5]))


def wait_for_mathjax(page) -> None:
    """Wait until the page's maths is drawn: it arrives typeset (KaTeX, at build time), so only
    its fonts are awaited. (The name is kept for the tests that call it.)"""
    page.evaluate("() => document.fonts.ready.then(() => true)")


TWO_FRAMES_JS = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


# Scrolls from the top to the end, then back to the top, as a reader does, two screens a step
# (about 0.8 s on the longest page). The browser renders the sections near the screen
# (content-visibility: auto) and says so; reader.js and figures.js then measure their boxes. At
# each step two frames pass: the browser renders a section it skipped in one, the scripts
# measure in the next. Never with content-visibility lifted for speed: then the browser renders
# every section without saying so, and nothing is measured as a reader would have it.
READ_THROUGH_JS = """async () => {
  const frame = () => new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)));
  for (let y = 0; y < document.documentElement.scrollHeight; y += 2 * window.innerHeight) {
    window.scrollTo(0, y);
    await frame();
    await frame();
  }
  window.scrollTo(0, 0);
  await frame();
  await frame();
}"""


def read_through(page) -> None:
    """Bring every part of the page near the screen once, as a reader who scrolls to the end.

    A page lays out only the sections near the screen (custom.css: ``content-visibility: auto``),
    and reader.js and figures.js measure a box (its scroll cue and tab stop, a figure's minimum
    width, a graph scrolled to its output) when the browser starts rendering its section. Checks
    of the whole page come after this."""
    page.evaluate(READ_THROUGH_JS)


AXE_OPTIONS = {"resultTypes": ["violations"]}
# Starts axe in the page and returns at once; collect with page.evaluate("() => window.__mlpbookAxe").
AXE_START_JS = """(options) => {
  window.__mlpbookAxe = axe.run(document, options).then(r => r.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
    targets: v.nodes.slice(0, 5).map(n => n.target.join(', ')),
    summary: (v.nodes[0].failureSummary || '').replace(/\\n/g, ' ').slice(0, 300),
  })));
}"""


@functools.cache
def axe_script() -> str:
    """axe-core's source, from the pinned axe-playwright-python (no download)."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe().axe_script
