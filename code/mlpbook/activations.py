"""The activation functions, in one registry that ``nn``, ``models``, ``plot`` and the tests read.

``ACTIVATIONS[name]`` gives, for each name accepted by an ``activation=`` argument: the op of
the scalar engine (``Value -> Value``, whose local derivative lives in ``engine.py``), a factory
for the torch module, and a NumPy function with its derivative (for figures and tests). The
no-op activation is called ``identity``. Adding an activation is one entry here plus its op in
``engine.py`` and the op's entry in ``mlpbook.ops``; the tests check every entry against the
others, and the activations figure shows every entry but ``identity``. torch is imported only when a
torch module is built, so ``nn`` (pure Python) can use this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlpbook import validation
from mlpbook.engine import Value

if TYPE_CHECKING:
    from torch import nn

__all__ = ["Activation", "ACTIVATIONS", "get"]


@dataclass(frozen=True)
class Activation:
    """One activation function, in each of the forms the book uses."""

    name: str                                    #: key in ``ACTIVATIONS``, e.g. "relu"
    label: str                                   #: how figures print it, e.g. "ReLU"
    value_op: Callable[[Value], Value]           #: the scalar-engine op
    torch_module: Callable[[], nn.Module]        #: builds the torch layer, e.g. nn.ReLU()
    numpy_fn: Callable[[np.ndarray], np.ndarray]     #: sigma(z), elementwise
    numpy_grad: Callable[[np.ndarray], np.ndarray]   #: sigma'(z), elementwise


def _torch(class_name: str, **kwargs: Any) -> Callable[[], nn.Module]:
    """A factory for ``torch.nn.<class_name>(**kwargs)`` that imports torch when called."""
    def make() -> nn.Module:
        from torch import nn

        return getattr(nn, class_name)(**kwargs)

    make.__name__ = make.__qualname__ = f"nn.{class_name}"
    return make


def _identity(v: Value) -> Value:
    return v


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))  # no overflow


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(np.asarray(z, dtype=np.float64) / math.sqrt(2.0)))


def _gelu(z: np.ndarray) -> np.ndarray:
    """GELU, exact form: z * Phi(z), Phi the standard normal CDF."""
    return np.asarray(z, dtype=np.float64) * _gelu_cdf(z)


def _gelu_grad(z: np.ndarray) -> np.ndarray:
    """Phi(z) + z * phi(z)."""
    z = np.asarray(z, dtype=np.float64)
    return _gelu_cdf(z) + z * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


_ENTRIES = [
    Activation("relu", "ReLU", Value.relu, _torch("ReLU"),
               lambda z: np.maximum(z, 0.0), lambda z: np.where(np.asarray(z) > 0, 1.0, 0.0)),
    Activation("sigmoid", "sigmoid", Value.sigmoid, _torch("Sigmoid"),
               _sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    Activation("tanh", "tanh", Value.tanh, _torch("Tanh"),
               np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    Activation("gelu", "GELU", Value.gelu, _torch("GELU"), _gelu, _gelu_grad),
    Activation("identity", "identity", _identity, _torch("Identity"),
               lambda z: np.asarray(z, dtype=np.float64), lambda z: np.ones_like(z, dtype=float)),
]

#: Every activation by name, in the order figures and error messages list them.
ACTIVATIONS: dict[str, Activation] = {a.name: a for a in _ENTRIES}

_HINTS = {"linear": "the no-op activation is called 'identity'",
          "none": "the no-op activation is called 'identity'"}


def get(name: object, argname: str = "activation") -> Activation:
    """Return ``ACTIVATIONS[name]``, or raise a ValueError that lists the valid names."""
    hints = dict(_HINTS)
    if isinstance(name, str) and name.lower() in ACTIVATIONS:
        hints[name] = f"names are lower case: {name.lower()!r}"
    return ACTIVATIONS[validation.one_of(name, argname, ACTIVATIONS, hints)]
