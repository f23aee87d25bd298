"""The test suite's own durations, for `make bench`: the fast tier (`make check`), the whole suite
(`make test`) and its slowest ten tests, so that a test that gets slow shows.

bench.py calls ``measure`` and adds ``report_lines`` to its README table; run alone it measures
and prints (``--fast-only``: only the fast tier, a minute or so).

Usage: python tools/bench_suite.py [--fast-only] [--out bench/suite.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAST_TIER = "not book and not browser and not slow"  # the Makefile's `check` (pytest.ini markers)
WHOLE_SUITE = ["-n", "3", "--dist", "loadfile", "--no-loadscope-reorder"]  # the Makefile's `test` (SUITE_WORKERS)
BUDGETS = {"fast_tier": 90.0, "whole_suite": 600.0}  # seconds, on this 2-core machine
SLOWEST = 10


def read_junit(path: Path) -> dict:
    """Counts and per-test seconds (setup + call + teardown) from pytest's JUnit XML."""
    tests: list[dict] = []
    outcome = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        tests.append({"test": name, "seconds": round(float(case.get("time") or 0), 2)})
        kinds = {child.tag for child in case}
        key = ("failed" if "failure" in kinds else "errors" if "error" in kinds
               else "skipped" if "skipped" in kinds else "passed")
        outcome[key] += 1
    return {"tests": len(tests), **outcome, "cases": tests}


def run_pytest(args: list[str], cwd: Path = ROOT) -> dict:
    """Run pytest with ``args`` in ``cwd``; its wall time, outcome counts and exit code, and the
    per-test seconds (``cases``)."""
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
        junit = Path(tmp) / "junit.xml"
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              f"--junitxml={junit}", "-o", "junit_duration_report=total", *args],
                             cwd=cwd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if not junit.exists():
            sys.exit(f"bench: pytest {' '.join(args)} wrote no report (exit {out.returncode}):\n"
                     f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        result = read_junit(junit)
    return {"seconds": round(seconds, 1), "exit_code": out.returncode, **result}


def slowest(cases: list[dict], n: int = SLOWEST) -> list[dict]:
    return sorted(cases, key=lambda c: (-c["seconds"], c["test"]))[:n]


def measure(root: Path = ROOT, whole: bool = True) -> dict:
    """The fast tier, then (``whole``) the whole suite, as `make check` and `make test` run them."""
    fast = run_pytest(["-m", FAST_TIER], root)
    print(f"[bench] fast tier: {fast['tests']} tests in {fast['seconds']:.0f}s", flush=True)
    result = {"fast_tier": {k: v for k, v in fast.items() if k != "cases"}}
    if whole:
        suite = run_pytest(WHOLE_SUITE, root)
        print(f"[bench] whole suite: {suite['tests']} tests in {suite['seconds']:.0f}s", flush=True)
        result["whole_suite"] = {k: v for k, v in suite.items() if k != "cases"}
        result["slowest"] = slowest(suite["cases"])
    else:
        result["slowest"] = slowest(fast["cases"])
    return result


def report_lines(suite: dict | None) -> list[str]:
    """Markdown for the README's bench section; none for results measured before the suite was
    (bench/results.json without "suite": the README table stays what it was)."""
    if not suite:
        return []
    lines = ["", "| test tier | tests | result | time | target |", "| --- | --- | --- | --- | --- |"]
    for key, label in (("fast_tier", "`make check` (fast tier)"), ("whole_suite", "`make test` (whole suite)")):
        t = suite.get(key)
        if t:
            bad = t["failed"] + t["errors"]
            lines.append(f"| {label} | {t['tests']} | {'all passed' if not bad else f'{bad} failed'}"
                         f" | {t['seconds']:.0f} s | ≤ {BUDGETS[key]:.0f} s |")
    where = "whole suite" if "whole_suite" in suite else "fast tier"
    lines += ["", f"| slowest tests ({where}) | time (setup + call + teardown) |", "| --- | --- |"]
    lines += [f"| `{c['test']}` | {c['seconds']:.1f} s |" for c in suite.get("slowest", [])]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast-only", action="store_true", help="only the fast tier")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    suite = measure(ROOT, whole=not args.fast_only)
    print("\n".join(report_lines(suite)))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(suite, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
