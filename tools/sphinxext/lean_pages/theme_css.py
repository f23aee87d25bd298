"""pydata-sphinx-theme's stylesheet without the icon set it no longer needs.

The stylesheet carries Font Awesome's ~1,900 icon-class rules (``.fa-bars:before{content:...}``,
20 KB of its 65 KB gzip), for icons that are now inline SVG (icons.py), and links the full icon
fonts (150 KB and 115 KB) for the ~16 glyphs the theme itself draws from CSS (admonition titles,
external links, breadcrumbs, links to GitHub). In the written site, the icon-class rules are
dropped and each Font Awesome font is subset to the glyphs the remaining rules use (fontTools,
WOFF). Runs on the built site at the end of every build; idempotent.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

try:  # imported beside bundle_css by the extension, or as sphinxext.lean_pages.theme_css
    from bundle_css import rebase_urls
except ImportError:
    from .bundle_css import rebase_urls

MARK = "/* lean_pages: Font Awesome icon classes dropped, its fonts subset (docs/performance.md) */\n"
CSS = Path("_static") / "styles" / "pydata-sphinx-theme.css"
ICON_RULE = re.compile(r'(?<=\})(?:\.fa-[a-z0-9-]+::?before,?)+\{content:"[^"]*"\}')
FONT_SRC = re.compile(r'src:url\(\.\./vendor/fontawesome/webfonts/([a-z0-9-]+)\.woff2\) '
                      r'format\("woff2"\),url\([^)]*\) format\("truetype"\)')
ESCAPE = re.compile(r'\\([0-9a-fA-F]{4,5})')


def used_codepoints(css: str) -> set[int]:
    """The private-use codepoints (Font Awesome glyphs) the stylesheet still draws."""
    found = {ord(ch) for ch in css if 0xE000 <= ord(ch) <= 0xF8FF}
    found |= {int(h, 16) for h in ESCAPE.findall(css) if 0xE000 <= int(h, 16) <= 0xF8FF}
    return found


def subset(ttf: Path, out: Path, codepoints: set[int]) -> None:
    from fontTools import subset as ft

    logging.getLogger("fontTools").setLevel(logging.ERROR)
    options = ft.Options()
    options.flavor = "woff"
    options.hinting = False
    options.recalc_timestamp = False
    options.notdef_outline = True
    font = ft.load_font(str(ttf), options)
    subsetter = ft.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    ft.save_font(font, str(out), options)


def lean_theme_css(outdir: Path, theme_static: Path) -> None:
    path = outdir / CSS
    if not path.is_file():
        return
    css = path.read_text(encoding="utf-8")
    if MARK in css[:200]:
        return
    css = ICON_RULE.sub("", css)
    codepoints = used_codepoints(css)
    webfonts = outdir / "_static" / "vendor" / "fontawesome" / "webfonts"
    webfonts.mkdir(parents=True, exist_ok=True)

    def to_subset(m: re.Match) -> str:
        name = m.group(1)
        subset(theme_static / "vendor" / "fontawesome" / "webfonts" / f"{name}.ttf",
               webfonts / f"{name}.subset.woff", codepoints)
        return f'src:url(../vendor/fontawesome/webfonts/{name}.subset.woff) format("woff")'

    css = FONT_SRC.sub(to_subset, css)
    charset = '@charset "UTF-8";\n'  # must stay the first line
    body = css[len(charset):] if css.startswith(charset) else css
    path.write_text((charset if css.startswith(charset) else "") + MARK + body, encoding="utf-8")


THEME_CSS = Path("_static") / "styles" / "theme.css"
BASIC_CSS = Path("_static") / "basic.css"
IMPORT_BASIC = '@import "../basic.css";'


def inline_basic_css(outdir: Path) -> bool:
    """The theme's first stylesheet (``styles/theme.css``) holds Sphinx's basic.css instead of
    @import-ing it, so that a page's stylesheets are all asked for at once: an @import is asked
    for only once the stylesheet that names it has arrived (a round trip more before the first
    paint on a phone). Its relative URLs are rebased to ``styles/``. Idempotent; whether it
    inlined."""
    theme = outdir / THEME_CSS
    text = theme.read_text(encoding="utf-8") if theme.is_file() else ""
    if IMPORT_BASIC not in text:
        return False
    basic = (outdir / BASIC_CSS).read_text(encoding="utf-8")
    theme.write_text(text.replace(IMPORT_BASIC, rebase_urls(basic, "_static", "_static/styles")),
                     encoding="utf-8")
    return True
