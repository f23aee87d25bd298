"""Local Sphinx extension: keep rendering in step with tools/build.py.

- Pages that tools/build.py re-executed in this build are re-read by Sphinx even when their
  source file did not change (e.g. after an edit to code/mlpbook), so no stale output is served.
- MathJax is served from the site itself (copied from the pinned django-static-mathjax wheel),
  so the published site and the offline browser tests render maths without a CDN.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

MATHJAX_PARTS = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y")


def _executed_docnames(app: Sphinx) -> set[str]:
    report = Path(app.srcdir) / "_build" / "exec-report.json"
    if not report.exists():
        return set()
    return set(json.loads(report.read_text())["executed"])


def outdated(app: Sphinx, env: BuildEnvironment, added, changed, removed) -> list[str]:
    """Re-read every page whose outputs were just refreshed by tools/build.py."""
    return sorted(_executed_docnames(app) & set(env.found_docs) - set(added) - set(changed))


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    """Copy the parts of MathJax 3 the site uses into _static/mathjax."""
    if exception is not None or app.builder.format != "html":
        return
    import mathjax  # the django-static-mathjax wheel: static files only

    src = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    dest = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        s, d = src / part, dest / part
        if d.exists():
            continue
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(s, d) if s.is_dir() else shutil.copy2(s, d)


def setup(app: Sphinx) -> dict:
    app.connect("env-get-outdated", outdated)
    app.connect("build-finished", copy_mathjax)
    app.connect("config-inited", lambda app, config: setattr(config, "mathjax_path", "mathjax/tex-chtml.js"))
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
