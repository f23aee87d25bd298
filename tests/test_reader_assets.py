"""The figure style and the page assets a reader's browser gets (issue 18), without a browser.

- ``mlpbook.plot.use_book_style()``: figures shown inline as SVG, byte-for-byte deterministic,
  with every text at >= 11 pt.
- No overlapping labels in the helpers' figures: every pair of texts (tick labels, axis labels,
  titles, legend entries, colour-bar ticks, heat-map numbers) drawn apart, the class legend below
  the x label, and every label of a computational graph inside its own box.
- The ✅/❌ font: the committed ``book/_static/marks.woff`` is what ``tools/marks_font.py``
  writes, maps exactly those two characters, and has colour layers.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from conftest import ROOT  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from mlpbook import plot  # noqa: E402
from mlpbook.data import two_moons  # noqa: E402
from mlpbook.engine import Value  # noqa: E402
from mlpbook.graph import draw_graph, trace_value  # noqa: E402
from mlpbook.models import make_mlp  # noqa: E402

sys.path.insert(0, str(ROOT / "tools"))


def _texts(fig) -> list[Text]:
    """Every text a drawn figure shows (tick labels only for ticks inside the axis limits)."""
    fig.canvas.draw()
    shown = lambda t: t.get_visible() and t.get_text().strip()  # noqa: E731
    texts = [t for t in fig.texts if shown(t)]
    if fig._suptitle is not None and shown(fig._suptitle):
        texts.append(fig._suptitle)
    for ax in fig.axes:
        texts += [t for t in (ax.title, ax._left_title, ax._right_title, ax.xaxis.label,
                              ax.yaxis.label, *ax.texts) if shown(t)]
        if ax.get_legend() is not None:
            texts += [t for t in ax.get_legend().get_texts() if shown(t)]
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if lo - 1e-9 <= tick.get_loc() <= hi + 1e-9:
                    texts += [t for t in (tick.label1, tick.label2) if shown(t)]
    return texts


def _overlaps(fig) -> list[str]:
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _texts(fig)]
    bad = []
    for (ta, a), (tb, b) in itertools.combinations(boxes, 2):
        # a strict overlap of more than half a point in both directions
        if min(a.x1, b.x1) - max(a.x0, b.x0) > 0.7 and min(a.y1, b.y1) - max(a.y0, b.y0) > 0.7:
            bad.append(f"{ta!r} overlaps {tb!r}")
    return bad


@pytest.fixture(autouse=True)
def _book_style():
    with matplotlib.rc_context():
        plot.use_book_style()
        yield
    plt.close("all")


def _moons_model():
    X, y = two_moons(120, seed=0)
    return make_mlp(2, [8], 1, seed=0), X, y


def test_decision_boundaries_side_by_side_have_no_overlapping_labels() -> None:
    """Practice Fig. 3's layout: two boundaries with colour bars; the legend below x1."""
    model, X, y = _moons_model()
    fig, (a, b) = plt.subplots(1, 2, figsize=(6.4, 2.6), layout="constrained")
    plot.plot_decision_boundary(model, X, y, ax=a, resolution=30, title="no activation")
    plot.plot_decision_boundary(model, X, y, ax=b, resolution=30, title="ReLU")
    assert not _overlaps(fig)
    renderer = fig.canvas.get_renderer()
    for ax in (a, b):
        label = ax.xaxis.label.get_window_extent(renderer)
        legend = ax.get_legend().get_window_extent(renderer)
        assert legend.y1 <= label.y0, "the class legend must sit below the x label"


@pytest.mark.parametrize("log", [True, False])
def test_capacity_grid_has_no_overlapping_labels(log: bool) -> None:
    results = {(w, d): (0.012 * w ** 0.5 * d, 0.1 + 0.05 * d) for w in (1, 4, 32, 256)
               for d in (1, 2, 3)}
    fig = plot.plot_capacity_grid(results, log=log)
    assert not _overlaps(fig)
    cbar = fig.axes[-1]
    labels = [t.get_text() for t in cbar.get_yticklabels() if t.get_text()]
    assert len(labels) >= 2 and all("times" not in s and "^" not in s for s in labels), labels


@pytest.mark.parametrize("make", ["activations", "loss"])
def test_line_plots_have_no_overlapping_labels(make: str) -> None:
    if make == "activations":
        fig = plot.plot_activations()
    else:
        from mlpbook.train import History

        h = History(train_loss=list(np.linspace(1, 0.1, 30)), val_loss=list(np.linspace(1, 0.2, 30)))
        fig = plot.plot_loss_curves({"wide": h, "deep": h}).figure
    assert not _overlaps(fig)


