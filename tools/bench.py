"""Benchmark the build: clean build vs plain Jupyter Book, incremental builds, page run time, weight.

Everything runs on temporary copies of the repository, in one run, so the ratios compare like
with like on the same (noisy) machine. Prints a table, writes bench/results.json and rewrites the
table in docs/benchmarks.md between <!-- begin:bench --> and <!-- end:bench --> (tools/readme.py).

Usage: python tools/bench.py [--runs 3] [--no-readme]
       python tools/bench.py --readme-only   (the README table from bench/results.json, no run)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import yaml  # noqa: E402
from bench_preview import bench_preview  # noqa: E402  (make preview's edit-to-visible)
from pages import book_pages, copy_repo, cpu_name, jupyter_book, read_report  # noqa: E402
from readme import update_readme  # noqa: E402
import bench_lighthouse  # noqa: E402  (Lighthouse mobile on every page, served with gzip)
from weight import page_weights  # noqa: E402
import bench_suite  # noqa: E402  (the test suite's durations)

sys.path.insert(0, str(Path(__file__).resolve().parent / "sphinxext"))
from colab_notebooks.timing import notebook_seconds  # noqa: E402  (the Colab notebooks' Run all)

ROOT = Path(__file__).resolve().parent.parent
CORES = os.cpu_count() or 1
BUDGET_PAGE, BUDGET_TOTAL = 10.0, 60.0


def fresh_copy(tmp: Path, name: str) -> Path:
    """A copy of the working tree without any build output."""
    return copy_repo(ROOT, tmp / name)


def timed(cmd: list[str], cwd: Path) -> float:
    """Run a command, fail loudly if it fails, return its wall time in seconds."""
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return seconds


def build(root: Path, *args: str) -> tuple[float, dict]:
    """Time tools/build.py on a copy; return (seconds, the build's exec report)."""
    seconds = timed([sys.executable, "tools/build.py", "--root", str(root), *args], root)
    return seconds, read_report(root)


def plain_jupyter_book(root: Path) -> float:
    """The baseline: `jupyter-book build` with execute_notebooks: force, serial."""
    config_path = root / "_config.yml"
    config = yaml.safe_load(config_path.read_text())
    config["execute"]["execute_notebooks"] = "force"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.rmtree(root / "_build", ignore_errors=True)
    start = time.perf_counter()
    out = jupyter_book(root)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"bench: plain jupyter-book build of {root} failed:\n{out.stdout[-6000:]}")
    return seconds


def stats(samples: list[float]) -> dict:
    """Median, min and max of timing samples."""
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "runs": len(samples)}


def fmt(s: dict) -> str:
    return f"{s['median']:6.1f} s  (min {s['min']:.1f}, max {s['max']:.1f}, n={s['runs']})"


def bench_clean(tmp: Path, runs: int) -> tuple[dict, dict, dict, Path]:
    """Clean `make book` builds and plain serial Jupyter Book force builds, interleaved."""
    ours, plain, render = [], [], []
    last = None
    for i in range(runs):
        root = fresh_copy(tmp, f"clean-{i}")
        seconds, report = build(root)
        ours.append(seconds)
        render.append(seconds - report["execute_wall_seconds"])
        base = fresh_copy(tmp, f"plain-{i}")
        plain.append(plain_jupyter_book(base))
        shutil.rmtree(base)
        if last is not None:
            shutil.rmtree(last)
        last = root
    return stats(ours), stats(plain), stats(render), last


def bench_incremental(root: Path, runs: int) -> dict:
    """No-change rebuild, one-page prose edit, and an edit to code/mlpbook, on a built copy."""
    results: dict[str, dict] = {}
    samples, executed = [], []
    for _ in range(runs):
        seconds, report = build(root)
        samples.append(seconds)
        executed.append(len(report["executed"]))
    results["no_change"] = {**stats(samples), "pages_executed": max(executed)}

    pages = [p for p in book_pages(root) if p.has_code]
    page = pages[-1].path
    page.write_text(page.read_text() + "\n<!-- bench: a prose edit -->\n")
    seconds, report = build(root)
    results["prose_edit"] = {"seconds": seconds, "pages_executed": len(report["executed"]),
                             "page": pages[-1].docname}

    engine = root / "code" / "mlpbook" / "engine.py"
    engine.write_text(engine.read_text() + "\n# bench: an edit to the package\n")
    seconds, report = build(root)
    users = [p.docname for p in pages if p.imports_mlpbook]
    results["package_edit"] = {"seconds": seconds, "pages_executed": len(report["executed"]),
                               "pages_importing_mlpbook": len(users),
                               "all_importers_executed": sorted(report["executed"]) == sorted(users)}
    return results


