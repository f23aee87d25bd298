"""Local Sphinx extension: pages that load fast on a phone (docs/performance.md).

- **No icon script.** The theme's ``fontawesome.js`` is not loaded (``templates/static/
  webpack-macros.html``); every Font Awesome ``<i>`` of the written pages becomes an inline SVG
  (``icons.py``), styled by ``static/icons.css``.
- **No unused icon CSS.** The theme stylesheet's Font Awesome icon classes are dropped and its
  icon fonts subset to the glyphs its own rules draw (``theme_css.py``).
- **No search index on every page.** ``templates/layout.html`` loads Sphinx's search scripts
  only where search-as-you-type needs them; search.html loads its own.
- **Only the sections near the screen laid out.** custom.css skips the layout of the article's
  sections off screen (``content-visibility: auto``); reader.js and figures.js measure boxes only
  near the screen, and the theme's own tab-stop pass, which measured every box, returns at once
  (``theme_js.py``).
- **Nothing render-blocking that can wait.** Every script file Sphinx and the extensions add to
  ``<head>`` is deferred (they run in order, after the page is parsed, before DOMContentLoaded)
  except ``documentation_options.js``, which the inline scripts after it read at once.
- **No stylesheet waits for another.** The theme's ``styles/theme.css`` holds Sphinx's
  basic.css instead of @import-ing it (``theme_css.inline_basic_css``), so every stylesheet
  of a page is asked for at once; pages with maths preload KaTeX's main fonts (katex_math).
- **Few requests before the first paint.** Stylesheets that stand next to each other on the
  same pages are joined into one file (``bundle_css.py``): four requests instead of twelve on a
  page with maths and exercises.
- **Each page only the stylesheets and scripts it uses**: sphinx-design's only on pages with
  sphinx-design components, sphinx-exercise's only on pages with exercises, and none of
  sphinx-thebe's (launch_buttons.thebe is off, so no page can start Thebe).
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent

#: Scripts that stay blocking: the inline scripts after them use what they define at once.
KEEP_BLOCKING = ("documentation_options.js",)
#: Asset file name -> what the page's body must contain for the asset to be linked.
ONLY_IF = {"sphinx-design.min.css": 'class="sd-', "design-tabs.js": 'class="sd-tab',
           "exercise.css": "exercise", "sphinx-thebe.css": "thebe-launch-button",
           "sphinx-thebe.js": "thebe-launch-button"}
THEBE_INLINE = "THEBE_JS_URL"


def _name(asset) -> str:
    return (getattr(asset, "filename", asset) or "").rsplit("/", 1)[-1].split("?")[0]


def lean_assets(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Defer the page's scripts; drop the stylesheets and scripts it has no use for."""
    body = context.get("body", "")
    defer = pagename != "search"  # search.html's own searchtools.js needs doctools.js first
    for key in ("script_files", "css_files"):
        assets = context.get(key)
        if not assets:
            continue
        kept = []
        for asset in assets:
            name = _name(asset)
            if name in ONLY_IF and ONLY_IF[name] not in body:
                continue
            attrs = getattr(asset, "attributes", {})
            if (key == "script_files" and THEBE_INLINE in attrs.get("body", "")
                    and ONLY_IF["sphinx-thebe.js"] not in body):
                continue
            if (defer and key == "script_files" and name and name not in KEEP_BLOCKING
                    and "async" not in attrs and "defer" not in attrs
                    and attrs.get("type", "text/javascript") == "text/javascript"):
                asset = type(asset)(asset.filename, priority=asset.priority,
                                    **{**attrs, "defer": "defer"})
            kept.append(asset)
        context[key] = kept


def inline_icons(app: Sphinx, exception: Exception | None) -> None:
    """Replace the Font Awesome ``<i>`` of every page of the site with inline SVG; drop the
    theme stylesheet's icon classes and subset its icon fonts (theme_css.py)."""
    if exception is not None or app.builder.format != "html":
        return
    import bundle_css  # beside this file
    import icons
    import theme_css
    import theme_js

    preview = getattr(app, "mlpbook_written", None)  # make preview: the pages just written
    css = Path(app.outdir) / theme_css.CSS
    before = css.read_text(encoding="utf-8") if css.is_file() else None
    lean = getattr(app, "mlpbook_lean_css", None)  # (theme's stylesheet, its lean version)
    if preview is not None and lean is not None and before == lean[0]:
        # Sphinx copied the theme's stylesheet over the lean one again: the same lean text,
        # without subsetting its fonts again (the subsets from the last time are in place)
        css.write_text(lean[1], encoding="utf-8")
    else:
        theme_css.lean_theme_css(Path(app.outdir), icons.theme_static())
        if preview is not None and before is not None:
            app.mlpbook_lean_css = (before, css.read_text(encoding="utf-8"))
    theme_css.inline_basic_css(Path(app.outdir))  # idempotent; Sphinx copies it again too
    try:  # cheap, and idempotent: Sphinx copies the theme's script again on every build
        theme_js.drop_tab_stop_pass(Path(app.outdir))
    except theme_js.ThemeChanged as exc:
        logger.warning("%s", exc, type="lean_pages")

    for page in sorted(Path(app.outdir).rglob("*.html")):
        if preview is not None and page.relative_to(app.outdir).with_suffix("").as_posix() not in preview:
            continue
        text = page.read_text(encoding="utf-8")
        if "fa-" not in text:
            continue
        try:
            new = icons.inline_icons(text)
        except icons.UnknownIcon as exc:
            logger.warning("%s: %s", page.relative_to(app.outdir), exc, type="lean_pages")
            continue
        if new != text:
            page.write_text(new, encoding="utf-8")
    try:
        bundle_css.bundle_site(Path(app.outdir))
    except bundle_css.MissingBundle as exc:
        logger.warning("%s", exc, type="lean_pages")


def add_paths(app: Sphinx, config) -> None:
    config.templates_path = [str(HERE / "templates"), *config.templates_path]
    config.html_static_path = [*config.html_static_path, str(HERE / "static")]


def setup(app: Sphinx) -> dict:
    import sys

    sys.path.insert(0, str(HERE))
    app.connect("config-inited", add_paths)
    app.add_css_file("icons.css", priority=450)
    app.connect("html-page-context", lean_assets, priority=900)
    app.connect("build-finished", inline_icons, priority=900)  # after the others wrote their files
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