def _graph():
    a, b, c, f = (Value(v, label=n) for v, n in ((2.0, "a"), (-1.5, "b"), (3.5, "c"), (-2.0, "f")))
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    t = d.tanh()
    t.label = "t"
    L = t * f
    L.label = "L"
    L.backward()
    return trace_value(L)


@pytest.mark.parametrize("given_ax", [False, True])
def test_graph_labels_sit_inside_their_boxes(given_ax: bool) -> None:
    """Every node's text inside its box, on its own figure and in a page's (smaller) Axes."""
    from matplotlib.patches import FancyBboxPatch

    if given_ax:
        fig, axes = plt.subplots(2, 1, figsize=(8.0, 4.0))
        ax = draw_graph(_graph(), ax=axes[0], title="our engine")
    else:
        ax = draw_graph(_graph())
        fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [p.get_window_extent(renderer) for p in ax.patches if isinstance(p, FancyBboxPatch)]
    texts = [t for t in ax.texts]
    assert len(boxes) == len(texts) == 8
    for t, box in zip(texts, boxes):
        e = t.get_window_extent(renderer)
        assert box.x0 <= e.x0 and e.x1 <= box.x1 and box.y0 <= e.y0 and e.y1 <= box.y1, (
            f"{t.get_text()!r} sticks out of its box")
    assert not _overlaps(fig)


def test_graph_is_no_wider_than_its_text_needs() -> None:
    """A 5-column graph is ~50 em wide (12 pt text): shown in a 672 px column, its text stays
    >= 0.8x a 16 px body text."""
    fig = draw_graph(_graph()).figure
    width_px = fig.get_size_inches()[0] * 96  # as an SVG: 1 in = 96 CSS px
    text_px = 12 * 96 / 72 * min(1.0, 672 / width_px)
    assert text_px >= 0.8 * 16, f"graph {width_px:.0f} px wide: text {text_px:.1f} px in 672 px"


def test_every_text_is_at_least_the_book_size() -> None:
    model, X, y = _moons_model()
    fig, ax = plt.subplots(layout="constrained")
    plot.plot_decision_boundary(model, X, y, ax=ax, resolution=20, title="t")
    sizes = {round(t.get_fontsize(), 1) for t in _texts(fig) if "$_" not in t.get_text()}
    assert min(sizes) >= plot.FONT_SIZE, sizes


def test_inline_figures_are_deterministic_svg() -> None:
    """In IPython the book style shows figures as SVG, the same bytes on every run."""
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib_inline.backend_inline import InlineBackend

    from IPython.core.pylabtools import select_figure_formats

    shell = InteractiveShell.instance()
    try:
        plot.use_book_style()
        config = InlineBackend.instance()
        assert config.figure_formats == {"svg"}
        # what the kernel's inline backend does with the configuration when it starts
        select_figure_formats(shell, config.figure_formats, **config.print_figure_kwargs)
        formatter = shell.display_formatter.formatters["image/svg+xml"]
        outputs = []
        for _ in range(2):
            fig, ax = plt.subplots()
            ax.plot([0, 1], [1, 0])
            outputs.append(formatter(fig))
            plt.close(fig)
        assert outputs[0] and outputs[0] == outputs[1]
        assert "<dc:date>" not in outputs[0] and "font-size: 11px" in outputs[0]
    finally:
        InteractiveShell.clear_instance()


def test_marks_font_is_reproducible_and_maps_the_marks() -> None:
    import marks_font
    from fontTools.ttLib import TTFont

    committed = ROOT / "book" / "_static" / "marks.woff"
    assert committed.read_bytes() == marks_font.build(), (
        "book/_static/marks.woff differs from what tools/marks_font.py writes: run it")
    font = TTFont(committed)
    assert set(font.getBestCmap()) == {0x20, 0x2705, 0x274C}
    layers = font["COLR"].ColorLayers
    assert set(layers) == {"check", "cross"}
    assert len(font["CPAL"].palettes[0]) == 3
    css = (ROOT / "book" / "_static" / "custom.css").read_text(encoding="utf-8")
    assert 'url("marks.woff")' in css and "unicode-range: U+2705, U+274C" in css
