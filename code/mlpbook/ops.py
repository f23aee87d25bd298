"""The op registry: one entry per core operation of the scalar engine (``mlpbook.engine.Value``).

An op is its method on ``Value`` (which computes the output and defines the local derivative in
its ``_backward`` closure) plus its entry here. Everything else that lists the engine's ops reads
this registry, so a new op is picked up without further edits:

- the backprop page's rule checks (:func:`checks`) and its random expression (:func:`mixes`),
- the explorer (``mlpbook.explorer``): an op without a JavaScript rule is drawn from the values
  and local derivatives the engine computes (:func:`local_derivatives`),
- the tests' op lists (engine against torch, bad input, the explorer's graphs, rule coverage).

Each ``Case`` is written so that it runs on ``Value`` and on float64 torch tensors alike (the
tests and the page compare the two). Pure Python: torch is imported only when a tensor is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlpbook.engine import Value

__all__ = ["Case", "Op", "OPS", "checks", "mixes", "by_symbol", "local_derivatives"]

DOMAINS = ("any", "nonzero", "positive")  #: what a Case's argument may be


def _anything(*_: float) -> bool:
    return True


@dataclass(frozen=True)
class Case:
    """One use of an op, as the backprop page prints it and the tests draw it."""

    label: str                          #: e.g. "a / b"
    fn: Callable[..., Any]              #: of Values or float64 tensors alike
    point: tuple[float, ...]            #: where the page checks the rule (no wrong rule passes)
    domain: tuple[str, ...] = ("any",)  #: per argument, one of ``DOMAINS`` (for the tests)
    accepts: Callable[..., bool] = _anything  #: inputs the page's random expression may use


@dataclass(frozen=True)
class Op:
    """One core op of the engine."""

    name: str      #: the method's name without underscores, e.g. "mul", "gelu"
    method: str    #: the method of ``Value``, e.g. "__mul__", "gelu"
    symbol: str    #: ``Value.op`` of its result ("**" stands for "**<exponent>")
    arity: int     #: number of ``Value`` operands
    rule: str      #: the local derivative, in words (the method's docstring says the same)
    checks: tuple[Case, ...]                     #: the backprop page's rule checks
    mixes: tuple[Case, ...]                      #: forms of the page's random expression
    reference: Callable[[float], float] | None = None  #: plain-float function (unary ops)


def _unary(method: str, torch_name: str | None = None) -> Callable[[Any], Any]:
    """``x.<method>()`` for a Value, and for a tensor ``x.<method>()`` or
    ``torch.nn.functional.<torch_name>(x)``."""
    def fn(x: Any) -> Any:
        if isinstance(x, Value) or torch_name is None:
            return getattr(x, method)()
        from torch.nn import functional

        return getattr(functional, torch_name)(x)

    fn.__name__ = fn.__qualname__ = method
    return fn


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _gelu(x: float) -> float:
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))


_exp, _log, _tanh = _unary("exp"), _unary("log"), _unary("tanh")
_sig, _relu, _gelu_op = _unary("sigmoid"), _unary("relu"), _unary("gelu", "gelu")

#: The engine's core ops, in the order the page's tables list them.
OPS: dict[str, Op] = {op.name: op for op in [
    Op("add", "__add__", "+", 2, "1 for each operand",
       checks=(Case("a + b", lambda a, b: a + b, (1.5, -0.8), ("any", "any")),),
       mixes=(Case("a + b", lambda a, b: a + b, (), ("any", "any")),)),
    Op("mul", "__mul__", "*", 2, "the other operand",
       checks=(Case("a * b", lambda a, b: a * b, (1.5, -0.8), ("any", "any")),),
       mixes=(Case("a * b", lambda a, b: a * b, (), ("any", "any")),)),
    Op("pow", "__pow__", "**", 1, "p x^(p-1), for a constant exponent p",
       checks=(Case("a / b", lambda a, b: a / b, (1.5, -0.8), ("any", "nonzero")),
               Case("a ** 3", lambda a: a ** 3, (1.3,))),
       mixes=(Case("a ** 2", lambda a: a ** 2, ()),
              Case("1 / a", lambda a: a ** -1, (), ("nonzero",), lambda a: abs(a) > 0.5))),
    Op("neg", "__neg__", "neg", 1, "-1",
       checks=(Case("a - b", lambda a, b: a - b, (1.5, -0.8), ("any", "any")),),
       mixes=(Case("-a", lambda a: -a, ()),), reference=lambda x: -x),
    Op("exp", "exp", "exp", 1, "the output, e^x",
       checks=(Case("exp(a)", _exp, (0.7,)),),
       mixes=(Case("exp(a)", _exp, (), accepts=lambda a: a < 1),), reference=math.exp),
    Op("log", "log", "log", 1, "1 / x",
       checks=(Case("log(a)", _log, (2.5,), ("positive",)),),
       mixes=(Case("log(a)", _log, (), ("positive",), lambda a: a > 0.2),), reference=math.log),
    Op("tanh", "tanh", "tanh", 1, "1 - out^2",
       checks=(Case("tanh(a)", _tanh, (0.7,)),),
       mixes=(Case("tanh(a)", _tanh, ()),), reference=math.tanh),
    Op("sigmoid", "sigmoid", "sigmoid", 1, "out (1 - out)",
       checks=(Case("sigmoid(a)", _sig, (0.7,)),),
       mixes=(Case("sigmoid(a)", _sig, ()),), reference=_sigmoid),
    Op("relu", "relu", "relu", 1, "1 if x > 0 else 0 (as in torch)",
       checks=(Case("relu(a), a > 0", _relu, (0.7,), ("nonzero",)),
               Case("relu(a), a < 0", _relu, (-0.7,), ("nonzero",))),
       mixes=(Case("relu(a)", _relu, ()),), reference=lambda x: max(0.0, x)),
    Op("gelu", "gelu", "gelu", 1, "Phi(x) + x phi(x) (normal CDF and density)",
       checks=(Case("gelu(a), a > 0", _gelu_op, (0.7,)), Case("gelu(a), a < 0", _gelu_op, (-1.3,))),
       mixes=(Case("gelu(a)", _gelu_op, ()),), reference=_gelu),
]}


def checks() -> list[Case]:
    """Every rule check of every op, in registry order (the backprop page's ``rules``)."""
    return [case for op in OPS.values() for case in op.checks]


def mixes() -> list[Case]:
    """Every form of every op for the page's random expression (its ``OPS``)."""
    return [case for op in OPS.values() for case in op.mixes]


def by_symbol(symbol: str) -> Op:
    """The op whose results carry ``Value.op == symbol`` ("**2" is the op "**")."""
    if not isinstance(symbol, str):
        raise TypeError(f"symbol must be the op of an engine Value (a str such as 'tanh'), got "
                        f"{type(symbol).__name__}")
    key = "**" if symbol.startswith("**") else symbol
    for op in OPS.values():
        if op.symbol == key:
            return op
    raise ValueError(f"symbol must be the op of an engine Value, one of "
                     f"{[o.symbol for o in OPS.values()]}, got {symbol!r}")


def local_derivatives(node: Value) -> list[float]:
    """d(node)/d(input) for each input of ``node``, computed by the engine itself: its
    ``_backward`` closure run once with ``node.grad = 1`` on zeroed inputs. The grads of
    ``node`` and of its inputs are left as they were."""
    if not isinstance(node, Value):
        raise TypeError(f"node must be a mlpbook.engine.Value, got {type(node).__name__}")
    saved = [node.grad] + [p.grad for p in node.prev]
    try:
        for p in node.prev:
            p.grad = 0.0
        node.grad = 1.0
        node._backward()
        return [p.grad for p in node.prev]
    finally:
        node.grad = saved[0]
        for p, g in zip(node.prev, saved[1:]):
            p.grad = g
