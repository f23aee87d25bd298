"""Lab self-checks: run your function, get a friendly verdict, never a bare traceback.

Every check prints ``✅ ...`` or ``❌ ... expected X, observed Y, hint ...`` (``verbose=True``)
and returns a ``CheckResult`` that is truthy iff the check passed, so a build can
``assert check_tanh(tanh_fn).passed``. A student function that raises (including the
``NotImplementedError`` of an unfinished exercise) gives a failed result with a one-line
message. All comparisons are in float64 with the tolerances stated in each docstring.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mlpbook.engine import Value
from mlpbook.gradcheck import central_difference
from mlpbook.models import make_mlp

__all__ = ["CheckResult", "check_backward", "check_tanh", "check_mlp_backward",
           "check_is_linear", "check_collapse", "check_training_loop", "check_answer"]


@dataclass
class CheckResult:
    """Verdict of one self-check; ``bool(result)`` is ``result.passed``."""

    name: str
    passed: bool
    message: str
    expected: Any = None
    observed: Any = None
    hint: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.passed:
            return f"✅ {self.name}: {self.message}"
        text = f"❌ {self.name}: {self.message}"
        if self.expected is not None or self.observed is not None:
            text += f" expected {self.expected}, observed {self.observed}"
        return text + (f", hint: {self.hint}" if self.hint else "")

    __repr__ = __str__


class _Failed(Exception):
    """Internal: carries a failed CheckResult out of a check's body."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


