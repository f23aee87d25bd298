"""Figure variants: each figure a notebook shows, also for the dark theme and for a phone.

``install()`` (called by ``mlpbook.plot.use_book_style()`` in a notebook) makes the notebook's
SVG output of a matplotlib figure carry, besides the light, wide SVG it always showed, the
other variants in the output's metadata::

    {"image/svg+xml": {"mlpbook_variants": {"dark": svg, "narrow": svg, "narrow-dark": svg}}}

- **dark**: the same drawing recoloured for the dark theme (``recolour``): the neutral ink
  ``GREY`` becomes ``GREY_DARK``, text below 4.5:1 and lines below 3:1 against the theme's
  backgrounds are lightened, light tinted boxes become dark tinted ones. The light SVG gets the
  same check the other way (darkened), so both variants pass WCAG AA whatever colour a page used.
- **narrow**: figures wider than ``NARROW_MAX_IN`` are drawn again ``NARROW_IN`` wide, their
  panels stacked one per row (``narrow_figure``): read on a phone at full text size.

The book's Sphinx extension (``tools/sphinxext/figure_variants.py``) writes them as files and
lets the page pick by theme and width. Jupyter and Colab show the light, wide SVG as before.
Text marked ``keep_colour`` (numbers on a heat map's own cells) is never recoloured.
Everything here is deterministic: same figure, same bytes.
"""

from __future__ import annotations

import colorsys
import io
import itertools
import pickle
import re
from typing import Any

from matplotlib.figure import Figure

__all__ = ["install", "recolour", "narrow_figure", "keep_colour", "contrast", "KEY"]

KEY = "mlpbook_variants"
#: The themes' backgrounds a figure may sit on: the page, and the boxes (answers, exercises).
LIGHT_BACKGROUNDS = ("#ffffff", "#f3f4f5")
DARK_BACKGROUNDS = ("#121212", "#14181e", "#29313d")
TEXT_CONTRAST, LINE_CONTRAST = 4.6, 3.1  # WCAG AA (4.5 and 3), with a margin for rounding
#: A figure wider than this (inches) gets a narrow variant, NARROW_IN wide (at 11 pt text,
#: 3.6 in shown in a 280 px column, as in an answer box, keeps the text at 12 px).
NARROW_MAX_IN, NARROW_IN = 4.0, 3.6
_KEEP = "mlpbook-keep"


