"""Mutation testing: does the book build catch every single fault in the gradient code?

A mutant is ONE fault at ONE site of ``code/mlpbook``. Mutants are generated from the code's AST
(functions found by qualified name, sites by structure, never by line number), so the set
follows the code:

* **Every local rule of the engine.** The engine's operations are the methods of ``Value`` that
  define a ``_backward`` closure (``engine_ops``). Each gradient contribution in a closure,
  ``x.grad += d``, is a *site*, mutated in each of these ways, one at a time:
  ``assign`` (``=`` instead of ``+=``), ``sign`` (``-=``), ``drop[f]`` (each factor ``f`` of
  ``d`` left out in turn: a lone factor becomes 1), ``read[a->b]`` (``d`` reads another operand
  of the operation: the input instead of the output, one input instead of the other) and
  ``swap[e]`` (the operands of a non-commutative operation ``e`` inside ``d`` exchanged).
* **The rest of the gradient machinery** (``TARGETS``: ``backward``, ``topological_sort``,
  both ``zero_grad``s, the training loop, ``collapse_linear``, ``make_mlp``, the scalar MLP
  forward, and the gradient checker, i.e. every function of ``gradcheck`` that computes a
  gradient or decides a verdict: ``central_difference``, ``numerical_grad``, ``_report``,
  ``GradcheckReport.__bool__``/``__str__``, ``check_scalar``, ``check_value_fn``,
  ``check_torch_fn``, ``torch_gradcheck``, ``_out``): every statement and expression outside
  input validation, with the generic operators ``delete`` (a statement), ``assign`` (``=`` for
  ``+=``), ``negate`` (a condition), ``operator`` (``+``/``-``, ``*``/``/``), ``swap`` (operands
  of ``-``, ``/``, ``**``, ``@``, a comparison), ``constant`` (0 -> 1, n -> n - 1, a bool
  flipped), ``reversed`` (``reversed(x)`` -> ``x``), ``scale`` (a tolerance or step, a float
  constant in (0, 1), x 1000: in the body, and as a parameter's default when the whole def is
  the target) and ``verdict`` (what a def annotated ``-> bool`` returns, or an ``all(...)`` /
  ``any(...)``, replaced by ``True`` and by ``False``).

A mutant argued to be equivalent is listed in ``EQUIVALENT`` with its argument. It is still
generated and run, to confirm that it survives, and is reported as such, never skipped.

For each mutant: copy a snapshot of the repository, rewrite one site, and execute, one page at
a time with the copy's own ``tools/build.py --execute-only --only PAGE``, the pages that import
the mutated module (directly or through another ``mlpbook`` module), the most likely killer
first (learned from the previous results file, then from this run). The first failing page
kills the mutant; the page, line, cell and error come from the build's structured report
(``pages.read_report``). A mutant that survives every page is re-tried with the full build
(Sphinx render, warnings as errors). The unmutated snapshot is built first: if it fails, no
mutant is reported.

This file is the command line; the tool's parts are in tools/mutation/: ``syntax`` (AST
helpers, thread-safe parsing), ``operators`` (a mutant; the engine's local rules), ``sites``
(the generic operators, ``TARGETS``, ``EQUIVALENT``, ``generate``), ``rewrite`` (applying a
mutant), ``planner`` (which pages, in which order), ``runner`` (a mutant's builds), ``report``.

Usage: python tools/mutate.py [--jobs N] [--only PATTERN ...] [--fast] [--list] [--all-pages]
                              [--no-render] [--no-history] [--keep] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import shutil
import sys
import tempfile
import threading
import time

from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pages import cpu_name  # noqa: E402
from mutation import RESULTS, ROOT
from mutation.syntax import MutationError
from mutation.operators import KINDS
from mutation.sites import EQUIVALENT, generate
from mutation.rewrite import mutate_source
from mutation.planner import Planner
from mutation.runner import Record, _failures, build, imports_from, run_mutant, snapshot
from mutation.report import print_list, readme_section, summarize, table, where
# The parts the tests and other tools use, by their old names (mutate.X):
from mutation import PACKAGE  # noqa: F401,E402
from mutation.operators import Mutant, engine_ops  # noqa: F401,E402
from mutation.planner import code_cells, page_modules  # noqa: F401,E402
from mutation.rewrite import apply_mutant, patched  # noqa: F401,E402
from mutation.syntax import find_def  # noqa: F401,E402


# The fast subset (`make test`, tests/test_mutation.py): one mutant of each kind of fault the
# pages must catch, with the page that must catch it.
FAST = {
    "mul.self:assign": "book/backprop",
    "add.other:drop[out.grad]": "book/backprop",
    "central_difference:constant[2->1 in 2 * h]": "book/backprop",
    "train:delete[optimizer.zero_grad()]": "book/autograd",
    "check_torch_fn:scale[1e-07->0.0001 in atol=1e-07]": "book/autograd",
    "torch_gradcheck:verdict[bool(torch.autograd.gradcheck...->True]": "book/autograd",
}


def _machine() -> str:
    return f"{os.cpu_count()} cores ({cpu_name()})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the repository to mutate (default: this one); it is not modified")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="mutants run at once, one page build each (default: all cores)")
    parser.add_argument("--only", nargs="+", metavar="PATTERN",
                        help="run only the mutants whose name matches (fnmatch), e.g. 'mul.*'")
    parser.add_argument("--fast", action="store_true", help=f"the fast subset: {', '.join(FAST)}")
    parser.add_argument("--list", action="store_true", help="list the mutants and their rewrites")
    parser.add_argument("--all-pages", action="store_true",
                        help="run every candidate page, not only up to the first failing one")
    parser.add_argument("--no-render", action="store_true",
                        help="do not re-try survivors with the full build (Sphinx render)")
    parser.add_argument("--no-history", action="store_true",
                        help="order pages without the previous results (static prior only)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per page build")
    parser.add_argument("--keep", action="store_true", help="keep the repository copies")
    parser.add_argument("--out", type=Path, help="JSON results (default: bench/mutation.json "
                        "for a full run, _build/mutation-partial.json otherwise)")
    args = parser.parse_args(argv)
    root = args.root.resolve()

    try:
        mutants = generate(root)
    except MutationError as err:
        print(f"[mutate] ERROR: {err}", file=sys.stderr)
        return 2
    by_name = {m.name: m for m in mutants}
    stale = sorted(set(EQUIVALENT) - set(by_name))
    if args.only:
        picked = [m for m in mutants if any(fnmatch.fnmatchcase(m.name, p) for p in args.only)]
        if not picked:
            parser.error(f"no mutant matches {args.only}; see --list")
        mutants = picked
    elif args.fast:
        missing = [n for n in FAST if n not in by_name]
        if missing:
            print(f"[mutate] ERROR: fast mutant(s) no longer generated: {missing}", file=sys.stderr)
            return 2
        mutants = [by_name[n] for n in FAST]
    if args.list:
        code = print_list(mutants, root)
        for name in stale:
            print(f"ERROR: EQUIVALENT argues about {name!r}, which is no longer generated")
        return 2 if stale else code
    full_run = not (args.only or args.fast)
    out_path = args.out or (root / (RESULTS if full_run else "_build/mutation-partial.json"))
    history_path = root / RESULTS
    history = None
    if not args.no_history and history_path.exists():
        with contextlib.suppress(ValueError):
            history = json.loads(history_path.read_text(encoding="utf-8"))

    t0 = time.perf_counter()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    work = Path(tempfile.mkdtemp(prefix="mlpbook-mutate-"))
    try:
        # One snapshot of the tree: every mutant runs the same book, whatever is edited meanwhile.
        base = snapshot(work / "_baseline", root)
        errors = {}
        for m in mutants:  # errors of the tool first: every rewrite must apply
            try:
                mutate_source((base / m.path).read_text(encoding="utf-8"), m)
            except MutationError as err:
                errors[m.name] = str(err)
                print(f"[mutate] ERROR: {err}", file=sys.stderr, flush=True)
        for name in stale:
            print(f"[mutate] ERROR: EQUIVALENT argues about {name!r}, which is no longer "
                  f"generated: update tools/mutation/sites.py", file=sys.stderr)
        where_from = imports_from(base)
        if not where_from.startswith(str(base / "code")):
            print(f"[mutate] ERROR: a build of a copy would import mlpbook from {where_from}, "
                  f"not from the copy: no mutant could be seen", file=sys.stderr)
            return 2
        print("[mutate] baseline: building the unmutated snapshot ...", flush=True)
        baseline = build(base, jobs=args.jobs, timeout=args.timeout * 4)
        if baseline.returncode != 0:
            bad = ", ".join(f"{f['path']}:{f['line']} (cell {f['cell']}) {f['error']}"
                            for f in _failures(baseline)) or baseline.tail
            print(f"[mutate] BASELINE FAILED, no mutant is reported: the unmutated book does not "
                  f"build: {bad}", file=sys.stderr)
            return 2
        planner = Planner(base, history)
        todo = [m for m in mutants if m.name not in errors]
        todo.sort(key=lambda m: m.name not in EQUIVALENT)  # the longest (all pages) first
        print(f"[mutate] baseline ok ({baseline.seconds:.1f}s); {len(todo)} mutant(s), "
              f"{args.jobs} at a time, pages ordered by "
              f"{'the previous results and ' if history else ''}what this run learns",
              flush=True)

        lock, gate = threading.Lock(), {}

        def render_gate() -> tuple[bool, str]:
            """Render the unmutated book once (on its own copy), the first time it is asked."""
            with lock:
                if not gate:
                    print("[mutate] a mutant survived execution: checking that the unmutated "
                          "book renders ...", flush=True)
                    out = build(snapshot(work / "_baseline-render", base), jobs=1,
                                execute_only=False, timeout=args.timeout * 4)
                    gate["ok"] = out.returncode == 0
                    gate["why"] = "" if gate["ok"] else "the unmutated book does not render: " \
                        + out.tail[-300:]
                    if not gate["ok"]:
                        print(f"[mutate] WARNING: {gate['why']}; survivors are not re-tried with "
                              f"the render", file=sys.stderr, flush=True)
                return gate["ok"], gate["why"]

        records: dict[str, Record] = {}
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(run_mutant, base, m, work, planner=planner,
                                   all_pages=args.all_pages, timeout=args.timeout,
                                   render=None if args.no_render else render_gate,
                                   keep=args.keep) for m in todo]
            for i, fut in enumerate(as_completed(futures), 1):
                rec = fut.result()
                records[rec.mutant] = rec
                print(f"[mutate] {i}/{len(todo)} {rec.mutant}: {rec.status} {where(rec)} "
                      f"({len(rec.tried)} page(s), {rec.seconds:.0f}s)", flush=True)
        for name, err in errors.items():
            m = by_name[name]
            records[name] = Record(m.name, m.module, m.target, m.site, m.kind, m.description,
                                   status="error", error=err, equivalent=EQUIVALENT.get(name))
        ordered = [records[m.name] for m in mutants]
        wall = time.perf_counter() - t0
        print()
        print(table(ordered))
        result = {
            "mode": "single-site mutants; candidate pages one at a time, most likely killer "
                    "first, " + ("every candidate page" if args.all_pages else
                                 "stopping at the first failing page")
                    + ("; survivors re-tried with the full render" if not args.no_render else ""),
            "jobs": args.jobs, "parallel_mutants": max(1, args.jobs), "machine": _machine(),
            "load_average": [round(x, 2) for x in load] if load else None,
            "wall_seconds": round(wall, 1), "baseline_seconds": round(baseline.seconds, 1),
            "cpu_seconds": round(sum(r.cpu_seconds for r in ordered), 1),
            "summary": summarize([asdict(r) for r in ordered]),
            "kinds": KINDS,
            "equivalent": EQUIVALENT,
            "mutants": [asdict(r) for r in ordered],
        }
        s = result["summary"]
        print(f"\n{s['killed']}/{s['mutants'] - s['equivalent']} non-equivalent mutants killed, "
              f"{s['survived']} survived, {s['equivalent']} equivalent (argued), "
              f"{s['error']} error(s), {s['timeout']} timeout(s); {s['page_runs']} page runs; "
              f"wall {wall:.0f}s, CPU {result['cpu_seconds']:.0f}s "
              f"({result['cpu_seconds'] / max(1, len(ordered)):.1f}s per mutant)")
        for r in ordered:
            if r.status in ("error", "timeout"):
                print(f"[mutate] {r.status.upper()} {r.mutant}: {r.error}", file=sys.stderr)
            if r.equivalent and r.killed:
                print(f"[mutate] WARNING: {r.mutant} was argued equivalent but the build killed "
                      f"it ({where(r)}): the argument is wrong", file=sys.stderr)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
        print(f"[mutate] wrote {out_path}")
        if full_run:
            from readme import update_readme

            update_readme("mutation", readme_section(result), root)
            print("[mutate] updated the mutation section of README.md")
        if s["error"] or s["timeout"] or stale:
            return 2
        return 1 if s["survived"] or s["argued_equivalent_but_killed"] else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"[mutate] kept the copies in {work}")


if __name__ == "__main__":
    sys.exit(main())