def bench_pages(tmp: Path, runs: int) -> dict[str, dict]:
    """Per-page execution time (kernel start + all cells), one page at a time, as in Colab."""
    root = fresh_copy(tmp, "pages")
    per_page: dict[str, list[float]] = {}
    for _ in range(runs):
        _, report = build(root, "--execute-only", "--force", "--jobs", "1")
        for name, seconds in report["seconds"].items():
            per_page.setdefault(name, []).append(seconds)
    shutil.rmtree(root)
    return {name: stats(s) for name, s in per_page.items()}


def machine() -> dict:
    """The machine the figures were measured on."""
    cpu = cpu_name(platform.processor())
    import torch

    return {"cores": CORES, "cpu": cpu, "python": platform.python_version(),
            "torch": torch.__version__, "platform": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each timing")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--no-readme", action="store_true",
                        help="do not rewrite the README's benchmark table")
    parser.add_argument("--no-suite", action="store_true",
                        help="do not time the test suite (make check, make test)")
    parser.add_argument("--readme-only", action="store_true",
                        help="rewrite the README's table from --out without measuring anything")
    args = parser.parse_args(argv)
    if args.readme_only:
        update_readme("bench", report(json.loads(args.out.read_text())), ROOT)
        print(f"[bench] docs/benchmarks.md table rewritten from {args.out}")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        print(f"[bench] {args.runs} run(s) of each timing in {tmp}", flush=True)
        ours, plain, render, built = bench_clean(tmp, args.runs)
        print(f"[bench] clean builds done: ours {ours['median']:.1f}s, plain {plain['median']:.1f}s",
              flush=True)
        pages = bench_pages(tmp, args.runs)
        weights = page_weights(built / "_build" / "html")
        site_bytes = sum(f.stat().st_size for f in (built / "_build" / "html").rglob("*") if f.is_file())
        docnames = {p.slug: p.docname for p in book_pages(built)}
        notebooks = {docnames[k]: stats(v) for k, v in notebook_seconds(built, args.runs).items()}
        incremental = bench_incremental(built, args.runs)
        preview = bench_preview(built, args.runs)
        grading = bench_grading(built, tmp)  # make grade on a class of 100
        lighthouse = bench_lighthouse.measure(built / "_build" / "html")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    suite = None if args.no_suite else bench_suite.measure(ROOT)  # make check, make test

    page_medians = {k: v["median"] for k, v in pages.items()}
    floor = sum(page_medians.values()) / CORES + render["median"]
    results = {
        "machine": machine(),
        "clean_build": ours, "plain_jupyter_book_force_serial": plain,
        "ratio_clean_vs_plain": ours["median"] / plain["median"],
        "render": render, "floor_seconds": floor, "floor_ratio": floor / plain["median"],
        "incremental": incremental,
        "pages": pages, "notebooks": notebooks,
        "page_max_seconds": max(page_medians.values()),
        "page_total_seconds": sum(page_medians.values()),
        "weights": weights, "site_bytes": site_bytes,
        "grading": grading, "suite": suite, "preview": preview, "lighthouse": lighthouse,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True))
    table = report(results)
    print(table)
    print(f"[bench] wrote {args.out}")
    print(bench_lighthouse.table(lighthouse))
    if bench_lighthouse.write_table(bench_lighthouse.table(lighthouse)):
        print("[bench] updated the Lighthouse table in docs/performance.md")
    if not args.no_readme:
        update_readme("bench", table, ROOT)
        print("[bench] updated the table in docs/benchmarks.md (between <!-- begin:bench --> and "
              "<!-- end:bench -->)")
    return 0


NOT_MEASURED = "not measured"


def _measured(render: Callable[[], str]) -> str:
    """``render()``, or "not measured" when the results lack what it reads (an older
    bench/results.json, written before that measurement existed)."""
    try:
        return render()
    except KeyError:
        return NOT_MEASURED


