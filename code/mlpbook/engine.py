"""A scalar reverse-mode autograd engine: ``Value`` and ``topological_sort``.

Each operation builds its output ``Value`` and a ``_backward`` closure that applies the local
chain rule with ``+=``, so a node used twice receives both contributions. Only a few core
operations exist, each listed in ``mlpbook.ops.OPS`` (its registry entry); everything else
is built from them (``a - b`` is ``a + (-b)``, ``a / b`` is
``a * b**-1``). Pure Python: no torch.
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Callable, Union

from mlpbook import validation

__all__ = ["Value", "topological_sort", "ZeroDivision"]

Number = Union[int, float]


class ZeroDivision(ZeroDivisionError, ValueError):
    """Division by a ``Value`` of 0 (or 0 to a negative power): both a ZeroDivisionError and a
    ValueError, so ``except ValueError`` catches it like every other bad input."""


class Value:
    """A scalar that remembers how it was computed, so it can backpropagate gradients."""

    def __init__(self, data: Number, label: str = "", *, _prev: tuple[Value, ...] = (),
                 _op: str = "") -> None:
        self.prev: tuple[Value, ...] = _check_prev(_prev)  # ordered, no duplicates
        self.data: float = _check_data(data, validation.text(_op, "_op"), self.prev)
        self.grad: float = 0.0
        self.label: str = validation.text(label, "label")
        self.op: str = _op
        self._backward: Callable[[], None] = lambda: None

    @property
    def is_leaf(self) -> bool:
        """True for a node made by the user rather than by an operation (torch's ``is_leaf``)."""
        return not self.prev

    def __repr__(self) -> str:
        grad = self.grad
        shown = f"{grad:.4f}" if isinstance(grad, (int, float)) else repr(grad)  # even if broken
        return f"Value(data={self.data:.4f}, grad={shown})"

    # ----- core operations: each one is a local derivative --------------------------------
    def __add__(self, other: Value | Number) -> Value:
        """Return ``self + other``; d(out)/d(self) = d(out)/d(other) = 1."""
        other = _as_value(other)
        out = Value(self.data + other.data, _prev=(self, other), _op="+")

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | Number) -> Value:
        """``self * other``: d(out)/d(self) = other, d(out)/d(other) = self."""
        other = _as_value(other)
        out = Value(self.data * other.data, _prev=(self, other), _op="*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent: Number) -> Value:
        """Return ``self ** exponent`` for a constant exponent; d(out)/d(self) = p x^(p-1)."""
        p = validation.number(exponent, "exponent")
        if self.data <= 0 and not p.is_integer():
            raise ValueError(f"x ** {p:g} needs x > 0 for a non-integer exponent, "
                             f"got x = {self.data}")
        if self.data == 0 and p < 0:
            raise ZeroDivision(f"division by zero: x ** {p:g} at x = 0 (a / b is computed as "
                               f"a * b ** -1, so dividing by a Value of 0 ends here too)")
        out = Value(_power(self.data, p), _prev=(self,), _op=f"**{p:g}")

        def _backward() -> None:
            if p:  # x ** 0 is a constant (and its rule would compute 0.0 ** -1 at x = 0)
                self.grad += p * _backward_power(self.data, p - 1, out.op) * out.grad

        out._backward = _backward
        return out

    def __neg__(self) -> Value:
        """Return ``-self``; d(out)/d(self) = -1."""
        out = Value(-self.data, _prev=(self,), _op="neg")

        def _backward() -> None:
            self.grad -= out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        """Return ``e ** self``; d(out)/d(self) = out."""
        if self.data > _MAX_EXP:  # ln(largest float64) = 709.7827...; the message rounds down
            raise ValueError(f"exp({self.data:g}) overflows float64: exp needs x <= 709.78")
        out = Value(math.exp(self.data), _prev=(self,), _op="exp")

        def _backward() -> None:
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        """Return the natural log of ``self`` (must be > 0); d(out)/d(self) = 1 / self."""
        if self.data <= 0:
            raise ValueError(f"log needs a positive value, got {self!r}")
        out = Value(math.log(self.data), _prev=(self,), _op="log")

        def _backward() -> None:
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        """Return ``tanh(self)``; d(out)/d(self) = 1 - out**2."""
        t = math.tanh(self.data)
        out = Value(t, _prev=(self,), _op="tanh")

        def _backward() -> None:
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        """Return ``1 / (1 + e**-self)``; d(out)/d(self) = out * (1 - out)."""
        x = self.data
        s = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))  # no overflow
        out = Value(s, _prev=(self,), _op="sigmoid")

        def _backward() -> None:
            self.grad += s * (1 - s) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        """Return ``max(0, self)``; d(out)/d(self) = 1 if self > 0 else 0 (as in torch)."""
        out = Value(max(0.0, self.data), _prev=(self,), _op="relu")

        def _backward() -> None:
            self.grad += (self.data > 0) * out.grad

        out._backward = _backward
        return out

    def gelu(self) -> Value:
        """Return ``x * Phi(x)`` (exact GELU, Phi the standard normal CDF, via erf);
        d(out)/d(self) = Phi(x) + x * phi(x), phi the standard normal density."""
        x = self.data
        cdf = 0.5 * (1.0 + math.erf(x / _SQRT2))
        out = Value(x * cdf, _prev=(self,), _op="gelu")

        def _backward() -> None:
            self.grad += (cdf + x * math.exp(-0.5 * x * x) / _SQRT2PI) * out.grad

        out._backward = _backward
        return out

    # ----- everything else is built from the core operations ------------------------------
    def __radd__(self, other: Number) -> Value:
        """Return ``other + self``."""
        return self + other

    def __sub__(self, other: Value | Number) -> Value:
        """Return ``self - other``."""
        return self + (-_as_value(other))

    def __rsub__(self, other: Number) -> Value:
        """Return ``other - self``."""
        return _as_value(other) + (-self)

    def __rmul__(self, other: Number) -> Value:
        """Return ``other * self``."""
        return self * other

    def __truediv__(self, other: Value | Number) -> Value:
        """Return ``self / other``."""
        return self * _as_value(other) ** -1

    def __rtruediv__(self, other: Number) -> Value:
        """Return ``other / self``."""
        return _as_value(other) * self**-1

    # ----- backpropagation -----------------------------------------------------------------
    def backward(self, grad: float = 1.0) -> None:
        """Backpropagate from this node: add d(self)/d(leaf) * grad to each leaf's grad."""
        grad = validation.number(grad, "grad")
        order = topological_sort(self)
        for node in order:
            if not node.is_leaf:
                node.grad = 0.0  # intermediates start afresh; leaves accumulate (torch)
        self.grad += grad
        for node in reversed(order):  # outputs before inputs
            node._backward()
        _check_grads(order, grad)

    def zero_grad(self) -> None:
        """Set this node's gradient back to 0.0."""
        self.grad = 0.0


