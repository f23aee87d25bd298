"""A teaching MLP built from ``Value`` scalars (micrograd-style, seeded). Pure Python: no torch."""

from __future__ import annotations

import math
import random
from typing import Sequence, Union

from mlpbook import activations, validation
from mlpbook.activations import ACTIVATIONS
from mlpbook.engine import Value

__all__ = ["Module", "Neuron", "Layer", "MLP", "ACTIVATIONS"]

Seed = Union[int, random.Random]
#: Scalar networks are for teaching: at most this many weights in one layer.
MAX_LAYER_WEIGHTS = 1_000_000


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
        _check_size(n_in, "n_in")
        activations.get(activation)
        rng = _make_rng(seed)
        scale = 1 / math.sqrt(n_in)
        self.w = [Value(rng.uniform(-1, 1) * scale, label=f"w{i}") for i in range(n_in)]
        self.b = Value(0.0, label="b")
        self.activation = activation

    def __call__(self, x: Sequence[Value | float]) -> Value:
        """Return ``activation(sum_i w_i x_i + b)`` for an input of length ``n_in``."""
        x = _check_inputs(x, len(self.w))
        z = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return ACTIVATIONS[self.activation].value_op(z)

    def parameters(self) -> list[Value]:
        """Return the weights followed by the bias."""
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, activation={self.activation!r})"


class Layer(Module):
    """A layer of ``n_out`` neurons that all read the same ``n_in`` inputs."""

    def __init__(self, n_in: int, n_out: int, *, activation: str = "relu", seed: Seed = 0) -> None:
        _check_size(n_in, "n_in")
        _check_size(n_out, "n_out")
        if n_in * n_out > MAX_LAYER_WEIGHTS:
            raise ValueError(f"n_in * n_out must be at most {MAX_LAYER_WEIGHTS:,} (a scalar Value "
                             f"network is for small examples), got {n_in} * {n_out}")
        activations.get(activation)
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
    """A multi-layer perceptron: layers of sizes ``n_outs`` applied in order, the last linear
    (activation ``identity``)."""

    def __init__(self, n_in: int, n_outs: Sequence[int], *, activation: str = "relu",
                 seed: Seed = 0) -> None:
        n_outs = validation.sequence(n_outs, "n_outs", min_len=1, what="layer sizes")
        _check_size(n_in, "n_in")
        for i, n in enumerate(n_outs):
            _check_size(n, f"n_outs[{i}]")
        activations.get(activation)
        rng = _make_rng(seed)
        sizes = [n_in, *n_outs]
        last = len(n_outs) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], activation=activation if i < last else "identity",
                  seed=rng)
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
        raise TypeError(f"seed must be an int or a random.Random, got "
                        f"{validation.describe(seed)}")
    return random.Random(validation.seed(seed))


def _check_size(n: object, name: str) -> int:
    """Return ``n`` if it is an int in [1, 10000]; raise TypeError/ValueError naming it."""
    return validation.integer(n, name, low=1, high=10_000)


def _check_inputs(x: object, n_in: int) -> list:
    """Return ``x`` as a list of ``n_in`` Values or finite floats (a lone one counts as 1)."""
    if isinstance(x, (Value, int, float)) and not isinstance(x, bool):
        x = [x]
    x = validation.sequence(x, "x", what="Values or numbers")
    if len(x) != n_in:
        raise ValueError(f"x must have length {n_in} (n_in), got length {len(x)}")
    return [xi if isinstance(xi, Value) else validation.number(xi, f"x[{i}]")
            for i, xi in enumerate(x)]
