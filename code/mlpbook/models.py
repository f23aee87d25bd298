"""Multilayer perceptrons in torch, and why they need non-linear activations.

``make_mlp`` builds ``Linear, act, Linear, act, ..., Linear``; ``MLP`` wraps it as the
``nn.Module`` subclass shown in the lecture; ``collapse_linear`` proves that without
activations a deep stack is just one ``nn.Linear``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn

from mlpbook import activations, validation
from mlpbook.activations import ACTIVATIONS

__all__ = ["ACTIVATIONS", "make_mlp", "MLP", "collapse_linear", "count_parameters"]

#: The torch models of the book are small: at most this many parameters.
MAX_PARAMETERS = 100_000_000


def make_mlp(in_features: int, hidden_sizes: Sequence[int], out_features: int, *,
             activation: str = "relu", seed: int | None = None,
             dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """Build ``Linear, act, Linear, act, ..., Linear`` (no activation after the last layer).

    Args:
        in_features: input width d. hidden_sizes: widths of the hidden layers (may be empty).
        out_features: output width. activation: a name in ``ACTIVATIONS``; with ``"identity"``
            the stack holds only ``nn.Linear`` layers.
        seed: if given, the weights are drawn after ``torch.manual_seed(seed)`` inside
            ``torch.random.fork_rng`` (the global RNG state is left untouched).
        dtype: parameter dtype.
    """
    sizes = _check_sizes(in_features, hidden_sizes, out_features)
    act = activations.get(activation)
    validation.float_dtype(dtype)
    if seed is not None:
        seed = validation.seed(seed, "seed (an int or None)")

    with torch.random.fork_rng(enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1], dtype=dtype))
            is_last = i == len(sizes) - 2
            if not is_last and act.name != "identity":
                layers.append(act.torch_module())
    return nn.Sequential(*layers)


class MLP(nn.Module):
    """A multilayer perceptron: ``forward(X)`` maps (n, in_features) to (n, out_features)."""

    def __init__(self, in_features: int, hidden_sizes: Sequence[int], out_features: int, *,
                 activation: str = "relu", seed: int | None = None,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.net = make_mlp(in_features, hidden_sizes, out_features,
                            activation=activation, seed=seed, dtype=dtype)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Apply the layers in order."""
        check_input(self, X)  # a clear error for the wrong shape or dtype
        return self.net(X)


def collapse_linear(model: nn.Module) -> nn.Linear:
    """Return the one ``nn.Linear`` that computes exactly what an affine ``model`` computes.

    An affine map ``f(x) = W x + b`` is fixed by its values at 0 and at the unit vectors:
    ``b = f(0)`` and column i of ``W`` is ``f(e_i) - f(0)``. For a stack of linear layers
    that is ``W = W_k ... W_1`` and ``b = W_k(...(W_2 b_1 + b_2)...) + b_k``. The probes run
    in float64; the result has the model's dtype. If the model is not affine (a ReLU, a
    tanh...), random inputs show it, and ValueError names the part that is not linear.
    """
    f, n_in, dtype = _float64_copy(model)  # f(X) = model(X) on a float64 copy
    with torch.no_grad():
        probes = torch.cat([torch.zeros(1, n_in), torch.eye(n_in)]).double()
        Y = f(probes)  # rows: f(0), f(e_1), ..., f(e_n)
        b = Y[0]
        W = (Y[1:] - b).T  # column i: f(e_i) - f(0)
        _check_affine(model, f, W, b)
        out = nn.Linear(n_in, W.shape[0], dtype=dtype)
        out.weight.copy_(W)
        out.bias.copy_(b)
    return out


# ----- argument checks and the probes of collapse_linear -------------------------------------
def _check_sizes(in_features: object, hidden_sizes: object, out_features: object) -> list[int]:
    """Return ``[in_features, *hidden_sizes, out_features]`` as ints, each checked."""
    sizes = [validation.integer(in_features, "in_features", low=1)]
    hidden = validation.sequence(hidden_sizes, "hidden_sizes", what="ints (layer widths)")
    sizes += [validation.integer(h, f"hidden_sizes[{i}]", low=1) for i, h in enumerate(hidden)]
    sizes.append(validation.integer(out_features, "out_features", low=1))
    n = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    if n > MAX_PARAMETERS:
        raise ValueError(f"these sizes make {n:,} parameters; the book's models stay below "
                         f"{MAX_PARAMETERS:,} (in_features={sizes[0]}, hidden_sizes={hidden}, "
                         f"out_features={sizes[-1]})")
    return sizes


def _in_features(model: nn.Module) -> int | None:
    """The input width of ``model`` where its structure shows it: an ``nn.Linear``, or an
    ``MLP``/``nn.Sequential``/``nn.ModuleList`` that starts with one (else None)."""
    while isinstance(model, (MLP, nn.Sequential, nn.ModuleList)):
        model = model.net if isinstance(model, MLP) else next(iter(model), None)
    return model.in_features if isinstance(model, nn.Linear) else None


