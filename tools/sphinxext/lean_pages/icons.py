"""The theme's Font Awesome icons as inline SVG: no icon script, no icon font.

pydata-sphinx-theme draws its icons with ``<i class="fa-solid fa-bars"></i>`` and loads
``fontawesome.js`` (529 KB gzip), which replaces each with an ``<svg>`` after the page has
loaded. Here every such ``<i>`` in the written pages becomes that ``<svg>`` at build time. The
outline comes from the theme's own Font Awesome fonts (the style's font: solid, regular or
brands) and the codepoint from the theme's stylesheet (``.fa-bars:before{content:"\\f0c9"}``),
so whatever icon a template or a configuration (``icon_links``) uses is found, and an unknown
one fails the build.
"""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path

FONTS = {"fa-solid": "fa-solid-900.ttf", "fas": "fa-solid-900.ttf",
         "fa-regular": "fa-regular-400.ttf", "far": "fa-regular-400.ttf",
         "fa-brands": "fa-brands-400.ttf", "fab": "fa-brands-400.ttf"}
#: Classes that style an icon rather than name it.
MODIFIERS = {"fa-lg", "fa-sm", "fa-xs", "fa-2xs", "fa-xl", "fa-2xl", "fa-fw", "fa-spin",
             "fa-pulse", "fa-border", "fa-inverse", "fa-li", "fa-ul", "fa-flip",
             *(f"fa-{n}x" for n in range(1, 11)), *FONTS}
ICON_TAG = re.compile(r'<i\s([^>]*\bclass="[^"]*\bfa[a-z-]*[^"]*"[^>]*)>\s*</i>')
ATTR = re.compile(r'([\w:-]+)="([^"]*)"')
_CONTENT = re.compile(r'([^{}]+)\{content:"\\([0-9a-f]{4,5})"\}')


class UnknownIcon(ValueError):
    pass


def theme_static() -> Path:
    import pydata_sphinx_theme

    return Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"


@functools.cache
def codepoints() -> dict[str, int]:
    """Icon class -> codepoint, read from the theme's stylesheet."""
    css = (theme_static() / "styles" / "pydata-sphinx-theme.css").read_text(encoding="utf-8")
    found: dict[str, int] = {}
    for selectors, hexcode in _CONTENT.findall(css):
        for sel in selectors.split(","):
            m = re.fullmatch(r"\s*\.(fa-[a-z0-9-]+)::?before\s*", sel)
            if m:
                found.setdefault(m.group(1), int(hexcode, 16))
    return found


@functools.cache
def outline(font: str, codepoint: int) -> tuple[int, str]:
    """(advance width, SVG path) of a glyph, in Font Awesome's 512-unit viewBox."""
    from fontTools.pens.svgPathPen import SVGPathPen
    from fontTools.pens.transformPen import TransformPen
    from fontTools.ttLib import TTFont

    ttf = TTFont(theme_static() / "vendor" / "fontawesome" / "webfonts" / font)
    name = ttf.getBestCmap().get(codepoint)
    if name is None:
        raise UnknownIcon(f"U+{codepoint:04X} is not in {font}")
    glyphs = ttf.getGlyphSet()
    pen = SVGPathPen(glyphs, ntos=lambda v: f"{v:g}")
    glyphs[name].draw(TransformPen(pen, (1, 0, 0, -1, 0, 448)))  # font y-up -> SVG y-down
    return ttf["hmtx"][name][0], pen.getCommands()


def svg_for(attrs: str) -> str:
    """The inline ``<svg>`` for the attributes of one ``<i class="fa-...">``."""
    values = dict(ATTR.findall(attrs))
    classes = values.pop("class").split()
    font = next((FONTS[c] for c in classes if c in FONTS), "fa-solid-900.ttf")
    names = [c for c in classes if c.startswith("fa-") and c not in MODIFIERS]
    known = [c for c in names if c in codepoints()]
    if not known:
        raise UnknownIcon(f"no Font Awesome icon among the classes {classes}")
    width, path = outline(font, codepoints()[known[0]])
    title = values.pop("title", None)
    extra = "".join(f' {k}="{html.escape(v)}"' for k, v in values.items())
    inner = f"<title>{html.escape(title)}</title>" if title else ""
    return (f'<svg class="{" ".join(classes)} svg-inline--fa"{extra} aria-hidden="true" '
            f'focusable="false" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 512">'
            f'{inner}<path fill="currentColor" d="{path}"/></svg>')


def inline_icons(text: str) -> str:
    """``text`` (a page) with every Font Awesome ``<i>`` replaced by its inline SVG."""
    return ICON_TAG.sub(lambda m: svg_for(html.unescape(m.group(1))) if "fa-" in m.group(1)
                        else m.group(0), text)
