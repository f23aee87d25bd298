"""Local Sphinx extension: every page with code opens in Colab as a real notebook, and runs there.

After an HTML build every page with code becomes ``_build/html/notebooks/<slug>.ipynb``, the
student's notebook; a page with gated solutions (the lab) also becomes
``_build/instructor/<slug>-solutions.ipynb``, outside the published site. The package:

- ``location``: the GitHub location (derived, never typed) and every URL made from it;
- ``setup_cell``: the notebooks' first cell (install ``mlpbook`` or stop with one message);
- ``markdown``: MyST -> Markdown, with the site's links, numbers and glued values (no Sphinx);
- ``glue``: the glued values, from the jupyter-cache the site is rendered from;
- ``references``: what the site resolved, read from the Sphinx environment;
- ``notebook``: assembly (plumbing stripped, solutions split);
- ``buttons``: the header's Colab, download, repository and edit buttons;
- ``timing``: each notebook's "Run all" time, for ``make bench``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tools/: pages.py
from pages import CACHE, page_has_code, slug  # noqa: E402

from .location import NOTEBOOK_DIR, Location, resolve  # noqa: E402

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.config import Config

INSTRUCTOR_DIR = "instructor"  # _build/instructor/<slug>-solutions.ipynb


def _logger():
    from sphinx.util import logging

    return logging.getLogger(__name__)


def location_of(app: Sphinx) -> Location | None:
    return getattr(app, "mlpbook_location", None)


def configure(app: Sphinx, config: Config) -> None:
    """config-inited: derive the GitHub location once; say in one line what it is, or why none."""
    from .buttons import configure_theme

    location, why = resolve(Path(app.srcdir))
    app.mlpbook_location = location
    configure_theme(config.html_theme_options, location)
    if location is None:
        _logger().info(f"[colab] no GitHub location ({why}): no Colab, repository or edit "
                       "buttons; the .ipynb downloads stay")
    else:
        _logger().info(f"[colab] GitHub location {location.org}/{location.repo} (from {why}); "
                       f"notebooks install mlpbook at {location.commit}")


def code_page(app: Sphinx, docname: str) -> bool:
    return docname in app.env.found_docs and page_has_code(Path(app.env.doc2path(docname)))


def write_notebooks(app: Sphinx, exception: Exception | None) -> None:
    """build-finished: (re)write every page's notebooks; remove those of vanished pages (in
    ``make preview``'s warm Sphinx: only the notebooks of the pages this build wrote)."""
    from .markdown import MystToMarkdown
    from .notebook import page_notebooks
    from .references import from_sphinx
    from .setup_cell import install_advice, setup_source

    if exception is not None or app.builder.format != "html":
        return
    location = location_of(app)
    baseurl = (app.config.html_baseurl or "").strip()
    site = location.site_url(baseurl) if location else (baseurl.rstrip("/") + "/" if baseurl else "")
    root = Path(app.srcdir)
    docnames = [d for d in sorted(app.env.found_docs) if code_page(app, d)]
    refs = from_sphinx(app, site, root / CACHE, docnames)
    setup = setup_source(location.pip_requirement() if location else "",
                         install_advice(location and location.repo_url, location and location.commit))
    outdir = Path(app.outdir) / NOTEBOOK_DIR
    instructor_dir = Path(app.outdir).parent / INSTRUCTOR_DIR
    written: dict[Path, set[str]] = {outdir: set(), instructor_dir: set()}
    preview = getattr(app, "mlpbook_written", None)  # make preview: the pages just written
    for docname in docnames if preview is None else [d for d in docnames if d in preview]:
        converter = MystToMarkdown(refs, docname, root, location.raw_url if location else None)
        name = slug(docname)
        student, instructor = page_notebooks(Path(app.env.doc2path(docname)), converter, setup, name)
        for problem in converter.problems:
            _logger().warning(f"[colab] {problem}", type="colab", subtype="notebook")
        for folder, filename, text in ((outdir, f"{name}.ipynb", student),
                                       (instructor_dir, f"{name}-solutions.ipynb", instructor)):
            if text is None:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / filename
            if not target.exists() or target.read_text("utf-8") != text:
                target.write_text(text, encoding="utf-8")
            written[folder].add(filename)
    for folder, names in written.items() if preview is None else ():
        for stale in folder.glob("*.ipynb"):
            if stale.name not in names:
                stale.unlink()
    _logger().info(f"[colab] {len(written[outdir])} notebook(s) in {NOTEBOOK_DIR}/, "
                   f"{len(written[instructor_dir])} instructor notebook(s) in "
                   f"_build/{INSTRUCTOR_DIR}/")


def page_buttons(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """html-page-context, after the theme's handlers: the launch and download menus."""
    from .buttons import retarget

    if "header_buttons" not in context or pagename not in app.env.found_docs:
        return
    retarget(context, location_of(app), slug(pagename) if code_page(app, pagename) else None)


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", configure)
    app.connect("html-page-context", page_buttons, priority=900)
    app.connect("build-finished", write_notebooks)
    return {"version": "0.2", "parallel_read_safe": True, "parallel_write_safe": True}