def report(r: dict) -> str:
    """The results as a Markdown table (the README shows the latest one). A measurement
    missing from ``r`` shows as "not measured"."""
    m, inc = r.get("machine", {}), r.get("incremental", {})
    cores = m.get("cores", CORES)
    rows = [
        ("clean `make book`", lambda: fmt(r["clean_build"]), ""),
        ("plain `jupyter-book build`, `execute_notebooks: force`, serial",
         lambda: fmt(r["plain_jupyter_book_force_serial"]), ""),
        ("**ratio clean / plain**", lambda: f"**{r['ratio_clean_vs_plain']:.2f}**", "≤ 0.6"),
        (f"perfect split: Σ page time / {cores} cores + render (an estimate)",
         lambda: f"{r['floor_seconds']:.1f} s (ratio {r['floor_ratio']:.2f})", ""),
        ("render (Sphinx) part of the clean build", lambda: fmt(r["render"]), ""),
        ("no-change rebuild", lambda: f"{fmt(inc['no_change'])}, "
         f"{inc['no_change']['pages_executed']} pages executed", "≤ 5 s, 0 pages"),
        ("one-page prose edit", lambda: f"{inc['prose_edit']['seconds']:.1f} s, "
         f"{inc['prose_edit']['pages_executed']} page executed", "1 page"),
        ("`make preview`: a prose edit, saved to visible in the browser",
         lambda: f"{fmt(r['preview'])} ({r['preview']['page']})", "≤ 3 s"),
        ("edit to `code/mlpbook`", lambda: f"{inc['package_edit']['seconds']:.1f} s, "
         f"{inc['package_edit']['pages_executed']} of "
         f"{inc['package_edit']['pages_importing_mlpbook']} importing pages executed", "all"),
        ("slowest page (kernel start + cells, serial)",
         lambda: f"{r['page_max_seconds']:.1f} s", f"≤ {BUDGET_PAGE:.0f} s"),
        ("all pages, summed", lambda: f"{r['page_total_seconds']:.1f} s",
         f"≤ {BUDGET_TOTAL:.0f} s"),
        ("site size", lambda: f"{r['site_bytes'] / 1e6:.1f} MB", ""),
        (f"`make grade`, a class of {r.get('grading', {}).get('notebooks', 100)} lab notebooks",
         lambda: f"{r['grading']['seconds']:.0f} s ({r['grading']['cpu_per_notebook']:.2f} s "
         "of CPU per notebook)", "minutes"),
    ]
    machine_line = _measured(lambda: f"Measured on {m['cores']} cores, {m['cpu']}, Python "
                                     f"{m['python']}, torch {m['torch']}.")
    lines = [machine_line if machine_line != NOT_MEASURED else "Machine not recorded.", "",
             "| measure | result | target |", "| --- | --- | --- |"]
    lines += [f"| {label} | {_measured(render)} | {target} |".replace("|  |", "| |")
              for label, render, target in rows]
    lines += ["", "| page | run time (median, min–max) | Colab notebook Run all | HTML | images |",
              "| --- | --- | --- | --- | --- |"]
    weights = {w["page"]: w for w in r.get("weights", [])}
    pages, notebooks = r.get("pages", {}), r.get("notebooks")
    for page in sorted(set(weights) | set(pages)):
        t = pages.get(page)
        w = weights.get(page, {})
        run = f"{t['median']:.1f} s ({t['min']:.1f}–{t['max']:.1f})" if t else "no code"
        nb = (notebooks or {}).get(page)
        notebook = (f"{nb['median']:.1f} s ({nb['min']:.1f}–{nb['max']:.1f})" if nb else
                    NOT_MEASURED if notebooks is None and t else "")
        lines.append(f"| {page} | {run} | {notebook} | {w.get('html_bytes', 0) / 1024:.0f} KB | "
                     f"{w.get('image_bytes', 0) / 1024:.0f} KB |")
    lines += bench_suite.report_lines(r.get("suite"))
    return "\n".join(lines)


def bench_grading(built: Path, tmp: Path, n: int = 100) -> dict:
    """``make grade`` on a class of ``n`` lab notebooks: half the instructor's (solved), half the
    student's untouched, both as the build of ``built`` wrote them."""
    from grade import read_lab

    lab, folder = read_lab(), tmp / "class"
    folder.mkdir()
    solved = (built / "_build" / "instructor" / "lab-solutions.ipynb").read_bytes()
    untouched = (built / "_build" / "html" / "notebooks" / "lab.ipynb").read_bytes()
    for i in range(n):
        (folder / f"student-{i:03d}.ipynb").write_bytes(solved if i % 2 == 0 else untouched)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = timed([sys.executable, str(ROOT / "tools" / "grade.py"), str(folder),
                     "--jobs", str(CORES)], ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    totals = [float(r["total"]) for r in csv.DictReader(open(folder / "grades.csv"))]
    if sorted(set(totals)) != [0.0, float(len(lab.exercises))] or len(totals) != n:
        sys.exit(f"bench: grading gave unexpected totals {sorted(set(totals))} for {len(totals)}")
    print(f"[bench] graded {n} notebooks in {seconds:.0f}s ({cpu:.0f} s of CPU)", flush=True)
    return {"notebooks": n, "seconds": seconds, "per_notebook": seconds / n,
            "cpu_per_notebook": cpu / n}


if __name__ == "__main__":
    sys.exit(main())
