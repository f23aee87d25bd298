"""KaTeX's fonts, subset to the characters the site shows (fontTools; WOFF, no brotli needed).

The characters are those KaTeX's HTML draws in every page of the built site (read from the
written pages, not from this build's formulas, so a partial rebuild never drops a glyph another
page needs). Each KaTeX font keeps only those of its glyphs, a few KB instead of 5-30 KB.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

_TAG = re.compile(r"<[^>]+>")
_DRAWN = '<span class="katex-html" aria-hidden="true">'
_SPAN = re.compile(r"<span\b|</span>")
_SRC = re.compile(r'src:url\(fonts/(KaTeX_[A-Za-z0-9_-]+)\.woff2\)[^;}]*')


def woff_only(css: str) -> str:
    """katex.min.css with each @font-face pointing at our subset WOFF file only."""
    return _SRC.sub(lambda m: f'src:url(fonts/{m.group(1)}.woff) format("woff")', css)


def drawn_chars(page: str) -> set[str]:
    """The characters inside the ``katex-html`` spans of one page (what the fonts draw)."""
    chars: set[str] = set()
    start = page.find(_DRAWN)
    while start >= 0:
        depth, end = 0, len(page)
        for m in _SPAN.finditer(page, start):
            depth += 1 if m.group(0) == "<span" else -1
            if depth == 0:
                end = m.end()
                break
        chars.update(html.unescape(_TAG.sub("", page[start:end])))
        start = page.find(_DRAWN, end)
    return chars


def site_chars(outdir: Path) -> set[str]:
    """What the formulas of every HTML page of the site draw."""
    chars: set[str] = set()
    for page in outdir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if _DRAWN in text:
            chars |= drawn_chars(text)
    return chars


def subset_fonts(src: Path, dest: Path, outdir: Path) -> None:
    """Write dest/<font>.woff for each src/<font>.ttf, holding the glyphs of the site's characters
    (deterministic bytes: an unchanged site gives unchanged fonts)."""
    import logging

    from fontTools import subset

    logging.getLogger("fontTools").setLevel(logging.ERROR)  # KaTeX's fonts carry 1970 timestamps
    text = "".join(sorted(site_chars(outdir) | set(" ")))
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False  # phones ignore TrueType hinting; a fifth of the bytes
    options.recalc_timestamp = False
    for ttf in sorted(src.glob("KaTeX_*.ttf")):
        font = subset.load_font(str(ttf), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=text)
        subsetter.subset(font)
        out = dest / f"{ttf.stem}.woff"
        tmp = out.with_suffix(".tmp")
        subset.save_font(font, str(tmp), options)
        if not out.exists() or out.read_bytes() != tmp.read_bytes():
            tmp.replace(out)
        else:
            tmp.unlink()
