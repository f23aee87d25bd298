"""A teaching MLP built from ``Value`` scalars (micrograd-style, seeded). Pure Python: no torch."""

from __future__ import annotations

import math
import random
from typing import Sequence, Union

from mlpbook.engine import Value

__all__ = ["Module", "Neuron", "Layer", "MLP", "ACTIVATIONS"]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
Seed = Union[int, random.Random]


class Module:
    """Base class: anything with parameters that can be listed and zeroed, as in ``torch.nn``."""

    def parameters(self) -> list[Value]:
        """Return the list of trainable ``Value`` leaves (none for the base class)."""
        return []

    def zero_grad(self) -> None:
        """Set the gradient of every parameter to 0.0."""
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """One neuron: ``activation(w · x + b)`` with ``n_in`` weights and a bias."""

    def __init__(self, n_in: int, *, activation: str = "relu", seed: Seed = 0) -> None:
        _check_positive_int(n_in, "n_in")
        _check_activation(activation)
        rng = _make_rng(seed)
        scale = 1 / math.sqrt(n_in)
        self.w = [Value(rng.uniform(-1, 1) * scale, label=f"w{i}") for i in range(n_in)]
        self.b = Value(0.0, label="b")
        self.activation = activation

    def __call__(self, x: Sequence[Value | float]) -> Value:
        """Return ``activation(sum_i w_i x_i + b)`` for an input of length ``n_in``."""
        x = _check_inputs(x, len(self.w))
        z = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return z if self.activation == "linear" else getattr(z, self.activation)()

    def parameters(self) -> list[Value]:
        """Return the weights followed by the bias."""
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, activation={self.activation!r})"


class Layer(Module):
    """A layer of ``n_out`` neurons that all read the same ``n_in`` inputs."""

    def __init__(self, n_in: int, n_out: int, *, activation: str = "relu", seed: Seed = 0) -> None:
        _check_positive_int(n_out, "n_out")
        rng = _make_rng(seed)
        self.neurons = [Neuron(n_in, activation=activation, seed=rng) for _ in range(n_out)]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        """Return the ``n_out`` outputs (a single ``Value`` if ``n_out == 1``)."""
        out = [neuron(x) for neuron in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        """Return the parameters of every neuron, neuron by neuron."""
        return [p for neuron in self.neurons for p in neuron.parameters()]

    def __repr__(self) -> str:
        n = self.neurons[0]
        return f"Layer({len(n.w)}, {len(self.neurons)}, activation={n.activation!r})"


class MLP(Module):
    """A multi-layer perceptron: layers of sizes ``n_outs`` applied in order, the last linear."""

    def __init__(self, n_in: int, n_outs: Sequence[int], *, activation: str = "relu",
                 seed: Seed = 0) -> None:
        if isinstance(n_outs, (str, bytes)) or not isinstance(n_outs, Sequence):
            raise TypeError(f"n_outs must be a sequence of layer sizes, got {n_outs!r}")
        if len(n_outs) == 0:
            raise ValueError("n_outs must list at least one layer size, got []")
        _check_positive_int(n_in, "n_in")
        for i, n in enumerate(n_outs):
            _check_positive_int(n, f"n_outs[{i}]")
        _check_activation(activation)
        rng = _make_rng(seed)
        sizes = [n_in, *n_outs]
        last = len(n_outs) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], activation=activation if i < last else "linear", seed=rng)
            for i in range(len(n_outs))
        ]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        """Apply ``self.layers`` in order to an input of length ``n_in``."""
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Value]:
        """Return the parameters of every layer, first layer first."""
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP({', '.join(map(repr, self.layers))})"


def _make_rng(seed: Seed) -> random.Random:
    """Return ``seed`` itself if it is a ``random.Random``, else a new one seeded with it."""
    if isinstance(seed, random.Random):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int or a random.Random, got {type(seed).__name__}")
    return random.Random(seed)


def _check_positive_int(n: object, name: str) -> None:
    """Raise TypeError/ValueError unless ``n`` is a positive int."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name} must be a positive int, got {type(n).__name__}: {n!r}")
    if n < 1:
        raise ValueError(f"{name} must be a positive int, got {n}")


def _check_activation(activation: object) -> None:
    """Raise ValueError unless ``activation`` is one of ``ACTIVATIONS``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


def _check_inputs(x: object, n_in: int) -> list:
    """Return ``x`` as a list of length ``n_in`` (a lone Value or number counts as length 1)."""
    if isinstance(x, (Value, int, float)) and not isinstance(x, bool):
        x = [x]
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise TypeError(f"x must be a sequence of Values or floats, got {type(x).__name__}")
    if len(x) != n_in:
        raise ValueError(f"x must have length {n_in} (n_in), got length {len(x)}")
    return list(x)
