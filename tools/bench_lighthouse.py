"""Lighthouse (mobile) on every page of the built site, served with gzip like GitHub Pages.

Each page is measured with Lighthouse 12.2.3's mobile defaults (simulated slow 4G, 4x CPU
slowdown) in the machine's Chromium, and held to the budget below. Bytes come from Lighthouse's
network records: a first visit is everything the page transfers with an empty cache; a second
page of the same visit is what a page transfers that the worst other page did not already
bring (the server sends ``Cache-Control: max-age=600``, as GitHub Pages does).

Lighthouse is installed by ``make bench`` / ``make test`` into .venv/lighthouse (npm ci of
tools/lighthouse/package-lock.json), never by ``make book``.

Usage: python tools/bench_lighthouse.py [HTML_DIR] [--pages book/intro,...] [--out FILE]
       (writes bench/lighthouse.json and the table in docs/performance.md; exit 1 over budget)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pages import ROOT, book_pages  # noqa: E402
from serve_gzip import serve  # noqa: E402

LIGHTHOUSE_DIR = Path(os.environ.get("MLPBOOK_LIGHTHOUSE", ROOT / ".venv" / "lighthouse"))
LIGHTHOUSE_CLI = LIGHTHOUSE_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"
HOW_TO_INSTALL = ("Lighthouse is not installed: `make bench` or `make test` installs it into "
                  ".venv/lighthouse (npm ci in a copy of tools/lighthouse/)")
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage"
DOCS = ROOT / "docs" / "performance.md"
OUT = ROOT / "bench" / "lighthouse.json"

#: The budget (issue 30): per page, with Lighthouse's mobile defaults, served with gzip.
BUDGET = {"performance": 90, "lcp_ms": 2500, "tbt_ms": 200, "cls": 0.1,
          "first_visit_bytes": 500 * 1024, "second_page_bytes": 100 * 1024}


def chromium() -> str:
    for candidate in (os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise RuntimeError("Chromium not found (apt-get install chromium)")


def lighthouse(url: str, timeout: float = 300, slowdown: float | None = None) -> dict:
    """Lighthouse's report (LHR) for ``url``: performance only, mobile defaults (``slowdown``:
    another CPU slowdown than the default 4x)."""
    if not LIGHTHOUSE_CLI.is_file():
        raise RuntimeError(HOW_TO_INSTALL)
    with tempfile.TemporaryDirectory(prefix="lighthouse-") as tmp:
        out = Path(tmp) / "report.json"
        cmd = [shutil.which("node") or "node", str(LIGHTHOUSE_CLI), url, "--quiet",
               "--only-categories=performance", "--output=json", f"--output-path={out}",
               f"--chrome-path={chromium()}", f"--chrome-flags={CHROME_FLAGS}",
               "--max-wait-for-load=90000"]
        if slowdown is not None:
            cmd.append(f"--throttling.cpuSlowdownMultiplier={slowdown:.2f}")
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, "TMPDIR": tmp})
        if run.returncode != 0 or not out.is_file():
            raise RuntimeError(f"lighthouse failed on {url}:\n{run.stderr[-3000:]}")
        return json.loads(out.read_text())


def figures(lhr: dict, base: str) -> dict:
    """What the budget reads from one report, and the page's requests (path -> bytes)."""
    audits = lhr["audits"]
    requests: dict[str, int] = {}
    for item in audits["network-requests"]["details"]["items"]:
        path = item["url"][len(base):] if item["url"].startswith(base) else item["url"]
        requests[path] = requests.get(path, 0) + int(item.get("transferSize") or 0)
    return {
        "performance": round(100 * (lhr["categories"]["performance"]["score"] or 0)),
        "fcp_ms": audits["first-contentful-paint"]["numericValue"],
        "lcp_ms": audits["largest-contentful-paint"]["numericValue"],
        "tbt_ms": audits["total-blocking-time"]["numericValue"],
        "cls": audits["cumulative-layout-shift"]["numericValue"],
        "speed_index_ms": audits["speed-index"]["numericValue"],
        "first_visit_bytes": sum(requests.values()),
        "benchmark_index": lhr.get("environment", {}).get("benchmarkIndex"),
        "requests": requests,
        "render_blocking": [i["url"][len(base):] for i in
                            audits["render-blocking-resources"].get("details", {}).get("items", [])],
    }


