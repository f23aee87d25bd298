"""Preview some pages while writing them: execute only those, render the whole book, report.

Works on a temporary copy of the repository, so several authors can preview at once without
touching the real _build. Other pages render without outputs; only warnings that concern the
named pages (or no page at all) are reported and fail the preview.

Usage: python tools/preview.py book/mlp.md [book/backprop.md ...]
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import yaml  # noqa: E402
from build import execute, format_failure  # noqa: E402
from pages import book_pages, copy_repo, jupyter_book  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    wanted = {str(Path(a).with_suffix("")).replace("\\", "/") for a in argv}
    tmp = Path(tempfile.mkdtemp(prefix="preview-"))
    root = tmp / "repo"
    copy_repo(ROOT, root)
    others = [p for p in book_pages(root) if p.docname not in wanted]
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["execute"]["exclude_patterns"] = [f"{p.docname}.md" for p in others]
    (root / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    start = time.perf_counter()
    results, todo = execute(root, jobs=2, force=True, only=wanted)
    for page, r in zip(todo, results):
        print(f"[preview] executed {page.docname}.md in {r.seconds:.1f}s: {'ok' if r.ok else 'FAILED'}")
    failed = [(p, r) for p, r in zip(todo, results) if not r.ok]
    if failed:
        print("\n".join(format_failure(root, p, r) for p, r in failed))
        return 1
    out = jupyter_book(root, "-n", "--keep-going")
    log = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout)
    mine = [ln for ln in log.splitlines()
            if (re.search(r"WARNING|ERROR", ln) and not ln.startswith("[IPKernelApp]")
                or "Executed notebook in" in ln)
            and (any(f"{w}.md" in ln for w in wanted) or not re.search(r"book/[\w-]+\.md", ln))]
    for ln in mine:
        print("[preview]", ln)
    print(f"[preview] {len(mine)} warning(s) for these pages; {time.perf_counter() - start:.0f}s; "
          f"HTML in {root / '_build' / 'html' / 'book'}")
    return 1 if mine or out.returncode not in (0, 1) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
