"""Self-checks on linear models: is a model affine, and does one layer reproduce it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from mlpbook import models, validation
from mlpbook.checks.core import (TIME_LIMIT, CheckResult, _call, _check_settings, _code_of,
                                 _fail, _first_line, _refuse_library, _run, _tensor, _watching)

#: The library's answer to the lab's ``collapse``: calling it earns nothing.
LIBRARY_COLLAPSE = {_code_of(models.collapse_linear): "mlpbook.models.collapse_linear"}


def _in_features(model: nn.Module) -> int | None:
    return next(iter(models._input_widths(model)), None)


def _float64_copy(name: str, model: nn.Module) -> nn.Module:
    try:
        return copy.deepcopy(model).double()
    except Exception as err:  # noqa: BLE001 - a model that cannot be copied is a verdict
        raise _fail(name, f"the model could not be copied to float64 ({_first_line(err)}).",
                    "an nn.Module", validation.describe(model),
                    "build the model from nn.Linear layers, e.g. with make_mlp") from None


def check_is_linear(model: Callable[[Tensor], Tensor], *, in_features: int | None = None,
                    expect: bool = True, seed: int = 0, atol: float = 1e-10,
                    verbose: bool = True, timeout: float = TIME_LIMIT) -> CheckResult:
    """Check whether ``model`` is an affine map ``f(x) = W x + b`` (or, with expect=False, not).

    Test in float64: ``f(t x1 + (1-t) x2) = t f(x1) + (1-t) f(x2)`` for random x1, x2 and t = 2.5,
    to ``atol * (1 + |f|)``. ``in_features`` is read from the first ``nn.Linear`` of a module.
    """
    if in_features is not None:
        validation.integer(in_features, "in_features (an int or None)", low=1, high=100_000)
    validation.boolean(expect, "expect")
    seed = validation.seed(seed)
    timeout = _check_settings(verbose, timeout, atol=atol)
    name = "check_is_linear"

    def body() -> CheckResult:
        f, n_in = model, in_features
        if isinstance(model, nn.Module):
            f = _float64_copy(name, model)
            n_in = n_in or _in_features(model)
        if n_in is None:
            return CheckResult(name, False, "the input width of the model is unknown.",
                               "a model with an nn.Linear layer, or in_features=...",
                               validation.describe(model),
                               "pass the width of the input, e.g. check_is_linear(f, "
                               "in_features=2)")
        g = torch.Generator().manual_seed(seed)
        x1, x2 = (3 * torch.randn(32, n_in, generator=g, dtype=torch.float64) for _ in range(2))
        t = 2.5
        hint = (f"the model must map a float64 tensor of shape (32, {n_in}) to a tensor with 32 "
                f"rows; build it with dtype=torch.float64 or pass the nn.Module itself")

        def out(x: Tensor) -> Tensor:
            with torch.no_grad():
                y = _tensor(name, _call(name, f, x.clone()), "the model's output", hint)
            if y.ndim == 0 or y.shape[0] != x.shape[0]:
                raise _fail(name, "the model's output has the wrong shape.",
                            f"({x.shape[0]}, ...)", tuple(y.shape), hint)
            return y

        lhs, y1, y2 = out(t * x1 + (1 - t) * x2), out(x1), out(x2)
        if not (lhs.shape == y1.shape == y2.shape):
            return CheckResult(name, False, "the model's output shape changes between calls.",
                               tuple(y1.shape), tuple(lhs.shape), hint)
        rhs = t * y1 + (1 - t) * y2
        gap = ((lhs - rhs).abs() / (1 + rhs.abs())).max().item()
        linear = gap <= atol
        if linear == expect:
            what = "is affine (a single W x + b)" if linear else "is not affine"
            return CheckResult(name, True, f"the model {what}: relative gap {gap:.1e}.")
        hint = ("remove the activations (activation='identity')" if expect else
                "put a non-linear activation between the Linear layers")
        return CheckResult(name, False, "f(t x1 + (1-t) x2) vs t f(x1) + (1-t) f(x2):",
                           f"gap {'<=' if expect else '>'} {atol:g}", f"gap {gap:.2e}", hint)
    return _run(name, body, verbose, timeout, model, "a model or function")


def check_collapse(model: nn.Module, linear: nn.Linear | tuple[Any, Any] | Callable[..., Any],
                   *, seed: int = 0, verbose: bool = True,
                   timeout: float = TIME_LIMIT) -> CheckResult:
    """Check that one ``nn.Linear`` (or a pair ``(W, b)``) computes exactly what ``model`` does.

    ``linear`` may also be the student's function ``collapse``: it is then called on a copy of
    ``model`` under the time limit, and fails if it calls the library's ``collapse_linear``
    (the exercise is to write it). Tolerance ``tol * (1 + |model(X)|)`` with tol 1e-12 when
    everything is float64, else 1e-5.
    """
    seed = validation.seed(seed)
    timeout = _check_settings(verbose, timeout)
    name = "check_collapse"
    hint_wb = "return nn.Linear(in, out) with weight W of shape (out, in) and bias b of shape (out,)"

    def body() -> CheckResult:
        if not isinstance(model, nn.Module):
            return CheckResult(name, False, "the first argument must be the model.",
                               "an nn.Module", validation.describe(model), "pass the network "
                               "itself, e.g. check_collapse(deep_linear, ...)")
        n_in = _in_features(model)
        if n_in is None:
            return CheckResult(name, False, "the model has no nn.Linear layer.", "an nn.Module "
                               "with Linear layers", validation.describe(model), hint_wb)
        single = linear
        if callable(linear) and not isinstance(linear, nn.Module):
            with _watching(LIBRARY_COLLAPSE) as called:
                single = _call(name, linear, copy.deepcopy(model))
            _refuse_library(name, called, "collapse")
        if isinstance(single, nn.Linear):
            W = _tensor(name, single.weight, "the weight", hint_wb)
            b = (torch.zeros(W.shape[0], dtype=torch.float64) if single.bias is None else
                 _tensor(name, single.bias, "the bias", hint_wb))
            raw = [single.weight]
        elif isinstance(single, (tuple, list)) and len(single) == 2:
            W = _tensor(name, single[0], "W", hint_wb)
            b = _tensor(name, single[1], "b", hint_wb)
            raw = list(single)
        else:
            return CheckResult(name, False, "pass an nn.Linear or a pair (W, b).",
                               "nn.Linear or (W, b)", validation.describe(single), hint_wb)
        if W.ndim != 2 or W.shape[1] != n_in:
            return CheckResult(name, False, "W has the wrong shape:", f"(out_features, {n_in})",
                               tuple(W.shape), "W has shape (out_features, in_features)")
        if b.numel() != W.shape[0]:
            return CheckResult(name, False, "b has the wrong shape:", f"({W.shape[0]},)",
                               tuple(b.shape), "b has one entry per output")
        all64 = all(p.dtype == torch.float64 for p in model.parameters()) and all(
            str(getattr(v, "dtype", "float64")).endswith("float64") for v in raw)
        tol = 1e-12 if all64 else 1e-5
        X = torch.randn(32, n_in, generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64)
        with torch.no_grad():
            want = _tensor(name, _call(name, _float64_copy(name, model), X), "model(X)", hint_wb)
            got = X @ W.T + b.reshape(-1)
        if got.shape != want.shape:
            return CheckResult(name, False, "output shapes differ:", tuple(want.shape),
                               tuple(got.shape), "W has shape (out_features, in_features)")
        gap = ((got - want).abs() / (1 + want.abs())).max().item()
        if gap <= tol:
            return CheckResult(name, True, f"one Linear layer reproduces the model (gap "
                               f"{gap:.1e} <= {tol:g}).")
        return CheckResult(name, False, "the single layer computes something else:",
                           f"gap <= {tol:g}", f"gap {gap:.2e}",
                           "W = W2 @ W1 and b = W2 @ b1 + b2 (mind the order)")
    return _run(name, body, verbose, timeout)