def _input_widths(model: nn.Module) -> list[int]:
    """Possible input widths: the one the structure shows, else those of all Linear layers."""
    known = _in_features(model)
    return [known] if known else list(dict.fromkeys(
        m.in_features for m in model.modules() if isinstance(m, nn.Linear)))


def _dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype of the model's first floating-point parameter (None if it has none)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), None)


def check_input(model: nn.Module, X: object, name: str = "X") -> torch.Tensor:
    """Return ``X`` if ``model`` can take it: a finite float tensor of the model's dtype whose
    last dimension is the model's input width; else raise TypeError/ValueError naming ``X``."""
    validation.tensor(X, name, floating=True, ndim=(1, 2))
    n_in, dtype = _in_features(model), _dtype(model)
    if n_in is not None and X.shape[-1] != n_in:
        raise ValueError(f"{name} must have {n_in} features (columns), the model's input "
                         f"width, got shape {tuple(X.shape)}")
    if dtype is not None and X.dtype != dtype:
        short = str(dtype).replace("torch.", "")
        raise TypeError(f"{name} has dtype {str(X.dtype).replace('torch.', '')} but the model's "
                        f"parameters are {short}: use {name}.to(torch.{short}), or build the "
                        f"model with dtype=torch.{str(X.dtype).replace('torch.', '')}")
    return X


def _float64_copy(model: object) -> tuple[Callable[[torch.Tensor], torch.Tensor], int,
                                          torch.dtype]:
    """Return ``(f, in_features, dtype)``: f runs a float64 copy of ``model`` in eval mode."""
    validation.module(model)
    widths = _input_widths(model)
    if not widths:
        raise ValueError(f"model must contain an nn.Linear layer (the input width is read from "
                         f"the layers), got {type(model).__name__} without one")
    dtype = _dtype(model) or torch.float32
    try:
        twin = copy.deepcopy(model).double().eval()
    except Exception as err:  # noqa: BLE001 - e.g. an attribute that cannot be copied
        raise ValueError(f"model could not be copied to float64: {err}") from None
    layers = list(twin) if isinstance(twin, nn.ModuleList) else [twin]  # a ModuleList: in order

    def f(X: torch.Tensor) -> torch.Tensor:
        out = X
        try:
            for layer in layers:
                out = layer(out)
        except (RuntimeError, TypeError, ValueError, NotImplementedError) as err:
            raise ValueError(f"model could not be applied to a float64 input of shape "
                             f"{tuple(X.shape)}: {str(err).splitlines()[0] if str(err) else err!r}"
                             ) from None
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != X.shape[0]:
            raise ValueError(f"model must map an input of shape {tuple(X.shape)} to an output "
                             f"of shape (n, out_features), got {validation.describe(out)}")
        return out

    for n_in in widths[:-1]:  # a custom forward: find the width the model accepts
        try:
            f(torch.zeros(1, n_in, dtype=torch.float64))
            break
        except ValueError:
            continue
    else:
        n_in = widths[-1]
    return f, n_in, dtype


_LINEAR_PARTS = (nn.Linear, nn.Identity, nn.Sequential, nn.ModuleList, nn.Dropout, MLP)


def _check_affine(model: nn.Module, f: Callable[[torch.Tensor], torch.Tensor],
                  W: torch.Tensor, b: torch.Tensor) -> None:
    """Raise ValueError unless ``f(X) = X @ W.T + b`` at random inputs of several sizes."""
    if not (torch.isfinite(W).all() and torch.isfinite(b).all()):
        raise ValueError("model must give finite outputs, but at 0 or at a unit vector it gives "
                         "nan or inf: are its parameters finite?")
    g = torch.Generator().manual_seed(0)
    X = torch.cat([scale * torch.randn(8, W.shape[1], generator=g, dtype=torch.float64)
                   for scale in (1.0, 10.0, 1000.0)])
    Y, fit = f(X), X @ W.T + b
    size = 1 + Y.abs() + X.abs() @ W.abs().T + b.abs()  # the scale of rounding errors
    gap = ((Y - fit).abs() / size).max().item()
    if gap <= 1e-9:
        return
    parts = [f"module {name!r} ({type(m).__name__})" for name, m in model.named_modules()
             if m is not model and not isinstance(m, _LINEAR_PARTS)]
    if parts:
        listed = ", ".join(parts[:3]) + (" ..." if len(parts) > 3 else "")
        culprit = f"Not linear: {listed}."
    else:
        culprit = (f"The forward of {type(model).__name__} applies something non-linear "
                   f"(e.g. torch.relu or torch.tanh) to its layers' outputs.")
    raise ValueError(f"collapse_linear needs an affine model (linear layers only), and this one "
                     f"is not: at random inputs its output is up to "
                     f"{(Y - fit).abs().max().item():.3g} away from the affine map that agrees "
                     f"with it at 0 and at the unit vectors. {culprit}")


def count_parameters(model: nn.Module) -> int:
    """Number of scalar trainable parameters (weights and biases) of ``model``."""
    validation.module(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
