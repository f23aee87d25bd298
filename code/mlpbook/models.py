"""Multilayer perceptrons in torch, and why they need non-linear activations.

``make_mlp`` builds ``Linear, act, Linear, act, ..., Linear``; ``MLP`` wraps it as the
``nn.Module`` subclass shown in the lecture; ``collapse_linear`` proves that without
activations a deep stack is just one ``nn.Linear``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "make_mlp", "MLP", "collapse_linear", "count_parameters"]

#: Names accepted by ``make_mlp``'s ``activation`` argument.
ACTIVATIONS: tuple[str, ...] = ("relu", "sigmoid", "tanh", "identity")

_ACTIVATION_CLASSES: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
}


def _check_size(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return value


def make_mlp(in_features: int, hidden_sizes: Sequence[int], out_features: int, *,
             activation: str = "relu", seed: int | None = None,
             dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """Build ``Linear, act, Linear, act, ..., Linear`` (no activation after the last layer).

    Args:
        in_features: input width d. hidden_sizes: widths of the hidden layers (may be empty).
        out_features: output width. activation: one of ``ACTIVATIONS``; with ``"identity"``
            the stack holds only ``nn.Linear`` layers.
        seed: if given, the weights are drawn after ``torch.manual_seed(seed)`` inside
            ``torch.random.fork_rng`` (the global RNG state is left untouched).
        dtype: parameter dtype.
    """
    _check_size(in_features, "in_features")
    _check_size(out_features, "out_features")
    if isinstance(hidden_sizes, (str, bytes)) or not isinstance(hidden_sizes, Sequence):
        raise TypeError(f"hidden_sizes must be a sequence of ints, got {hidden_sizes!r}")
    for i, h in enumerate(hidden_sizes):
        _check_size(h, f"hidden_sizes[{i}]")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")

    sizes = [in_features, *hidden_sizes, out_features]
    with torch.random.fork_rng(enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1], dtype=dtype))
            is_last = i == len(sizes) - 2
            if not is_last and activation != "identity":
                layers.append(_ACTIVATION_CLASSES[activation]())
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
        return self.net(X)


def collapse_linear(model: nn.Module) -> nn.Linear:
    """Fold a stack of ``nn.Linear`` layers into one exactly equivalent ``nn.Linear``.

    With ``f_i(x) = W_i x + b_i``, ``f_2(f_1(x)) = (W_2 W_1) x + (W_2 b_1 + b_2)``; repeating
    gives ``W = W_k ... W_1`` and ``b = W_k(...(W_2 b_1 + b_2)...) + b_k``. Works for an
    ``nn.Sequential``, an ``MLP`` or a single ``nn.Linear``; ``nn.Identity`` is skipped.
    The result has the dtype of the layers. Any other module -> ValueError naming it.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if isinstance(model, nn.Linear):
        linears = [model]
    else:
        linears = []
        for name, module in model.named_modules():
            if isinstance(module, nn.Linear):
                linears.append(module)
            elif isinstance(module, nn.Identity) or (
                    isinstance(module, (nn.Sequential, MLP)) or module is model):
                continue  # containers and no-ops contribute nothing
            else:
                raise ValueError(f"collapse_linear needs a model made only of nn.Linear layers, "
                                 f"but module {name!r} is {type(module).__name__} (non-linear)")
    if not linears:
        raise ValueError("model contains no nn.Linear layer to collapse")

    with torch.no_grad():
        first = linears[0]
        W = first.weight.clone()
        b = first.bias.clone() if first.bias is not None else torch.zeros_like(W[:, 0])
        for layer in linears[1:]:
            if layer.in_features != W.shape[0]:
                raise ValueError(f"layer widths do not chain: {layer} after width {W.shape[0]}")
            W2 = layer.weight
            b2 = layer.bias if layer.bias is not None else torch.zeros_like(W2[:, 0])
            b = W2 @ b + b2   # b_new = W2 b1 + b2
            W = W2 @ W        # W_new = W2 W1
        out = nn.Linear(W.shape[1], W.shape[0], dtype=W.dtype, device=W.device)
        out.weight.copy_(W)
        out.bias.copy_(b)
    return out


def count_parameters(model: nn.Module) -> int:
    """Number of scalar trainable parameters (weights and biases) of ``model``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