def contrast(fg: str, bg: str) -> float:
    """WCAG contrast ratio between two ``#rrggbb`` colours."""
    hi, lo = sorted((_lum(fg), _lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _lum(c: str) -> float:
    rgb = [int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(255 * min(max(v, 0.0), 1.0)):02x}" for v in rgb)


def _rgb(c: str) -> tuple[float, float, float]:
    return tuple(int(c[i:i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


def _towards(c: str, target: float, backgrounds: tuple[str, ...], need: float) -> str:
    """``c`` mixed with black (target 0) or white (1) just enough for ``need`` on every bg."""
    rgb = _rgb(c)
    for step in range(0, 101):
        t = step / 100
        mixed = _hex(tuple(v + (target - v) * t for v in rgb))
        if all(contrast(mixed, bg) >= need for bg in backgrounds):
            return mixed
    return _hex((target,) * 3)


_kept_count = itertools.count()


def keep_colour(artist: Any) -> Any:
    """Mark a matplotlib artist (text on its own coloured cell) so ``recolour`` leaves it."""
    artist.set_gid(f"{_KEEP}-{next(_kept_count)}")
    return artist


_TAG = re.compile(r"<(\w+)\b[^>]*>")
_COLOUR = re.compile(r"\b(fill|stroke)(:\s*|=\")(#[0-9a-fA-F]{6})\b")
_KEPT = re.compile(rf'<g id="{_KEEP}-\d+">.*?</g>', re.S)


def recolour(svg: str, theme: str) -> str:
    """Return ``svg`` with every colour readable on ``theme`` ("light" or "dark")."""
    from mlpbook.plot import GREY, GREY_DARK

    if theme not in ("light", "dark"):
        raise ValueError(f"theme must be 'light' or 'dark', got {theme!r}")
    dark = theme == "dark"
    bgs = DARK_BACKGROUNDS if dark else LIGHT_BACKGROUNDS
    kept: list[str] = []

    def stash(m: re.Match) -> str:
        kept.append(m.group(0))
        return f"\0{len(kept) - 1}\0"

    def colour(kind: str, prop: str, c: str) -> str:
        c = c.lower()
        if dark and c == GREY.lower():
            return GREY_DARK
        if dark and c == "#000000" and kind in ("text", "tspan"):
            return "#ebebeb"  # black text (on a light box, itself made dark)
        if prop == "fill" and kind not in ("text", "tspan"):
            h, l, s = colorsys.rgb_to_hls(*_rgb(c))
            if dark and l > 0.75:  # a light tint behind text: the same hue, dark
                return _hex(colorsys.hls_to_rgb(h, 0.2 + (1 - l) * 0.3, s * 0.6))
            return c
        need = TEXT_CONTRAST if kind in ("text", "tspan") else LINE_CONTRAST
        if all(contrast(c, bg) >= need for bg in bgs):
            return c
        return _towards(c, 1.0 if dark else 0.0, bgs, need)

    def tag(m: re.Match) -> str:
        kind = m.group(1)
        if kind in ("image", "svg", "clipPath", "style", "metadata"):
            return m.group(0)
        text = m.group(0)
        if kind == "text" and not re.search(r"\bfill:", text):  # black: matplotlib omits it
            text = (text.replace('style="', 'style="fill: #000000; ', 1) if 'style="' in text
                    else text.replace("<text", '<text style="fill: #000000"', 1))
        return _COLOUR.sub(lambda c: c.group(1) + c.group(2) + colour(kind, c.group(1),
                                                                      c.group(3)), text)

    body = _KEPT.sub(stash, svg)
    body = _TAG.sub(tag, body)
    return re.sub(r"\0(\d+)\0", lambda m: kept[int(m.group(1))], body)


def narrow_figure(fig: Figure) -> Figure | None:
    """A copy of ``fig`` for a phone: ``NARROW_IN`` wide, panels stacked; None if not needed.

    None for a figure already narrow, for computational graphs (they scroll to their output on a
    phone instead: their boxes cannot get narrower) and for a figure that cannot be copied.
    """
    width, height = fig.get_size_inches()
    if width <= NARROW_MAX_IN or any(getattr(a, "_mlpbook_graph", False) for a in fig.axes):
        return None
    try:
        copy = pickle.loads(pickle.dumps(fig))
    except Exception:  # an artist that cannot be pickled (a lambda formatter): no variant
        return None
    panels = [a for a in copy.axes if a.get_subplotspec() is not None
              and not hasattr(a, "_colorbar")]
    grid = panels[0].get_subplotspec().get_gridspec() if panels else None
    rows, cols = grid.get_geometry() if grid is not None else (1, 1)
    if copy.get_layout_engine() is None:
        copy.set_layout_engine("constrained")
    if cols > 1 and len(panels) > 1:
        stacked = copy.add_gridspec(rows * cols, 1)
        for a in panels:
            spec = a.get_subplotspec()
            r, c = divmod(spec.num1, cols)
            a.set_subplotspec(stacked[r * cols + c])
            if len(a.get_shared_y_axes().get_siblings(a)) > 1:  # sharey hid inner labels
                a.tick_params(labelleft=True)
        copy.set_size_inches(NARROW_IN, min(height * 0.95 * cols, 12.0))
    else:
        copy.set_size_inches(NARROW_IN, height * max(0.8, min(1.0, NARROW_IN / width * 1.5)))
    return copy


def _svg(fig: Figure, **kwargs: Any) -> str:
    buf = io.BytesIO()
    fig.canvas.print_figure(buf, format="svg", **kwargs)
    return buf.getvalue().decode("utf-8")


def figure_bundle(fig: Figure, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    """The light, wide SVG of ``fig`` and ``{KEY: {variant: svg}}`` for the other variants."""
    import matplotlib.pyplot as plt

    kwargs = {"bbox_inches": "tight", "metadata": {"Date": None}, **kwargs}
    kwargs.pop("base64", None)
    wide = _svg(fig, **kwargs)
    variants: dict[str, Any] = {"dark": recolour(wide, "dark")}
    if any(getattr(a, "_mlpbook_graph", False) for a in fig.axes):
        variants["graph"] = True  # the page scrolls it to its output on a phone
    narrow = narrow_figure(fig)
    if narrow is not None:
        try:
            svg = _svg(narrow, **kwargs)
        finally:
            plt.close(narrow)
        variants["narrow"] = recolour(svg, "light")
        variants["narrow-dark"] = recolour(svg, "dark")
    return recolour(wide, "light"), {KEY: variants}


def install() -> bool:
    """Show this notebook's figures as deterministic SVG (no date, fixed ids) with variants.

    SVG is sharp at any zoom, with real text whose size the browser tests measure. Returns
    False (and changes nothing) outside IPython.
    """
    try:
        import matplotlib.pyplot as plt
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import InlineBackend
    except ImportError:  # plain Python: nothing is displayed inline
        return False
    shell = get_ipython()
    if shell is None:
        return False
    plt.get_backend()  # activates the inline backend now, so it does not reset formats later
    config = InlineBackend.instance()
    config.print_figure_kwargs = {**config.print_figure_kwargs, "metadata": {"Date": None}}
    config.figure_formats = {"svg"}
    kwargs = dict(config.print_figure_kwargs)
    formatter = shell.display_formatter.formatters["image/svg+xml"]
    formatter.for_type(Figure, lambda fig: figure_bundle(fig, **kwargs))
    return True