_MAX_EXP = math.log(sys.float_info.max)  # 709.78...
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


def _as_value(x: Value | Number) -> Value:
    """Wrap a Python number as a constant leaf ``Value``; pass a ``Value`` through."""
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"the other operand must be a Value or a number, got "
                        f"{validation.describe(x)}")
    return Value(validation.number(x, "the other operand"))


def _check_prev(prev: object) -> tuple[Value, ...]:
    """Return the inputs of an operation as a tuple of distinct Values, in order."""
    if not isinstance(prev, (tuple, list)) or not all(isinstance(p, Value) for p in prev):
        raise TypeError(f"_prev must be a tuple of the Values the result is computed from, "
                        f"e.g. (self,) or (self, other), got {validation.describe(prev)}")
    return tuple(dict.fromkeys(prev))


def _check_data(data: object, op: str, prev: tuple[Value, ...]) -> float:
    """Return ``data`` as a float; an operation whose result overflows names itself."""
    if type(data) is float and math.isfinite(data):  # the usual case, checked fast
        return data
    if op and isinstance(data, float) and not math.isfinite(data):
        inputs = ", ".join(f"{p.data:g}" for p in prev)
        raise ValueError(f"the result of {op!r} on ({inputs}) is {data}: it overflows float64 "
                         f"(whose largest number is about 1.8e308); keep the values smaller")
    return validation.number(data, "data")


def _power(x: float, p: float) -> float:
    """``x ** p``, or inf where Python would raise OverflowError."""
    try:
        return x**p
    except OverflowError:
        return math.inf


def _backward_power(x: float, q: float, op: str) -> float:
    """``x ** q`` for the local derivative of ``op``; ValueError naming both where it overflows."""
    value = _power(x, q)
    if math.isinf(value):
        raise ValueError(f"the backward pass of '{op}' overflows float64 at x = {x:g}: its local "
                         f"derivative needs x ** {q:g}, beyond the largest float64 "
                         f"({sys.float_info.max:.3g})")
    return value


def _check_grads(order: list[Value], grad: float) -> None:
    """Raise ValueError if backpropagation made a gradient overflow to inf (or nan)."""
    for node in order:
        if type(node.grad) is float:  # the usual case, checked fast
            continue
        if isinstance(node.grad, bool) or not isinstance(node.grad, numbers.Real):
            raise TypeError(f"after backward, the grad of the Value with data {node.data:g} is "
                            f"{validation.describe(node.grad)}, not a number: every _backward "
                            f"must add a number to .grad")
    bad = [node for node in order if not math.isfinite(node.grad)]
    if bad:
        raise ValueError(f"backward made {len(bad)} gradient(s) overflow to {bad[0].grad} "
                         f"(grad = {grad:g} times the local derivatives exceeds float64); "
                         f"use a smaller grad")


def topological_sort(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each after all of its inputs, ``root`` last."""
    if not isinstance(root, Value):
        raise TypeError(f"root must be a Value, got {type(root).__name__}")
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]  # (node, inputs pushed?)
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)  # all of its inputs are already in `order`
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.prev))  # first input first
    return order
