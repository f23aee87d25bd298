"""Reporting: where a mutant was caught, the results table, the summary and the README section."""

from __future__ import annotations


from pathlib import Path

from mutation import ROOT
from mutation.syntax import MutationError
from mutation.operators import Mutant
from mutation.sites import EQUIVALENT
from mutation.rewrite import mutate_source
from mutation.runner import Record


# ----- reporting -----------------------------------------------------------------------------
def where(rec: Record) -> str:
    """Where the build caught the mutant: ``book/x.md:LINE cell N Error`` (or why not)."""
    if rec.status != "killed":
        return rec.error.splitlines()[0][:70] if rec.error else (
            "argued equivalent; no page failed" if rec.status == "equivalent" else
            "no page failed: execution, then the full render" if rec.rendered else
            "no page failed")
    f = rec.killed_by[0]
    at = f"{f['path']}:{f['line']}" if f.get("path") else "?"
    cell = f" cell {f['cell']}" if f.get("cell") is not None else ""
    more = f" (+{len(rec.killed_by) - 1})" if len(rec.killed_by) > 1 else ""
    return f"{'render: ' if rec.stage == 'render' else ''}{at}{cell} {f['error']}{more}"


def table(records: list[Record]) -> str:
    rows = [("mutant", "result", "killed by (page:line cell, error)", "pages", "s")]
    rows += [(r.mutant[:64], r.status.upper() if r.status not in ("killed", "equivalent")
              else r.status, where(r), str(len(r.tried)), f"{r.seconds:.0f}") for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def summarize(records: list[dict]) -> dict:
    counts = {s: sum(r["status"] == s for r in records)
              for s in ("killed", "survived", "equivalent", "error", "timeout")}
    counts["mutants"] = len(records)
    counts["argued_equivalent_but_killed"] = sum(bool(r["equivalent"]) and r["killed"]
                                                 for r in records)
    counts["page_runs"] = sum(len(r["tried"]) for r in records)
    return counts


def readme_section(result: dict) -> str:
    """The README's generated mutation table, from a full run's results."""
    recs, s = result["mutants"], result["summary"]
    load = result.get("load_average")
    out = [f"**Latest run**: **{s['killed']} of {s['mutants'] - s['equivalent']} non-equivalent "
           f"single-site mutants killed** by the build, {s['survived']} survived, "
           f"{s['equivalent']} argued equivalent (they survive, as argued below)"
           + (f", {s['error']} error(s), {s['timeout']} timeout(s)"
              if s["error"] or s["timeout"] else "") + ".",
           f"`make mutate` took {result['wall_seconds'] / 60:.1f} min of wall time, "
           f"{result['parallel_mutants']} mutants at a time on {result['machine']}"
           + (f" (load average {load[0]:.1f} at the start: other work shared the cores)"
              if load and load[0] > 1.5 else "")
           + f"; the builds used {result['cpu_seconds'] / 60:.1f} min of CPU, "
           f"{result['cpu_seconds'] / max(1, s['mutants']):.1f} s per mutant, in "
           f"{s['page_runs']} page executions ({s['page_runs'] / max(1, s['mutants']):.2f} per "
           f"mutant). Every mutant, with the page, line and cell that killed it: "
           f"`bench/mutation.json`.", "",
           "| function | mutants by kind | killed | equivalent | survived | killed on (first failing page) |",
           "| --- | --- | ---: | ---: | ---: | --- |"]
    groups: dict[str, list[dict]] = {}
    for r in recs:
        groups.setdefault(f"`{r['module']}.{r['target']}`", []).append(r)
    for fn, rs in groups.items():
        kinds: dict[str, int] = {}
        pages: dict[str, int] = {}
        for r in rs:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
            if r["killed"] and r["killed_by"]:
                page = (r["killed_by"][0].get("page") or "render").removeprefix("book/")
                pages[page] = pages.get(page, 0) + 1
        by = ", ".join(f"{p} {n}" for p, n in sorted(pages.items(), key=lambda kv: -kv[1]))
        out.append(f"| {fn} | {', '.join(f'{k} {n}' for k, n in kinds.items())} "
                   f"| {sum(r['status'] == 'killed' for r in rs)} "
                   f"| {sum(r['status'] == 'equivalent' for r in rs)} "
                   f"| {sum(r['status'] == 'survived' for r in rs)} | {by} |")
    eq = [r for r in recs if r["equivalent"]]
    if eq:
        out += ["", "Argued equivalent (generated and run all the same):", ""]
        out += [f"- `{r['mutant']}` ({r['status']}): {r['equivalent']}" for r in eq]
    bad = [r for r in recs if r["status"] in ("survived", "error", "timeout")]
    if bad:
        out += ["", "Not killed:", ""]
        out += [f"- `{r['mutant']}`: {r['status']} {r['error'][:120]}".rstrip() for r in bad]
    return "\n".join(out)


def print_list(mutants: list[Mutant], root: Path = ROOT) -> int:
    """Show every mutant and its rewrite, applied in memory to the current package."""
    errors = 0
    for m in mutants:
        try:
            _, change = mutate_source((root / m.path).read_text(encoding="utf-8"), m)
            shown = "\n".join("      " + ln for ln in change)
        except MutationError as err:
            errors += 1
            shown = f"      ERROR: {err}"
        eq = f"\n      EQUIVALENT: {EQUIVALENT[m.name]}" if m.name in EQUIVALENT else ""
        print(f"{m.name}  [{m.module}.{m.target}, {m.kind}]\n      {m.description}\n"
              f"{shown}{eq}")
    kinds: dict[str, int] = {}
    for m in mutants:
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    print(f"{len(mutants)} mutant(s) ({', '.join(f'{k} {n}' for k, n in kinds.items())}), "
          f"{sum(m.name in EQUIVALENT for m in mutants)} argued equivalent, {errors} error(s)")
    return 2 if errors else 0
