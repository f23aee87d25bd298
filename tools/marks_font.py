"""Write book/_static/marks.woff: the self-check marks ✅ and ❌ as a tiny colour font.

The lab's self-checks print ✅ / ❌ (mlpbook.checks). Where no emoji font is installed (many Linux
desktops, some e-readers) those characters render as empty boxes. custom.css puts this font
first in the page's font stacks with ``unicode-range: U+2705, U+274C``, so the browser uses it for
exactly these two characters, everywhere (prose, code, outputs), and fetches it only on pages that
contain them. The glyphs are COLRv0 layers (green rounded square with a white tick; a vermillion
cross), so they read on the light and the dark theme; a browser without colour-font support draws
the base glyph instead, a box with a tick-shaped hole and a cross, in the text colour.

The font is committed; run ``python tools/marks_font.py`` to regenerate it (deterministic: the
same bytes each time). tests/test_reader_assets.py checks that the committed file is what this writes.
"""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib.tables import otTables  # noqa: F401  (registers the COLR/CPAL builders)
from fontTools.colorLib.builder import buildCOLR, buildCPAL

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "book" / "_static" / "marks.woff"
FAMILY = "mlpbook-marks"
UPM = 1000
ADVANCE = 1100          # a little wider than 1 em, like an emoji
ASCENT, DESCENT = 900, -200
#: Okabe-Ito bluish green, darkened to 3.4:1 on white and 4.6:1 on #121212 (WCAG 1.4.11 >= 3:1);
#: white tick; Okabe-Ito vermillion (3.8:1 on white, 4.6:1 on #121212).
GREEN, WHITE, VERMILLION = "#00855F", "#FFFFFF", "#D55E00"
CHARS = {0x2705: "check", 0x274C: "cross"}


def _hex_rgba(colour: str) -> tuple[float, float, float, float]:
    return tuple(int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)) + (1.0,)  # type: ignore[return-value]


def _rounded_square(pen, x0: float, y0: float, x1: float, y1: float, r: float, clockwise: bool) -> None:
    """A rounded rectangle as a polygon (corners approximated by 6 segments each)."""
    corners = [(x1 - r, y1 - r, 0), (x0 + r, y1 - r, 90), (x0 + r, y0 + r, 180), (x1 - r, y0 + r, 270)]
    points = []
    for cx, cy, start in corners:
        for k in range(7):
            a = math.radians(start + 15 * k)
            points.append((round(cx + r * math.cos(a)), round(cy + r * math.sin(a))))
    if clockwise:  # TrueType: clockwise = filled outer contour
        points.reverse()
    pen.moveTo(points[0])
    for p in points[1:]:
        pen.lineTo(p)
    pen.closePath()


def _polygon(pen, points: list[tuple[float, float]], clockwise: bool) -> None:
    pts = [(round(x), round(y)) for x, y in points]
    area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]))
    if (area < 0) != clockwise:  # negative signed area = clockwise
        pts.reverse()
    pen.moveTo(pts[0])
    for p in pts[1:]:
        pen.lineTo(p)
    pen.closePath()


def _thick_polyline(points: list[tuple[float, float]], width: float) -> list[tuple[float, float]]:
    """Outline of a polyline of two segments (a tick) with a mitred inner joint."""
    (ax, ay), (bx, by), (cx, cy) = points
    def normal(x0, y0, x1, y1):
        d = math.hypot(x1 - x0, y1 - y0)
        return (-(y1 - y0) / d * width / 2, (x1 - x0) / d * width / 2)
    n1, n2 = normal(ax, ay, bx, by), normal(bx, by, cx, cy)
    # joint: average of the two offsets, scaled to keep the stroke width (miter)
    mx, my = (n1[0] + n2[0]) / 2, (n1[1] + n2[1]) / 2
    scale = (width / 2) ** 2 / (mx * mx + my * my)
    jx, jy = mx * scale, my * scale
    return [(ax + n1[0], ay + n1[1]), (bx + jx, by + jy), (cx + n2[0], cy + n2[1]),
            (cx - n2[0], cy - n2[1]), (bx - jx, by - jy), (ax - n1[0], ay - n1[1])]


