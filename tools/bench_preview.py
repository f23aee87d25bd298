"""Benchmark `make preview`: edit-to-visible, from saving a prose edit to seeing it in the browser.

On a built copy of the repository, ``tools/serve.py`` serves the site; Chromium (Playwright) opens
a page with code; then, ``runs`` times, a new sentence is appended to that page's source, and the
clock runs until the sentence is in the text of the page the browser shows (after the server's
build and the browser's reload). ``tools/bench.py`` calls :func:`bench_preview`; on its own this
module measures only the preview and stores the result in ``bench/results.json`` (under
``"preview"``), then rewrites the table in ``docs/benchmarks.md``.

Usage: python tools/bench_preview.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pages import book_pages, copy_repo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TARGET = 3.0  # seconds, issue 26
TIMEOUT = 300.0  # seconds for one edit to show (a loaded machine), then the bench fails


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str:
    env = os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE")
    for candidate in (env, "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    sys.exit("bench_preview: no Chromium (apt-get install chromium, or set "
             "PLAYWRIGHT_CHROMIUM_EXECUTABLE)")


def _wait(predicate, what: str, timeout: float = TIMEOUT) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - a page mid-reload, a server not up yet
            pass
        time.sleep(0.05)
    raise TimeoutError(f"bench_preview: {what} took over {timeout:.0f} s")


def bench_preview(root: Path, runs: int = 3) -> dict:
    """Edit-to-visible of a prose edit under ``make preview``, on the built copy ``root``."""
    from playwright.sync_api import sync_playwright

    page_src = [p for p in book_pages(root) if p.has_code][-1]
    port = _free_port()
    url = f"http://127.0.0.1:{port}/{page_src.docname}.html"
    server = subprocess.Popen([sys.executable, str(root / "tools" / "serve.py"),
                               "--root", str(root), "--port", str(port),
                               "--jobs", str(os.cpu_count() or 1)],
                              cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    samples: list[float] = []
    try:
        _wait(lambda: urllib.request.urlopen(url, timeout=5).status == 200, "the first build")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(url)
            for i in range(runs):
                _wait(lambda: page.evaluate("ws.readyState") == 1, "the reload socket")
                marker = f"Preview probe number {i} at {time.time_ns()}."
                start = time.perf_counter()
                with page_src.path.open("a", encoding="utf-8") as f:
                    f.write(f"\n{marker}\n")
                # textContent: the sentence lands in the page's last section, which the browser
                # does not render until the reader comes near (content-visibility: auto), and
                # innerText leaves out what is not rendered
                _wait(lambda: marker in page.evaluate("document.body.textContent"), "an edit to show")
                samples.append(time.perf_counter() - start)
                print(f"[bench] preview: edit {i + 1} visible after {samples[-1]:.1f}s", flush=True)
            browser.close()
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    return {"median": sorted(samples)[len(samples) // 2], "min": min(samples),
            "max": max(samples), "runs": len(samples), "page": page_src.docname,
            "target": TARGET}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-preview-"))
    try:
        root = copy_repo(ROOT, tmp / "repo", with_cache=True)
        subprocess.run([sys.executable, "tools/build.py", "--root", str(root)], cwd=root,
                       check=True, capture_output=True)
        result = bench_preview(root, args.runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["preview"] = result
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True))
    from bench import report
    from readme import update_section

    print(f"[bench] preview edit-to-visible: median {result['median']:.1f}s; wrote {args.out}, "
          f"{update_section('bench', report(results), ROOT).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