def second_pages(results: dict[str, dict]) -> None:
    """Add ``second_page_bytes``: the most a page transfers after any other page of the site."""
    for page, r in results.items():
        others = [o for o in results if o != page] or [page]
        worst = max(others, key=lambda o: sum(b for p, b in r["requests"].items()
                                              if p not in results[o]["requests"]))
        r["second_page_bytes"] = sum(b for p, b in r["requests"].items()
                                     if p not in results[worst]["requests"])
        r["second_page_after"] = worst


def over_budget(r: dict) -> list[str]:
    """What one page's figures break of the budget."""
    b, bad = BUDGET, []
    if r["performance"] < b["performance"]:
        bad.append(f"performance {r['performance']} < {b['performance']}")
    for key, unit in (("lcp_ms", "ms"), ("tbt_ms", "ms"), ("cls", ""),
                      ("first_visit_bytes", "B"), ("second_page_bytes", "B")):
        if key in r and r[key] > b[key]:
            bad.append(f"{key} {r[key]:.4g}{unit} > {b[key]}{unit}")
    return bad


def measure(html_dir: Path, docnames: list[str] | None = None, echo=print) -> dict[str, dict]:
    """Lighthouse on each page of ``html_dir`` (default: every page of the TOC)."""
    if docnames is None:
        docnames = [p.docname for p in book_pages(ROOT)]
    server, base = serve(html_dir)
    results: dict[str, dict] = {}
    try:
        for docname in docnames:
            results[docname] = figures(lighthouse(f"{base}{docname}.html"), base)
            r = results[docname]
            echo(f"[lighthouse] {docname}: performance {r['performance']}, LCP "
                 f"{r['lcp_ms'] / 1000:.1f} s, TBT {r['tbt_ms']:.0f} ms, CLS {r['cls']:.3f}, "
                 f"{r['first_visit_bytes'] / 1024:.0f} KB")
    finally:
        server.shutdown()
        server.server_close()
    second_pages(results)
    return results


def table(results: dict[str, dict]) -> str:
    """The per-page figures as a Markdown table, with the budget in its header."""
    b = BUDGET
    lines = [f"| page | performance (≥ {b['performance']}) | LCP (≤ {b['lcp_ms'] / 1000} s) | "
             f"TBT (≤ {b['tbt_ms']} ms) | CLS (≤ {b['cls']}) | first visit (≤ "
             f"{b['first_visit_bytes'] // 1024} KB) | second page (≤ "
             f"{b['second_page_bytes'] // 1024} KB) | CPU index | within budget |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for page, r in results.items():
        bad = over_budget(r)
        lines.append(f"| {page} | {r['performance']} | {r['lcp_ms'] / 1000:.1f} s | "
                     f"{r['tbt_ms']:.0f} ms | {r['cls']:.3f} | {r['first_visit_bytes'] / 1024:.0f} KB"
                     f" | {r.get('second_page_bytes', 0) / 1024:.0f} KB | "
                     f"{r.get('benchmark_index') or 0:.0f} | "
                     f"{'yes' if not bad else 'no: ' + '; '.join(bad)} |")
    return "\n".join(lines)


def write_table(text: str, path: Path = DOCS, name: str = "lighthouse") -> bool:
    """Put ``text`` between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->`` in ``path``."""
    if not path.is_file():
        return False
    doc = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"(<!-- begin:{name} -->\n).*?(<!-- end:{name} -->)", re.S)
    if not pattern.search(doc):
        return False
    path.write_text(pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(2), doc),
                    encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", nargs="?", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--pages", help="comma-separated docnames (default: every page)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-docs", action="store_true", help=f"do not rewrite {DOCS.name}")
    args = parser.parse_args(argv)
    results = measure(args.html_dir, args.pages.split(",") if args.pages else None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"budget": BUDGET, "pages": results}, indent=1))
    text = table(results)
    print(text)
    if not args.no_docs and write_table(text):
        print(f"[lighthouse] table written to {DOCS.relative_to(ROOT)}")
    failing = [p for p, r in results.items() if over_budget(r)]
    if failing:
        print(f"[lighthouse] over budget: {', '.join(failing)}", file=sys.stderr)
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