def _cross(cx: float, cy: float, half: float, width: float) -> list[tuple[float, float]]:
    """Outline of an X (two crossing bars) as one 12-point polygon."""
    w = width / math.sqrt(2)  # offset along the axes for a bar of this width at 45 degrees
    return [(cx, cy + w), (cx + half - w, cy + half), (cx + half, cy + half - w), (cx + w, cy),
            (cx + half, cy - half + w), (cx + half - w, cy - half), (cx, cy - w),
            (cx - half + w, cy - half), (cx - half, cy - half + w), (cx - w, cy),
            (cx - half, cy + half - w), (cx - half + w, cy + half)]


def build() -> bytes:
    """The font file's bytes (WOFF, zlib)."""
    box = (80, -90, 1020, 850)  # x0, y0, x1, y1: sits on the baseline like a capital plus descent
    tick = [(290, 390), (480, 190), (830, 590)]
    glyphs = {}

    def draw(fn):
        pen = TTGlyphPen(None)
        fn(pen)
        return pen.glyph()

    glyphs[".notdef"] = draw(lambda p: _polygon(p, [(100, 0), (100, 700), (600, 700), (600, 0)], True))
    glyphs["space"] = draw(lambda p: None)
    glyphs["check.box"] = draw(lambda p: _rounded_square(p, *box, 170, True))
    glyphs["check.tick"] = draw(lambda p: _polygon(p, _thick_polyline(tick, 130), True))
    glyphs["cross.x"] = draw(lambda p: _polygon(p, _cross(550, 380, 400, 170), True))

    def check_mono(p):  # box with a tick-shaped hole: the fallback without colour support
        _rounded_square(p, *box, 170, True)
        _polygon(p, _thick_polyline(tick, 130), False)
    glyphs["check"] = draw(check_mono)
    glyphs["cross"] = draw(lambda p: _polygon(p, _cross(550, 380, 400, 170), True))

    order = list(glyphs)
    fb = FontBuilder(UPM, isTTF=True)
    fb.setupGlyphOrder(order)
    fb.setupCharacterMap({0x20: "space", **CHARS})
    fb.setupGlyf(glyphs)
    glyf = fb.font["glyf"]
    metrics = {name: (700 if name == ".notdef" else ADVANCE // 2 if name == "space" else ADVANCE,
                      getattr(glyf[name], "xMin", 0)) for name in order}
    fb.setupHorizontalMetrics(metrics)
    fb.setupHorizontalHeader(ascent=ASCENT, descent=DESCENT)
    fb.setupNameTable({"familyName": FAMILY, "styleName": "Regular",
                       "uniqueFontIdentifier": f"{FAMILY} 1.0",
                       "version": "Version 1.000",
                       "licenseDescription": "Part of this book; same licence as the book."})
    fb.setupOS2(sTypoAscender=ASCENT, sTypoDescender=DESCENT, usWinAscent=ASCENT,
                usWinDescent=-DESCENT, achVendID="NONE")
    fb.setupPost()
    fb.setupHead(unitsPerEm=UPM, created=0, modified=0)  # fixed dates: reproducible bytes
    fb.font["COLR"] = buildCOLR({"check": [("check.box", 0), ("check.tick", 1)],
                                 "cross": [("cross.x", 2)]}, version=0)
    fb.font["CPAL"] = buildCPAL([[_hex_rgba(GREEN), _hex_rgba(WHITE), _hex_rgba(VERMILLION)]])
    fb.font.flavor = "woff"
    buf = io.BytesIO()
    fb.font.save(buf, reorderTables=True)
    return buf.getvalue()


def main() -> int:
    data = build()
    OUT.write_bytes(data)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