def _call(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call the student's ``fn``; turn any exception into a one-line failed result."""
    try:
        return fn(*args)
    except _Failed:
        raise
    except Exception as err:  # noqa: BLE001 - any student error becomes a verdict
        detail = f": {str(err).splitlines()[0]}" if str(err).strip() else ""
        hint = ("replace `raise NotImplementedError` with your code" if isinstance(
            err, NotImplementedError) else "run it on its own to see the traceback")
        message = f"your function raised {type(err).__name__}{detail}."
        raise _Failed(CheckResult(name, False, message, hint=hint)) from None


def _run(name: str, body: Callable[[], CheckResult], verbose: bool,
         fn: object = None) -> CheckResult:
    if not callable(fn):
        raise TypeError(f"{name} needs your function (a callable), got {type(fn).__name__}")
    try:
        result = body()
    except _Failed as failed:
        result = failed.result
    if verbose:
        print(result)
    return result


def _close(a: float, b: float, atol: float, rtol: float) -> bool:
    return math.isfinite(a) and abs(a - b) <= atol + rtol * abs(b)


def _as_value(name: str, out: Any) -> Value:
    if not isinstance(out, Value):
        raise _Failed(CheckResult(name, False, "your function must return a Value.",
                                  "a Value", type(out).__name__))
    return out


def check_backward(fn: Callable[[Value], Value], *,
                   points: Sequence[float] = (-1.5, -0.3, 0.4, 2.0), atol: float = 1e-6,
                   rtol: float = 1e-4, verbose: bool = True) -> CheckResult:
    """Compare ``x.grad`` after ``fn(x).backward()`` with central differences at ``points``.

    Pass rule at every point: ``|grad - numeric| <= atol + rtol * |numeric|`` (h = 1e-6).
    """
    name = f"check_backward({getattr(fn, '__name__', 'fn')})"

    def body() -> CheckResult:
        for x in points:
            v = Value(x)
            _call(name, lambda: _as_value(name, fn(v)).backward())
            numeric = central_difference(
                lambda t: _as_value(name, _call(name, fn, Value(t))).data, x)
            if not _close(v.grad, numeric, atol, rtol):
                return CheckResult(name, False, f"wrong gradient at x = {x}:", f"{numeric:.6g}",
                                   f"{v.grad:.6g}", "check each local derivative in _backward, "
                                   "and that it multiplies by out.grad and adds with +=")
        return CheckResult(name, True, f"gradient matches central differences at {len(points)} "
                           f"points (atol {atol:g}, rtol {rtol:g}).")
    return _run(name, body, verbose, fn)


def check_tanh(tanh_fn: Callable[[Value], Value], *,
               points: Sequence[float] = (-2.0, -0.5, 0.0, 0.3, 1.7),
               atol: float = 1e-10, verbose: bool = True) -> CheckResult:
    """Check a student's tanh op on ``Value``: value vs ``math.tanh``, grad vs ``1 - tanh^2``.

    Three stages at every point, each to ``atol``: the value; the gradient of ``tanh_fn(x)``;
    and the gradient of ``3 * tanh_fn(x) + tanh_fn(x)`` (= 4 (1 - tanh^2), which catches a
    ``_backward`` that forgets ``out.grad`` or overwrites with ``=`` instead of ``+=``).
    """
    name = "check_tanh"

    def body() -> CheckResult:
        for x in points:
            t, dt = math.tanh(x), 1.0 - math.tanh(x) ** 2
            v = Value(x)
            out = _as_value(name, _call(name, tanh_fn, v))
            if not _close(out.data, t, atol, 0.0):
                return CheckResult(name, False, f"wrong value at x = {x}:", f"{t:.10f}",
                                   f"{out.data:.10f}", "the forward value is math.tanh(v.data)")
            _call(name, out.backward)
            if not _close(v.grad, dt, atol, 0.0):
                hint = ("v.grad stayed 0: is the output built with v as its input (prev) and is "
                        "_backward attached to it?" if v.grad == 0.0 and dt > 0 else
                        "the local derivative is 1 - tanh(x)**2, times out.grad")
                return CheckResult(name, False, f"wrong gradient at x = {x}:", f"{dt:.10f}",
                                   f"{v.grad:.10f}", hint)
            v = Value(x)
            _call(name, lambda: (_as_value(name, tanh_fn(v)) * 3 + tanh_fn(v)).backward())
            if not _close(v.grad, 4 * dt, atol, 0.0):
                return CheckResult(name, False, f"wrong gradient of 3*tanh(x) + tanh(x) at x = "
                                   f"{x}:", f"{4 * dt:.10f}", f"{v.grad:.10f}",
                                   "multiply the local derivative by out.grad, and accumulate "
                                   "with += (not =)")
        return CheckResult(name, True, f"value and gradient match math.tanh and 1 - tanh² at "
                           f"{len(points)} points (atol {atol:g}).")
    return _run(name, body, verbose, tanh_fn)


def _mlp_problem(seed: int) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    shapes = [(6, 3), (6, 1), (3, 4), (4,), (4, 1), (1,)]
    return tuple(torch.randn(s, generator=g, dtype=torch.float64) for s in shapes)


def check_mlp_backward(backward_fn: Callable[..., Sequence[Any]], *, seed: int = 0,
                       atol: float = 1e-8, verbose: bool = True) -> CheckResult:
    """Compare hand-written gradients of ``mean((relu(X@W1+b1)@W2+b2 - y)**2)`` with autograd.

    ``backward_fn(X, y, W1, b1, W2, b2) -> (dW1, db1, dW2, db2)``; each must have the shape of
    its parameter and match autograd in float64 to ``atol`` (absolute).
    """
    name = "check_mlp_backward"

    def body() -> CheckResult:
        X, y, W1, b1, W2, b2 = _mlp_problem(seed)
        params = [p.clone().requires_grad_(True) for p in (W1, b1, W2, b2)]
        loss = ((torch.relu(X @ params[0] + params[1]) @ params[2] + params[3] - y) ** 2).mean()
        expected = torch.autograd.grad(loss, params)
        grads = _call(name, backward_fn, X.clone(), y.clone(), W1.clone(), b1.clone(),
                      W2.clone(), b2.clone())
        if not isinstance(grads, (tuple, list)) or len(grads) != 4:
            return CheckResult(name, False, "return the four gradients as a tuple.",
                               "(dW1, db1, dW2, db2)", type(grads).__name__)
        for label, g, e in zip(("dW1", "db1", "dW2", "db2"), grads, expected):
            g = torch.as_tensor(np.asarray(g.detach() if isinstance(g, Tensor) else g),
                                dtype=torch.float64)
            if g.shape != e.shape:
                return CheckResult(name, False, f"{label} has the wrong shape:", tuple(e.shape),
                                   tuple(g.shape), "a gradient has the shape of its parameter")
            if not torch.allclose(g, e, atol=atol, rtol=0.0):
                hint = "go backwards one step at a time: dout, dW2, db2, dh, dz, dW1, db1"
                if torch.allclose(g, e * y.numel(), atol=atol, rtol=1e-6):
                    hint = "the loss is a mean: divide dout by N"
                elif torch.allclose(g, e / 2, atol=atol, rtol=1e-6):
                    hint = "d/dx x**2 = 2x: dout needs the factor 2"
                err = (g - e).abs().max().item()
                return CheckResult(name, False, f"{label} differs from autograd (max abs error "
                                   f"{err:.2e} > {atol:g}):", _short(e), _short(g), hint)
        return CheckResult(name, True, f"all four gradients match autograd (float64, atol "
                           f"{atol:g}).")
    return _run(name, body, verbose, backward_fn)


def _short(t: Tensor) -> str:
    return np.array2string(t.numpy().ravel()[:3], precision=4) + ("..." if t.numel() > 3 else "")


def check_is_linear(model: Callable[[Tensor], Tensor], *, in_features: int | None = None,
                    expect: bool = True, seed: int = 0, atol: float = 1e-10,
                    verbose: bool = True) -> CheckResult:
    """Check whether ``model`` is an affine map ``f(x) = W x + b`` (or, with expect=False, not).

    Test in float64: ``f(t x1 + (1-t) x2) = t f(x1) + (1-t) f(x2)`` for random x1, x2 and t = 2.5,
    to ``atol * (1 + |f|)``. ``in_features`` is read from the first ``nn.Linear`` of a module.
    """
    name = "check_is_linear"

    def body() -> CheckResult:
        f = model
        n_in = in_features
        if isinstance(model, nn.Module):
            f = copy.deepcopy(model).double()
            linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
            n_in = n_in or (linears[0].in_features if linears else None)
        if n_in is None:
            raise ValueError("in_features is needed when model has no nn.Linear layer")
        g = torch.Generator().manual_seed(seed)
        x1, x2 = (3 * torch.randn(32, n_in, generator=g, dtype=torch.float64) for _ in range(2))
        t = 2.5
        with torch.no_grad():
            lhs = _call(name, f, t * x1 + (1 - t) * x2)
            rhs = t * _call(name, f, x1) + (1 - t) * _call(name, f, x2)
        gap = ((lhs - rhs).abs() / (1 + rhs.abs())).max().item()
        linear = gap <= atol
        if linear == expect:
            what = "is affine (a single W x + b)" if linear else "is not affine"
            return CheckResult(name, True, f"the model {what}: relative gap {gap:.1e}.")
        hint = ("remove the activations (activation='identity')" if expect else
                "put a non-linear activation between the Linear layers")
        return CheckResult(name, False, "f(t x1 + (1-t) x2) vs t f(x1) + (1-t) f(x2):",
                           f"gap {'<=' if expect else '>'} {atol:g}", f"gap {gap:.2e}", hint)
    return _run(name, body, verbose, model)


def check_collapse(model: nn.Module, linear: nn.Linear | tuple[Any, Any], *, seed: int = 0,
                   verbose: bool = True) -> CheckResult:
    """Check that one ``nn.Linear`` (or a pair ``(W, b)``) computes exactly what ``model`` does.

    Tolerance ``tol * (1 + |model(X)|)`` with tol 1e-12 when everything is float64, else 1e-5.
    """
    name = "check_collapse"
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")

    def body() -> CheckResult:
        if isinstance(linear, nn.Linear):
            W, b = linear.weight.detach(), linear.bias.detach()
        elif isinstance(linear, (tuple, list)) and len(linear) == 2:
            W, b = (torch.as_tensor(v).detach() for v in linear)
        else:
            return CheckResult(name, False, "pass an nn.Linear or a pair (W, b).",
                               "nn.Linear or (W, b)", type(linear).__name__)
        dtypes = {p.dtype for p in model.parameters()} | {W.dtype, b.dtype}
        tol = 1e-12 if dtypes == {torch.float64} else 1e-5
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        n_in = linears[0].in_features if linears else W.shape[-1]
        if W.ndim != 2 or W.shape[1] != n_in:
            return CheckResult(name, False, "W has the wrong shape:", f"(out_features, {n_in})",
                               tuple(W.shape), "W has shape (out_features, in_features)")
        X = torch.randn(32, n_in, generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64)
        with torch.no_grad():
            want = _call(name, copy.deepcopy(model).double(), X)
            got = X @ W.double().T + b.double()
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
    return _run(name, body, verbose, model)


def check_training_loop(train_loop: Callable[..., Any], *, n_steps: int = 5, seed: int = 0,
                        atol: float = 1e-10, verbose: bool = True) -> CheckResult:
    """Run ``train_loop(model, X, y, optimizer, loss_fn, n_steps)`` against a correct reference.

    On a seeded float64 problem (2-4-1 tanh MLP, 16 points, SGD lr 0.1, MSE), the parameters
    after the student's loop must equal the reference's to ``atol``; a loop that forgets
    ``optimizer.zero_grad()`` or ``optimizer.step()`` is recognised and named in the hint.
    """
    name = "check_training_loop"

    def run(loop: Callable[..., Any], zero: bool = True, step: bool = True) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        X = torch.randn(16, 2, generator=g, dtype=torch.float64)
        y = torch.sin(X.sum(dim=1, keepdim=True))
        model = make_mlp(2, [4], 1, activation="tanh", seed=seed, dtype=torch.float64)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        if loop is not None:
            loop(model, X, y, optimizer, nn.MSELoss(), n_steps)
        else:  # the reference: pytorch/examples' loop (optionally with a bug, to name it)
            for _ in range(n_steps):
                if zero:
                    optimizer.zero_grad()
                loss = nn.functional.mse_loss(model(X), y)
                loss.backward()
                if step:
                    optimizer.step()
        return torch.cat([p.detach().ravel() for p in model.parameters()])

    def body() -> CheckResult:
        want = run(None)
        got = _call(name, run, train_loop)
        err = (got - want).abs().max().item()
        if err <= atol:
            return CheckResult(name, True, f"parameters after {n_steps} steps match the "
                               f"reference loop (max abs error {err:.1e}).")
        hint = "each step: optimizer.zero_grad(); loss = loss_fn(model(X), y); loss.backward(); " \
               "optimizer.step()"
        if torch.allclose(got, run(None, zero=False), atol=atol, rtol=0.0):
            hint = "you forgot optimizer.zero_grad(): gradients from earlier steps accumulate"
        elif torch.allclose(got, run(None, step=False), atol=atol, rtol=0.0):
            hint = "the parameters never changed: call optimizer.step() after loss.backward()"
        return CheckResult(name, False, f"parameters after {n_steps} steps differ from the "
                           f"reference:", "max abs error 0", f"{err:.2e}", hint)
    return _run(name, body, verbose, train_loop)


def check_answer(name: str, observed: Any, expected: Any, *, atol: float = 1e-6,
                 rtol: float = 0.0, verbose: bool = True) -> CheckResult:
    """Compare a numeric answer (number, sequence, array or tensor) in float64 within tolerances.

    Pass rule: same shape and ``|observed - expected| <= atol + rtol * |expected|`` everywhere.
    """
    def show(a: np.ndarray) -> str:
        return f"{a.item():.6g}" if a.ndim == 0 else np.array2string(a, precision=6)

    def body() -> CheckResult:
        if observed is None or observed is Ellipsis:
            return CheckResult(name, False, "no answer yet.", hint="replace ... with your answer")
        try:
            obs, exp = (np.asarray(v.detach().cpu() if isinstance(v, Tensor) else v,
                                   dtype=np.float64) for v in (observed, expected))
        except (TypeError, ValueError):
            return CheckResult(name, False, "the answer must be a number or an array of numbers.",
                               expected, type(observed).__name__)
        if obs.shape != exp.shape:
            return CheckResult(name, False, "wrong shape:", exp.shape, obs.shape)
        if np.all(np.isfinite(obs)) and np.all(np.abs(obs - exp) <= atol + rtol * np.abs(exp)):
            return CheckResult(name, True, f"{show(obs)} is right (atol {atol:g}).", show(exp),
                               show(obs))
        return CheckResult(name, False, "not quite:", show(exp), show(obs),
                           f"tolerance is atol {atol:g}, rtol {rtol:g}")
    return _run(name, body, verbose, fn=print)
