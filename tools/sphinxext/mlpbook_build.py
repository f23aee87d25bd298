"""Local Sphinx extension: keep rendering in step with tools/build.py.

- Every page whose inputs or cached outputs differ from what was last rendered is re-read by
  Sphinx, even when its source file did not change (e.g. after an edit to code/mlpbook, or after
  a build that executed pages and then failed): tools/freshness.py decides which, tools/build.py
  passes the list in ``MLPBOOK_REREAD``. When re-reading changed a title, a label or a number
  that other pages quote in their links, every page is written again, so links are never stale
  either (Sphinx itself rewrites only the pages it re-read).
- In ``make preview``'s warm Sphinx, the pages each build writes are noted (``note_written``)
  so that the end-of-build steps redo only those.
- Maths is typeset at build time by the katex_math extension (no maths engine in the browser).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

def _to_reread(app: Sphinx) -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import freshness  # tools/freshness.py

    if freshness.REREAD_ENV in os.environ:  # tools/build.py took the plan before rendering
        return json.loads(os.environ[freshness.REREAD_ENV])
    return freshness.render_plan(Path(app.srcdir)).reread  # jupyter-book run by hand


def outdated(app: Sphinx, env: BuildEnvironment, added, changed, removed) -> list[str]:
    """Re-read every page not rendered from its current inputs and cached outputs."""
    return sorted(set(_to_reread(app)) & set(env.found_docs) - set(added) - set(changed))


def cross_page_facts(env: BuildEnvironment) -> str:
    """What a page's links quote from other pages: titles, labels, section and figure numbers."""
    std = env.get_domain("std")
    facts = {"titles": {d: t.astext() for d, t in env.titles.items()},
             "labels": std.labels, "anonlabels": std.anonlabels,
             "secnumbers": env.toc_secnumbers, "fignumbers": env.toc_fignumbers}
    return json.dumps(facts, sort_keys=True, default=repr)


def note_facts(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    app.mlpbook_facts = cross_page_facts(env) if docnames else None


def rewrite_quoting_pages(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Write every page when what links quote changed in the pages just read (Sphinx would
    leave links to them in the other pages as they were)."""
    before = getattr(app, "mlpbook_facts", None)
    return sorted(env.found_docs) if before is not None and before != cross_page_facts(env) else []


def note_written(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """In ``make preview``'s warm Sphinx (tools/warm_render.py sets ``app.mlpbook_written`` to a
    set before each build), the pages this build writes: the end-of-build steps of the local
    extensions then redo only those pages, not the whole site (``make book`` redoes it all)."""
    written = getattr(app, "mlpbook_written", None)
    if written is not None:
        written.add(pagename)


def dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Include each inline script once (Sphinx < 8.2 bug, sphinx-doc/sphinx#13402).

    An extension's ``app.add_js_file(None, body=...)`` after the builder started (sphinx-thebe,
    sphinx-togglebutton) is listed twice, once as ``None`` and once as ``''``; the second
    ``const THEBE_JS_URL`` is a SyntaxError on every page.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (getattr(js, "filename", js) or "", tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


# pydata-sphinx-theme's <head> snippet sets <html data-mode> and data-theme from localStorage, or
# to "" on a first visit: the page then paints with no theme until the theme's script runs, which
# logs "Got invalid theme mode: . Resetting to auto." (a console error for every new reader).
# Resolve an empty mode to "auto" (follow the OS colour scheme) before the first paint.
THEME_MODE_JS = (
    "(function(){var d=document.documentElement,m=d.dataset.mode;"
    "if(m!=='light'&&m!=='dark'&&m!=='auto'){m=d.dataset.mode='auto';}"
    "if(d.dataset.theme!=='light'&&d.dataset.theme!=='dark'){d.dataset.theme=(m==='dark'||"
    "(m==='auto'&&window.matchMedia('(prefers-color-scheme: dark)').matches))?'dark':'light';}})();"
)


def fix_citation_roles(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Bibliography entries as list items (axe: aria-required-children, critical).

    docutils writes the bibliography as ``<div role="list" class="citation-list">`` whose entries
    carry ``role="doc-biblioentry"``, a role deprecated in DPUB-ARIA 1.1 and not a list item, so
    assistive technology is told of a list with no items.
    """
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app: Sphinx) -> dict:
    app.connect("env-get-outdated", outdated)
    app.connect("env-before-read-docs", note_facts)
    app.connect("env-get-updated", rewrite_quoting_pages)
    app.connect("html-page-context", note_written)
    app.connect("html-page-context", dedupe_scripts)
    app.connect("html-page-context", fix_citation_roles)
    app.add_js_file(None, body=THEME_MODE_JS, priority=1)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
