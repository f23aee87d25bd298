"""Plot helpers return Axes/Figures under Agg, never show, and use a colour-blind-safe palette."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mlpbook import figvariants, plot  # noqa: E402
from mlpbook.activations import ACTIVATIONS  # noqa: E402
from mlpbook.data import sine, two_moons  # noqa: E402
from mlpbook.models import MLP  # noqa: E402
from mlpbook.train import History  # noqa: E402


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    """Fail if any helper calls plt.show(); close figures afterwards."""
    def boom(*args, **kwargs):
        raise AssertionError("plot helpers must never call plt.show()")
    monkeypatch.setattr(plt, "show", boom)
    yield
    plt.close("all")


def test_palette_is_okabe_ito_and_legible_on_both_themes() -> None:
    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
    assert set(plot.PALETTE) <= okabe_ito and len(plot.PALETTE) == 7
    for colour in plot.PALETTE[:4]:
        assert plot._contrast(colour, "#FFFFFF") >= 3.0
        assert plot._contrast(colour, "#121212") >= 3.0
    # Text: GREY on the light theme, GREY_DARK in the dark variant, >= 4.5:1 (WCAG AA)
    for bg in figvariants.LIGHT_BACKGROUNDS:
        assert plot._contrast(plot.GREY, bg) >= 4.5
    for bg in figvariants.DARK_BACKGROUNDS:
        assert plot._contrast(plot.GREY_DARK, bg) >= 4.5


def test_use_book_style_sets_transparent_grey() -> None:
    with matplotlib.rc_context():
        plot.use_book_style()
        assert matplotlib.rcParams["figure.facecolor"] == "none"
        assert matplotlib.rcParams["text.color"] == plot.GREY


def _labels(ax: Axes) -> list[str]:
    return [line.get_label() for line in ax.lines if not line.get_label().startswith("_")]


def test_plot_activations_returns_two_panel_figure() -> None:
    fig = plot.plot_activations()
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert _labels(fig.axes[0]) == [a.label for n, a in ACTIVATIONS.items() if n != "identity"]
    assert {"ReLU", "sigmoid", "tanh", "GELU"} <= set(_labels(fig.axes[0]))
    assert fig.get_facecolor()[3] == 0.0  # transparent background
    relu_grad = fig.axes[1].lines[0].get_ydata()
    assert np.isnan(relu_grad).sum() == 1  # the line breaks once, at ReLU's kink


def test_plot_activations_draws_every_registered_activation() -> None:
    fig = plot.plot_activations(names=list(ACTIVATIONS))
    for ax in fig.axes:
        assert _labels(ax) == [a.label for a in ACTIVATIONS.values()]
    for bad, exc in [(["relu", "gelu-not-registered"], ValueError), ([], ValueError),
                     ("relu", TypeError)]:
        with pytest.raises(exc, match="names"):
            plot.plot_activations(names=bad)


def test_plot_activations_on_the_axes_plt_subplots_gives() -> None:
    """``fig, axes = plt.subplots(1, 2)`` (an array of Axes) is the ordinary way to pass two."""
    for shape in [(1, 2), (2, 1)]:
        fig, axes = plt.subplots(*shape)
        assert plot.plot_activations(ax=axes) is fig
        assert all(_labels(a) for a in fig.axes[:1])
        plt.close(fig)
    fig, axes = plt.subplots(1, 2, squeeze=False)  # shape (1, 2): two Axes all the same
    assert plot.plot_activations(ax=axes) is fig
    fig, axes = plt.subplots(1, 3)
    with pytest.raises(TypeError, match=r"ax must be None or two matplotlib Axes .*array"):
        plot.plot_activations(ax=axes)
    with pytest.raises(TypeError, match="ax must be"):
        plot.plot_activations(ax=[axes[0], "not an Axes"])
    plt.close("all")


def test_plot_decision_boundary_binary_and_given_ax() -> None:
    X, y = two_moons(60, seed=0)
    model = MLP(2, [8], 1, seed=0)
    ax = plot.plot_decision_boundary(model, X, y, title="moons", resolution=30)
    assert isinstance(ax, Axes) and ax.get_title() == "moons"
    markers = {tuple(c.get_paths()[0].vertices.round(3).ravel()) for c in ax.collections
               if type(c).__name__ == "PathCollection"}
    assert len(markers) == 2  # the two classes use different marker shapes
    assert model.training  # the helper restores the module's mode
    _, ax2 = plt.subplots()
    assert plot.plot_decision_boundary(model, X, y, ax=ax2, resolution=10) is ax2


def test_plot_decision_boundary_multiclass_and_bad_input() -> None:
    X = torch.randn(30, 2)
    y = torch.arange(30) % 3
    assert isinstance(plot.plot_decision_boundary(MLP(2, [4], 3), X, y, resolution=10), Axes)
    with pytest.raises(ValueError, match="X"):
        plot.plot_decision_boundary(MLP(2, [4], 1), torch.zeros(5, 3), torch.zeros(5))
    with pytest.raises(ValueError, match="resolution"):
        plot.plot_decision_boundary(MLP(2, [4], 1), X, y, resolution=1)
    with pytest.raises(TypeError, match="ax"):
        plot.plot_decision_boundary(MLP(2, [4], 1), X, y, ax="left")
    for args, exc, word in [((None, X, y), TypeError, "model"),
                            ((MLP(2, [4], 1), X, y + 0.5), ValueError, "class labels"),
                            ((MLP(2, [4], 1), [[0.0, 1.0], [2.0]], [0, 1]), ValueError, "X"),
                            ((lambda g: g.sum(), X, y), ValueError, "model"),
                            ((lambda g: g[:, 0] * float("nan"), X, y), ValueError, "finite")]:
        with pytest.raises(exc, match=word):
            plot.plot_decision_boundary(*args, resolution=5)


def test_plot_loss_curves() -> None:
    h = History(train_loss=[1.0, 0.5, 0.2], val_loss=[1.1, 0.7, 0.4])
    ax = plot.plot_loss_curves({"a": h, "b": History(train_loss=[2.0, 1.0])}, log=True)
    assert isinstance(ax, Axes) and len(ax.lines) == 3 and ax.get_yscale() == "log"
    assert isinstance(plot.plot_loss_curves(h), Axes)
    with pytest.raises(TypeError, match="histories"):
        plot.plot_loss_curves([1.0, 2.0])
    with pytest.raises(ValueError, match="histories"):
        plot.plot_loss_curves({})


def test_plot_capacity_grid() -> None:
    results = {(w, d): (1.0 / (w * d), 0.5 + 0.01 * w * d) for w in (2, 8, 32) for d in (1, 2)}
    results[(4, 3)] = History(train_loss=[0.3, 0.1], val_loss=[0.4, 0.2])
    fig = plot.plot_capacity_grid(results, title="capacity")
    assert isinstance(fig, Figure) and len(fig.axes) == 3  # two panels and a colour bar
    with pytest.raises(ValueError, match="results"):
        plot.plot_capacity_grid({})
    with pytest.raises(ValueError, match="log"):
        plot.plot_capacity_grid({(1, 1): (0.0, 1.0)})
    same = {(w, d): (0.5, 0.5) for w in (2, 8) for d in (1, 2)}  # every loss equal
    for log in (True, False):
        assert isinstance(plot.plot_capacity_grid(same, log=log), Figure)
    for bad, exc, word in [({(1, 1): "a"}, TypeError, "results"),
                           ({(1, 1): (float("nan"), 1.0)}, ValueError, "training loss"),
                           ({(0, 1): (1.0, 1.0)}, ValueError, "width"),
                           ([1, 2], TypeError, "results")]:
        with pytest.raises(exc, match=word):
            plot.plot_capacity_grid(bad)


def test_plot_fit_1d() -> None:
    X, y = sine(40, seed=0)
    ax = plot.plot_fit_1d(X, y, MLP(1, [8], 1, seed=0), true_fn=np.sin)
    assert isinstance(ax, Axes) and len(ax.lines) == 2
    assert isinstance(plot.plot_fit_1d(X, y, torch.sin), Axes)
    with pytest.raises(ValueError, match="X and y"):
        plot.plot_fit_1d(X, y[:5], torch.sin)
    with pytest.raises(TypeError, match="model_or_fn"):
        plot.plot_fit_1d(X, y, 3)


# --- variants: dark theme and phone (mlpbook.figvariants) ----------------------------------------

def _texts(svg: str) -> list[str]:
    """The fill colour of every <text> (black when matplotlib leaves it out)."""
    import re

    out = []
    for tag in re.findall(r"<text\b[^>]*>", svg):
        m = re.search(r"fill:\s*(#[0-9a-fA-F]{6})", tag)
        out.append(m.group(1) if m else "#000000")
    return out


def test_dark_variant_recolours_text_and_lines_and_keeps_heat_map_numbers() -> None:
    svg = ('<svg><g><text style="font-size: 11px; fill: #555555">a</text></g>'
           '<text style="font-size: 11px">black</text><text>$x$</text>'
           '<path style="fill: none; stroke: #555555; stroke-width: 0.8"/>'
           '<path style="fill: #c7dff0; stroke: #0072b2"/>'
           '<text style="fill: #d55e00">orange text</text>'
           '<g id="mlpbook-keep-7">\n <text style="fill: #ffffff">0.2</text>\n </g>'
           '<image xlink:href="data:image/png;base64,AAAA"/></svg>')
    dark = figvariants.recolour(svg, "dark")
    fills = _texts(dark)
    assert fills[0] == plot.GREY_DARK and fills[1] == fills[2] == "#ebebeb"
    assert "stroke: " + plot.GREY_DARK in dark and "#c7dff0" not in dark  # tint made dark
    assert fills[-1] == "#ffffff"  # kept: it sits on its own cell
    for fill in fills[:-1]:
        for bg in figvariants.DARK_BACKGROUNDS:
            assert figvariants.contrast(fill, bg) >= 4.5, (fill, bg)
    light = figvariants.recolour(svg, "light")
    assert "#d55e00" not in light  # 3.9:1 on white: darkened to >= 4.5:1
    assert all(figvariants.contrast(f, "#ffffff") >= 4.5 for f in _texts(light)[:-1])
    with pytest.raises(ValueError, match="theme"):
        figvariants.recolour(svg, "sepia")


def test_narrow_variant_stacks_panels_and_keeps_text_size() -> None:
    with plot._book_rc():
        fig, (a, b) = plt.subplots(1, 2, figsize=(6.4, 3.0), layout="constrained", sharey=True)
        a.plot([0, 1], [0, 1])
        b.plot([0, 1], [1, 0])
        narrow = figvariants.narrow_figure(fig)
    assert narrow is not None and narrow.get_size_inches()[0] == figvariants.NARROW_IN
    top, bottom = (ax.get_position() for ax in narrow.axes[:2])
    assert top.y0 > bottom.y1  # one above the other
    assert all(t.get_visible() for t in narrow.axes[1].get_yticklabels())  # sharey re-labelled
    assert fig.get_size_inches()[0] == 6.4  # the original is untouched
    small, _ = plt.subplots(figsize=(4.0, 3.0))
    assert figvariants.narrow_figure(small) is None
    plt.close("all")


def test_figure_bundle_is_deterministic_and_carries_every_variant() -> None:
    def draw() -> Figure:
        return plot.plot_activations()

    with plot._book_rc():  # as use_book_style() sets it: fixed SVG ids (svg.hashsalt)
        wide, meta = figvariants.figure_bundle(draw())
        again, meta2 = figvariants.figure_bundle(draw())
    assert wide == again and meta == meta2
    variants = meta[figvariants.KEY]
    assert set(variants) == {"dark", "narrow", "narrow-dark"}
    assert "<svg" in wide and "Date" not in wide
    import re

    view = lambda s: float(re.search(r'viewBox="0 0 ([\d.]+)', s).group(1))  # noqa: E731
    assert view(variants["narrow"]) < 0.75 * view(wide)
    sizes = re.findall(r"font-size: ([\d.]+)px", variants["narrow"])
    assert min(float(v) for v in sizes) >= plot.FONT_SIZE * 0.76  # sub/superscripts only
