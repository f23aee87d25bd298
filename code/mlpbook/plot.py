"""Figures for the chapter, legible on a phone and on the book's light and dark themes.

Every helper draws on transparent backgrounds with dark grey text, spines and ticks (``GREY``,
7:1 on white) and uses the Okabe-Ito colour-blind-safe ``PALETTE``. In a notebook each figure
also gets a dark-theme and a phone variant (``mlpbook.figvariants``; docs/figures.md). Helpers
take ``ax=None``, return the Axes (or the Figure for multi-panel plots) and never call
``plt.show()``. torch is imported lazily, so ``from mlpbook.plot import PALETTE`` stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap, LogNorm
from matplotlib.figure import Figure

from mlpbook import activations, figvariants, validation

if TYPE_CHECKING:
    from mlpbook.train import History

__all__ = ["PALETTE", "GREY", "use_book_style", "plot_activations", "plot_decision_boundary",
           "plot_loss_curves", "plot_capacity_grid", "plot_fit_1d"]

#: Okabe-Ito colours, the first four >= 3:1 on white and on #121212 (black is left out: it
#: vanishes on the dark theme; ``GREY`` is for neutral marks).
PALETTE: list[str] = [
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
]
#: Neutral ink for text, spines, ticks and reference lines: 7.5:1 on white. The dark-theme
#: variant of a figure draws it as ``GREY_DARK`` (8.9:1 on #121212); no single grey reaches
#: 4.5:1 on both backgrounds.
GREY: str = "#555555"
GREY_DARK: str = "#b3b3b3"
_MARKERS = ("o", "^", "s", "D", "v", "P", "X")
_LINESTYLES = ("-", "--", "-.", ":")

#: Text sizes: 11 pt everywhere (legends, ticks, annotations; titles 1.2x). Figures are shown as
#: SVG, where 1 pt is 4/3 CSS px, so a 6.4-inch figure shown at its size has 14.7 px text, 0.92x
#: the page's 16 px body text. Helpers never set a smaller size.
FONT_SIZE: float = 11.0

_RC: dict[str, Any] = {
    "figure.facecolor": "none", "axes.facecolor": "none", "savefig.facecolor": "none",
    "savefig.transparent": True, "legend.facecolor": "none", "legend.edgecolor": GREY,
    "legend.framealpha": 0.0, "text.color": GREY, "axes.labelcolor": GREY,
    "axes.edgecolor": GREY, "axes.titlecolor": GREY, "xtick.color": GREY, "ytick.color": GREY,
    "grid.color": GREY, "grid.alpha": 0.3, "axes.prop_cycle": cycler(color=PALETTE),
    "figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (6.4, 3.2),
    "svg.fonttype": "none", "svg.hashsalt": "mlpbook", "font.size": FONT_SIZE,
    "legend.fontsize": "medium", "xtick.labelsize": "medium", "ytick.labelsize": "medium",
    "axes.labelsize": "medium", "axes.titlesize": "large", "figure.titlesize": "large",
    "axes.spines.top": False, "axes.spines.right": False, "lines.linewidth": 2.0,
}


def use_book_style() -> None:
    """Set matplotlib defaults for the book: transparent, dark grey, Okabe-Ito, legible text.

    In a notebook (the book's build, Jupyter, Colab) figures are also shown as SVG: sharp at any
    zoom on a phone, with real text whose size the browser tests can measure, with their dark
    and phone variants in the output's metadata (``mlpbook.figvariants``).
    """
    mpl.rcParams.update(_RC)
    figvariants.install()


def _book_rc() -> Any:
    return mpl.rc_context(_RC)


def _new_ax(ax: Axes | None, figsize: tuple[float, float] = (4.0, 3.2)) -> Axes:
    if validation.axes(ax) is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _predict(model_or_fn: Callable[..., Any], grid: np.ndarray, name: str) -> np.ndarray:
    """Evaluate a model (or function of a tensor) on ``grid`` rows, without gradients: finite
    numbers, one row per grid row, else ValueError naming ``name``."""
    import torch
    dtype = torch.float32
    if isinstance(model_or_fn, torch.nn.Module):
        params = [p for p in model_or_fn.parameters() if p.is_floating_point()]
        dtype = params[0].dtype if params else dtype
        was_training = model_or_fn.training
        model_or_fn.eval()
    try:
        with torch.no_grad():
            out = model_or_fn(torch.as_tensor(grid, dtype=dtype))
    except RuntimeError as err:  # torch's shape and dtype errors
        raise ValueError(f"{name} could not be applied to inputs of shape (m, {grid.shape[1]}): "
                         f"{str(err).splitlines()[0]}") from None
    except Exception as err:  # the model's own code failed: keep its error, name the argument
        validation.add_note(err, name)
        raise
    finally:
        if isinstance(model_or_fn, torch.nn.Module) and was_training:
            model_or_fn.train()
    try:
        out = validation.array(out, f"the output of {name}")
    except (TypeError, ValueError) as err:
        raise type(err)(f"{name} must return finite numbers: {err}") from None
    if out.ndim == 0 or out.shape[0] != grid.shape[0]:
        raise ValueError(f"{name} must return one row per input row ({grid.shape[0]}), got an "
                         f"output of shape {out.shape}")
    return out


def _labels(y: Any, n: int) -> np.ndarray:
    """``y`` as n integer class labels (shape (n,) or (n, 1)) in a float array."""
    yn = validation.array(y, "y")
    if yn.ndim not in (1, 2) or yn.size != n or (yn.ndim == 2 and yn.shape[1] != 1):
        raise ValueError(f"y must hold one label per row of X ({n}), shape (n,) or (n, 1), got "
                         f"shape {yn.shape}")
    yn = yn.reshape(-1)
    if not np.all((yn == np.round(yn)) & (yn >= 0)):
        raise ValueError(f"y must hold class labels (whole numbers 0, 1, ...), but it holds "
                         f"{yn[(yn != np.round(yn)) | (yn < 0)][0]:g}")
    return yn


def plot_activations(ax: Sequence[Axes] | None = None, *,
                     names: Sequence[str] | None = None) -> Figure:
    """Plot activation functions (left) and their derivatives (right), from ``ACTIVATIONS``.

    Args:
        ax: None, or two Axes: a list, a tuple or the array ``plt.subplots(1, 2)`` returns.
            names: which activations, in order (default: all but identity).
    """
    names = validation.sequence([n for n in activations.ACTIVATIONS if n != "identity"] if names
                                is None else names, "names", min_len=1, what="activation names")
    acts = [activations.get(n, f"names[{i}]") for i, n in enumerate(names)]
    if ax is not None:
        pair = (list(np.ravel(ax)) if isinstance(ax, np.ndarray)
                else validation.sequence(ax, "ax", what="two matplotlib Axes"))
        if len(pair) != 2 or not all(isinstance(a, Axes) for a in pair):
            raise TypeError(f"ax must be None or two matplotlib Axes (a list, tuple or array, "
                            f"as plt.subplots(1, 2) gives), got {validation.describe(ax)}")
    with _book_rc():
        if ax is None:
            fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.2), layout="constrained")
        else:
            axes, fig = pair, pair[0].figure
        z = np.linspace(-4.0, 4.0, 401)
        for i, act in enumerate(acts):
            df = act.numpy_grad(z).astype(float)
            jumps = np.abs(np.diff(df)) > 0.25  # a jump (ReLU's at 0): break the line there
            df[1:][jumps] = np.nan
            style = dict(color=PALETTE[i % len(PALETTE)],
                         linestyle=_LINESTYLES[i % len(_LINESTYLES)], label=act.label)
            axes[0].plot(z, act.numpy_fn(z), **style)
            axes[1].plot(z, df, **style)
        axes[0].set(title="activation $\\sigma(z)$", xlabel="$z$", ylim=(-1.3, 2.3))
        axes[1].set(title="derivative $d\\sigma/dz$", xlabel="$z$", ylim=(-0.2, 1.2))
        for a in axes:
            a.axhline(0.0, color=GREY, lw=0.6)
            a.axvline(0.0, color=GREY, lw=0.6)
        axes[0].legend(loc="upper left", frameon=False)
    return fig


def plot_decision_boundary(model: Callable[..., Any], X: Any, y: Any, ax: Axes | None = None,
                           *, title: str | None = None, resolution: int = 200) -> Axes:
    """Fill the predicted probability of class 1 over the plane and draw the points on top.

    Args:
        model: torch module (or function) mapping (m, 2) inputs to logits of shape (m,), (m, 1)
            (binary: sigmoid is applied) or (m, k) (multiclass: the predicted class is filled).
        X: inputs, shape (n, 2). y: labels, shape (n,) or (n, 1), integer-valued.
        resolution: grid points per axis (>= 2).
    """
    validation.function(model, "model", "a torch model or a function of a tensor")
    Xn = validation.array(X, "X")
    if Xn.ndim != 2 or Xn.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2), got {Xn.shape}")
    yn = _labels(y, Xn.shape[0])
    validation.axes(ax)
    validation.text(title, "title", optional=True)
    resolution = validation.integer(resolution, "resolution", low=2, high=2000)
    with _book_rc():
        ax = _new_ax(ax)
        lo, hi = Xn.min(axis=0), Xn.max(axis=0)
        pad = 0.1 * np.maximum(hi - lo, 1e-3)
        gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
        gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
        xx, yy = np.meshgrid(gx, gy)
        out = _predict(model, np.column_stack([xx.ravel(), yy.ravel()]), "model")
        if out.ndim > 2:
            raise ValueError(f"model must return logits of shape (m,), (m, 1) or (m, k), got "
                             f"shape {out.shape}")
        if out.ndim == 2 and out.shape[1] > 1:  # multiclass: colour by predicted class
            k = out.shape[1]
            zz = out.argmax(axis=1).reshape(xx.shape)
            cmap = mpl.colors.ListedColormap(PALETTE[:k])
            ax.contourf(xx, yy, zz, levels=np.arange(k + 1) - 0.5, cmap=cmap, alpha=0.35,
                        rasterized=True)  # an image inside the SVG: 10x smaller than paths
        else:
            zz = activations.ACTIVATIONS["sigmoid"].numpy_fn(out.reshape(-1)).reshape(xx.shape)
            cmap = LinearSegmentedColormap.from_list("book_div", [PALETTE[0], "#bbbbbb",
                                                                  PALETTE[1]])
            cs = ax.contourf(xx, yy, zz, levels=np.linspace(0, 1, 11), cmap=cmap, alpha=0.4,
                             rasterized=True)
            ax.contour(xx, yy, zz, levels=[0.5], colors=GREY, linewidths=1.8, linestyles="--")
            ax.figure.colorbar(cs, ax=ax, label="$P(y=1)$", ticks=[0, 0.5, 1], shrink=0.85)
        for i, c in enumerate(np.unique(yn).astype(int)):
            m = yn == c
            ax.scatter(Xn[m, 0], Xn[m, 1], s=18, marker=_MARKERS[i % len(_MARKERS)],
                       color=PALETTE[i % len(PALETTE)], edgecolors="white", linewidths=0.5,
                       label=f"class {c}", zorder=3)
        ax.set(xlabel="$x_1$", ylabel="$x_2$")
        ax.set_xlim(gx[0], gx[-1])
        ax.set_ylim(gy[0], gy[-1])
        if title is not None:
            ax.set_title(title)
        # Below the x label (tick labels and label are about 3 em tall), never on top of it.
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), borderaxespad=3.4,
                  ncol=len(np.unique(yn)), frameon=False, handletextpad=0.2)
    return ax


def plot_loss_curves(histories: Mapping[str, History] | History, ax: Axes | None = None,
                     *, log: bool = False) -> Axes:
    """Plot training (solid) and validation (dashed) loss per epoch for one or more runs."""
    from mlpbook.train import History

    if isinstance(histories, History):
        histories = {"": histories}
    if not isinstance(histories, Mapping) or not all(
            isinstance(h, History) for h in histories.values()):
        raise TypeError(f"histories must be a History or a dict mapping names to History, got "
                        f"{validation.describe(histories)}")
    if len(histories) == 0:
        raise ValueError("histories must contain at least one History, got an empty dict")
    for name, h in histories.items():
        validation.text(name, "each name in histories")
        if not h.train_loss:
            raise ValueError(f"histories[{name!r}].train_loss is empty: nothing to plot")
        for key in ("train_loss", "val_loss"):
            validation.array(getattr(h, key), f"histories[{name!r}].{key}", nonempty=False)
    validation.axes(ax)
    validation.boolean(log, "log")
    if log and any(v <= 0 for h in histories.values() for v in h.train_loss + h.val_loss):
        raise ValueError("log=True needs positive losses; pass log=False")
    with _book_rc():
        ax = _new_ax(ax, figsize=(6.4, 3.2))
        for i, (name, h) in enumerate(histories.items()):
            color, prefix = PALETTE[i % len(PALETTE)], f"{name} " if name else ""
            epochs = np.arange(1, len(h.train_loss) + 1)
            ax.plot(epochs, h.train_loss, color=color, label=f"{prefix}train")
            if h.val_loss:
                ax.plot(np.arange(1, len(h.val_loss) + 1), h.val_loss, color=color,
                        linestyle="--", label=f"{prefix}validation")
        ax.set(xlabel="epoch", ylabel="loss")
        if log:
            ax.set_yscale("log")
        ax.legend(frameon=False)
    return ax


def plot_capacity_grid(results: Mapping[tuple[int, int], History | tuple[float, float]], *,
                       log: bool = True, title: str | None = None) -> Figure:
    """Heatmaps of final training and held-out loss over a widths x depths grid.

    Args:
        results: maps ``(width, depth)`` to a History (its last train/val loss is used) or to a
            ``(train_loss, val_loss)`` pair of floats. Widths go along x, depths along y.
        log: colour on a log scale (shared by both panels, so they are comparable).
    """
    from mlpbook.train import History

    if not isinstance(results, Mapping):
        raise TypeError(f"results must be a dict {{(width, depth): History or (train, val)}}, "
                        f"got {validation.describe(results)}")
    if len(results) == 0:
        raise ValueError("results must be a non-empty dict {(width, depth): History or pair}")
    validation.boolean(log, "log")
    validation.text(title, "title", optional=True)
    pairs: dict[tuple[int, int], tuple[float, float]] = {}
    for key, val in results.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"results keys must be (width, depth) tuples, got {key!r}")
        validation.integer(key[0], f"the width in results key {key!r}", low=1)
        validation.integer(key[1], f"the depth in results key {key!r}", low=1)
        if isinstance(val, History):
            if not val.train_loss or not val.val_loss:
                raise ValueError(f"results[{key}] needs train_loss and val_loss (pass X_val, "
                                 f"y_val to train)")
            val = (val.train_loss[-1], val.val_loss[-1])
        elif not isinstance(val, (tuple, list)) or len(val) != 2:
            raise TypeError(f"results[{key}] must be a History or a pair (train_loss, "
                            f"val_loss), got {validation.describe(val)}")
        pairs[key] = (validation.number(val[0], f"the training loss of results[{key}]"),
                      validation.number(val[1], f"the held-out loss of results[{key}]"))
    widths = sorted({w for w, _ in pairs})
    depths = sorted({d for _, d in pairs})
    grids = np.full((2, len(depths), len(widths)), np.nan)
    for (w, d), (tr, va) in pairs.items():
        grids[:, depths.index(d), widths.index(w)] = (tr, va)
    finite = grids[np.isfinite(grids)]
    if log and (finite <= 0).any():
        raise ValueError("log=True needs positive losses; pass log=False")
    lo, hi = finite.min(), finite.max()
    if lo == hi:  # every loss equal: widen the colour range so the norm is defined
        lo, hi = (lo / 2, lo * 2) if log else (lo - 1, hi + 1)
    norm = LogNorm(lo, hi) if log else mpl.colors.Normalize(lo, hi)
    with _book_rc():
        fig, axes = plt.subplots(1, 2, figsize=(6.4, 2.2 + 0.35 * len(depths)),
                                 layout="constrained", sharey=True)
        cmap = mpl.colormaps["viridis"]
        for a, grid, name in zip(axes, grids, ("training loss", "held-out loss")):
            im = a.imshow(grid, cmap=cmap, norm=norm, origin="lower", aspect="auto")
            for r, c in np.ndindex(grid.shape):
                if np.isfinite(grid[r, c]):
                    shade = cmap(im.norm(grid[r, c]))
                    dark = 0.2126 * shade[0] + 0.7152 * shade[1] + 0.0722 * shade[2] < 0.5
                    figvariants.keep_colour(a.text(c, r, f"{grid[r, c]:.2g}", ha="center",
                                                   va="center", color="white" if dark else "black"))
            a.set(title=name, xlabel="width", xticks=range(len(widths)),
                  xticklabels=[str(w) for w in widths])
        axes[0].set(ylabel="depth", yticks=range(len(depths)),
                    yticklabels=[str(d) for d in depths])
        cbar = fig.colorbar(im, ax=list(axes), label="loss", shrink=0.9)
        if log:  # a few plain labels (0.02, 0.05, 0.1, ...), not crowded 2x10^-1, 3x10^-1, ...
            cbar.minorticks_off()
            ticks = _log_ticks(float(finite.min()), float(finite.max()))
            cbar.set_ticks(ticks, labels=[f"{t:.2g}" for t in ticks])
        if title is not None:
            fig.suptitle(title)
    return fig


def _log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks in [lo, hi] (only powers of ten beyond two decades); at least two."""
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    steps = (1.0, 2.0, 5.0) if hi / lo <= 100 else (1.0,)
    ticks = [m * 10.0 ** k for k in decades for m in steps if lo <= m * 10.0 ** k <= hi]
    return ticks if len(ticks) >= 2 else [lo, hi]


def plot_fit_1d(X: Any, y: Any, model_or_fn: Callable[..., Any], ax: Axes | None = None, *,
                true_fn: Callable[[np.ndarray], np.ndarray] | None = None,
                label: str = "model") -> Axes:
    """Scatter 1-D regression data and draw the model's prediction (and optionally the truth).

    Args:
        X: inputs, shape (n,) or (n, 1). y: targets, shape (n,) or (n, 1).
        model_or_fn: torch module or function mapping a (m, 1) tensor to (m, 1) or (m,).
        true_fn: optional noiseless target, a NumPy function of x, drawn dotted.
    """
    Xn, yn = validation.array(X, "X"), validation.array(y, "y")
    for name, a in (("X", Xn), ("y", yn)):
        if a.ndim not in (1, 2) or (a.ndim == 2 and a.shape[1] != 1):
            raise ValueError(f"{name} must have shape (n,) or (n, 1), got {a.shape}")
    Xn, yn = Xn.reshape(-1), yn.reshape(-1)
    if Xn.shape != yn.shape:
        raise ValueError(f"X and y must hold the same number of points, got {Xn.size} and "
                         f"{yn.size} (X must be (n,) or (n, 1))")
    validation.function(model_or_fn, "model_or_fn", "a torch model or a function of a tensor")
    validation.axes(ax)
    if true_fn is not None:
        true_fn = validation.named(true_fn, "true_fn")
    validation.text(label, "label")
    with _book_rc():
        ax = _new_ax(ax)
        lo, hi = float(Xn.min()), float(Xn.max())
        pad = 0.05 * max(hi - lo, 1e-3)
        grid = np.linspace(lo - pad, hi + pad, 400)
        pred = _predict(model_or_fn, grid[:, None], "model_or_fn")
        if pred.size != grid.size:
            raise ValueError(f"model_or_fn must return one number per input, got an output of "
                             f"shape {pred.shape} for {grid.size} inputs")
        pred = pred.reshape(-1)
        ax.scatter(Xn, yn, s=14, color=GREY, alpha=0.8, label="data", zorder=2)
        if true_fn is not None:
            truth = validation.array(true_fn(grid), "the output of true_fn")
            if truth.shape != grid.shape:
                raise ValueError(f"true_fn must map an array of shape {grid.shape} to the same "
                                 f"shape, got {truth.shape}")
            ax.plot(grid, truth, color=PALETTE[2], linestyle=":", label="truth")
        ax.plot(grid, pred, color=PALETTE[0], label=label, zorder=3)
        ax.set(xlabel="$x$", ylabel="$y$")
        ax.legend(frameon=False)
    return ax


_contrast = figvariants.contrast  # WCAG contrast ratio of two hex colours (used by the tests)
