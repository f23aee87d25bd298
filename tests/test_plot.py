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

from mlpbook import plot  # noqa: E402
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
    for colour in [plot.GREY, *plot.PALETTE[:4]]:
        assert plot._contrast(colour, "#FFFFFF") >= 3.0
        assert plot._contrast(colour, "#121212") >= 3.0


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
