"""Lab self-checks: run your function, get a friendly verdict, never a traceback or a hang.

Every check prints ``✅ ...`` or ``❌ ... expected X, observed Y, hint: ...`` (``verbose=True``)
and returns a ``CheckResult`` that is truthy iff the check passed, so a build can
``assert check_tanh(tanh_fn).passed``. Whatever the student's function does (raises, returns
None, ``...``, a string, complex numbers or the wrong shape, changes its inputs, prints, or
never returns), the check fails with a message: it never raises and never hangs. Student code
runs under a time limit (``timeout`` seconds, ``TIME_LIMIT`` by default, see ``timelimit``);
what it prints is shown, cut to ``MAX_OUTPUT`` characters. The check's own settings
(``points``, ``atol``, ``seed``, ``expected``...) come from the page, not the student: bad
ones raise TypeError/ValueError. All comparisons are in float64 with the tolerances stated in
each docstring.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import numbers
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.autograd.gradcheck import GradcheckError

from mlpbook import models, validation
from mlpbook.engine import Value
from mlpbook.gradcheck import central_difference
from mlpbook.timelimit import TimeLimitExceeded, call_with_time_limit

__all__ = ["CheckResult", "check_backward", "check_tanh", "check_mlp_backward",
           "check_gradcheck", "check_is_linear", "check_collapse", "check_training_loop",
           "check_capacity", "check_answer", "TIME_LIMIT"]

#: Seconds a check lets the student's code run before stopping it.
TIME_LIMIT = 10.0
#: Characters of the student's own printed output shown with the verdict.
MAX_OUTPUT = 2000


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


def _fail(name: str, message: str, expected: Any, observed: Any, hint: str) -> _Failed:
    return _Failed(CheckResult(name, False, message, expected, observed, hint))


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0][:200]}" if text else type(err).__name__


def _call(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call the student's ``fn``; turn any exception into a one-line failed result."""
    try:
        return fn(*args)
    except _Failed:
        raise
    except (Exception, SystemExit) as err:  # noqa: BLE001 - any student error becomes a verdict
        hint = ("replace `raise NotImplementedError` with your code" if isinstance(
            err, NotImplementedError) else "run your function on its own to see the traceback")
        raise _fail(name, f"your function raised {_first_line(err)}.", "no exception",
                    type(err).__name__, hint) from None


class _CappedOutput(io.StringIO):
    """Keeps the first ``MAX_OUTPUT`` characters written to it and counts the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def write(self, s: str) -> int:
        s = str(s)
        room = MAX_OUTPUT - self.tell()
        super().write(s[:max(room, 0)])
        self.dropped += max(len(s) - max(room, 0), 0)
        return len(s)

    def text(self) -> str:
        out = self.getvalue()
        if self.dropped:
            out += f"\n... ({self.dropped} more characters of output cut)\n"
        return out


def _check_settings(verbose: object, timeout: object, **tolerances: object) -> float:
    """Validate the settings every check shares; return the timeout in seconds."""
    validation.boolean(verbose, "verbose")
    for key, value in tolerances.items():
        validation.number(value, key, low=0.0)
    return validation.number(timeout, "timeout", low=0.01, high=3600.0)


def _run(name: str, body: Callable[[], CheckResult], verbose: bool, timeout: float,
         fn: object = print, what: str = "your function") -> CheckResult:
    """Run ``body`` under the time limit, capturing prints; always return a CheckResult."""
    if not callable(fn):
        result = CheckResult(name, False, f"{name} needs {what} (something callable).",
                             "a function", validation.describe(fn),
                             f"pass the function itself, e.g. {name}(my_function), without "
                             f"calling it")
        return _report(result, "", verbose)
    output = _CappedOutput()
    try:
        with contextlib.redirect_stdout(output):
            result = call_with_time_limit(body, seconds=timeout)
    except _Failed as failed:
        result = failed.result
    except TimeLimitExceeded as err:
        result = CheckResult(
            name, False, f"your code did not finish within {timeout:g} s, so it was stopped"
            f"{'' if err.stopped else ' (it may still be running)'}.",
            f"a result within {timeout:g} s", "still running after the time limit",
            "look for a loop that never ends: a `while` whose condition never becomes False, "
            "or a loop that keeps adding to what it loops over")
    except (Exception, SystemExit) as err:  # noqa: BLE001 - a check never raises
        result = CheckResult(name, False, f"your code produced something the check cannot use "
                             f"({_first_line(err)}).", "what the exercise asks for",
                             validation.describe(err), "run your function on its own and look "
                             "at what it returns")
    return _report(result, output.text(), verbose)


def _report(result: CheckResult, output: str, verbose: bool) -> CheckResult:
    if output:
        print(output, end="" if output.endswith("\n") else "\n")
    if verbose:
        print(result)
    return result


# ----- what the student's code returned, as numbers -------------------------------------------
def _real(name: str, x: Any, what: str, hint: str) -> float:
    """``x`` as a finite float, or a failed result saying what ``what`` was instead."""
    if isinstance(x, Tensor) and x.numel() == 1 and not x.is_complex() and x.dtype != torch.bool:
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise _fail(name, f"{what} must be a number.", "a float", validation.describe(x), hint)
    if not math.isfinite(x):
        raise _fail(name, f"{what} is not finite.", "a finite float", float(x), hint)
    return float(x)


def _as_value(name: str, out: Any) -> Value:
    if not isinstance(out, Value):
        raise _fail(name, "your function must return a Value.", "a Value",
                    validation.describe(out), "build the result with Value(...) and return it")
    return out


def _tensor(name: str, x: Any, what: str, hint: str) -> Tensor:
    """``x`` (tensor, array, nested list or number) as a finite float64 tensor, or ❌."""
    if x is None or x is Ellipsis:
        raise _fail(name, f"{what} is missing.", "a tensor", validation.describe(x), hint)
    if isinstance(x, Tensor):
        x = x.detach()
        if x.is_complex() or x.dtype == torch.bool:
            raise _fail(name, f"{what} must hold real numbers.", "a float tensor",
                        validation.describe(x), hint)
        x = x.to(torch.float64)
    else:
        try:
            x = torch.as_tensor(validation.array(x, what, finite=False, nonempty=False))
        except (TypeError, ValueError) as err:
            raise _fail(name, f"{what} must be a tensor of numbers ({err}).", "a float tensor",
                        validation.describe(x), hint) from None
    if not bool(torch.isfinite(x).all()):
        raise _fail(name, f"{what} holds nan or inf.", "finite numbers",
                    _short(x), hint)
    return x


def _short(t: Tensor) -> str:
    flat = t.reshape(-1)[:3].tolist()
    return "[" + ", ".join(f"{v:.4g}" for v in flat) + (", ...]" if t.numel() > 3 else "]")


def _close(a: float, b: float, atol: float, rtol: float) -> bool:
    return math.isfinite(a) and abs(a - b) <= atol + rtol * abs(b)


def _points(points: object) -> list[float]:
    pts = validation.sequence(points, "points", min_len=1, what="numbers")
    return [validation.number(x, f"points[{i}]") for i, x in enumerate(pts)]


# ----- the checks ----------------------------------------------------------------------------
def check_backward(fn: Callable[[Value], Value], *,
                   points: Sequence[float] = (-1.5, -0.3, 0.4, 2.0), atol: float = 1e-6,
                   rtol: float = 1e-4, verbose: bool = True,
                   timeout: float = TIME_LIMIT) -> CheckResult:
    """Compare ``x.grad`` after ``fn(x).backward()`` with central differences at ``points``.

    Pass rule at every point: ``|grad - numeric| <= atol + rtol * |numeric|`` (h = 1e-6).
    """
    pts = _points(points)
    timeout = _check_settings(verbose, timeout, atol=atol, rtol=rtol)
    name = f"check_backward({getattr(fn, '__name__', 'fn')})"
    hint = "x.grad is filled by backward(): check each _backward adds a number to .grad"

    def body() -> CheckResult:
        for x in pts:
            v = Value(x)
            _call(name, lambda: _as_value(name, fn(v)).backward())
            grad = _real(name, v.grad, f"x.grad at x = {x}", hint)
            numeric = central_difference(
                lambda t: _as_value(name, _call(name, fn, Value(t))).data, x)
            if not _close(grad, numeric, atol, rtol):
                return CheckResult(name, False, f"wrong gradient at x = {x}:", f"{numeric:.6g}",
                                   f"{grad:.6g}", "check each local derivative in _backward, "
                                   "and that it multiplies by out.grad and adds with +=")
        return CheckResult(name, True, f"gradient matches central differences at {len(pts)} "
                           f"points (atol {atol:g}, rtol {rtol:g}).")
    return _run(name, body, verbose, timeout, fn)


def check_tanh(tanh_fn: Callable[[Value], Value], *,
               points: Sequence[float] = (-2.0, -0.5, 0.0, 0.3, 1.7),
               atol: float = 1e-10, verbose: bool = True,
               timeout: float = TIME_LIMIT) -> CheckResult:
    """Check a student's tanh op on ``Value``: value vs ``math.tanh``, grad vs ``1 - tanh^2``.

    Three stages at every point, each to ``atol``: the value; the gradient of ``tanh_fn(x)``;
    and the gradient of ``3 * tanh_fn(x) + tanh_fn(x)`` (= 4 (1 - tanh^2), which catches a
    ``_backward`` that forgets ``out.grad`` or overwrites with ``=`` instead of ``+=``).
    """
    pts = _points(points)
    timeout = _check_settings(verbose, timeout, atol=atol)
    name = "check_tanh"
    hint = "v.grad must stay a float: add (1 - t**2) * out.grad to it"

    def body() -> CheckResult:
        for x in pts:
            t, dt = math.tanh(x), 1.0 - math.tanh(x) ** 2
            v = Value(x)
            out = _as_value(name, _call(name, tanh_fn, v))
            data = _real(name, out.data, f"the value at x = {x}", "out.data is math.tanh(v.data)")
            if not _close(data, t, atol, 0.0):
                return CheckResult(name, False, f"wrong value at x = {x}:", f"{t:.10f}",
                                   f"{data:.10f}", "the forward value is math.tanh(v.data)")
            _call(name, out.backward)
            grad = _real(name, v.grad, f"v.grad at x = {x}", hint)
            if not _close(grad, dt, atol, 0.0):
                hint2 = ("v.grad stayed 0: is the output built with v as its input (prev) and "
                         "is _backward attached to it?" if grad == 0.0 and dt > 0 else
                         "the local derivative is 1 - tanh(x)**2, times out.grad")
                return CheckResult(name, False, f"wrong gradient at x = {x}:", f"{dt:.10f}",
                                   f"{grad:.10f}", hint2)
            v = Value(x)
            _call(name, lambda: (_as_value(name, tanh_fn(v)) * 3 + tanh_fn(v)).backward())
            grad = _real(name, v.grad, f"v.grad at x = {x}", hint)
            if not _close(grad, 4 * dt, atol, 0.0):
                return CheckResult(name, False, f"wrong gradient of 3*tanh(x) + tanh(x) at x = "
                                   f"{x}:", f"{4 * dt:.10f}", f"{grad:.10f}",
                                   "multiply the local derivative by out.grad, and accumulate "
                                   "with += (not =)")
        return CheckResult(name, True, f"value and gradient match math.tanh and 1 - tanh² at "
                           f"{len(pts)} points (atol {atol:g}).")
    return _run(name, body, verbose, timeout, tanh_fn)


_TRANSPOSED = ("W has shape (out, in), as in nn.Linear, so dW = dZ.T @ (the layer's input), not "
               "its transpose")


def _mlp_problem(seed: int) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    shapes = [(6, 3), (6, 1), (4, 3), (4,), (1, 4), (1,)]  # X, y, W1, b1, W2, b2 (nn.Linear's)
    return tuple(torch.randn(s, generator=g, dtype=torch.float64) for s in shapes)


def check_mlp_backward(backward_fn: Callable[..., Sequence[Any]], *, seed: int = 0,
                       atol: float = 1e-8, verbose: bool = True,
                       timeout: float = TIME_LIMIT) -> CheckResult:
    """Compare hand-written gradients of ``mean((relu(X@W1.T+b1)@W2.T+b2 - y)**2)`` with autograd.

    ``backward_fn(X, y, W1, b1, W2, b2) -> (dW1, db1, dW2, db2)``, weights of shape (out, in) as
    in ``nn.Linear``; each gradient must have the shape of its parameter and match autograd in
    float64 to ``atol`` (absolute).
    """
    seed = validation.seed(seed)
    timeout = _check_settings(verbose, timeout, atol=atol)
    name = "check_mlp_backward"

    def body() -> CheckResult:
        X, y, W1, b1, W2, b2 = _mlp_problem(seed)
        params = [p.clone().requires_grad_(True) for p in (W1, b1, W2, b2)]
        loss = ((torch.relu(X @ params[0].T + params[1]) @ params[2].T + params[3] - y) ** 2).mean()
        expected = torch.autograd.grad(loss, params)
        grads = _call(name, backward_fn, X.clone(), y.clone(), W1.clone(), b1.clone(),
                      W2.clone(), b2.clone())
        if not isinstance(grads, (tuple, list)) or len(grads) != 4:
            return CheckResult(name, False, "return the four gradients as a tuple.",
                               "(dW1, db1, dW2, db2)", validation.describe(grads),
                               "end with: return dW1, db1, dW2, db2")
        for label, g, e in zip(("dW1", "db1", "dW2", "db2"), grads, expected):
            shape_hint = f"{label} is a tensor of shape {tuple(e.shape)}, like its parameter"
            g = _tensor(name, g, label, shape_hint)
            if g.shape != e.shape:
                hint = "a gradient has the shape of its parameter"
                if g.dim() == 2 and g.shape == e.T.shape:
                    hint = _TRANSPOSED
                return CheckResult(name, False, f"{label} has the wrong shape:", tuple(e.shape),
                                   tuple(g.shape), hint)
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
    return _run(name, body, verbose, timeout, backward_fn)


def _loss_with_backward(backward_fn: Callable[..., Sequence[Tensor]]) -> Callable[..., Tensor]:
    """The loss of ``check_mlp_backward`` as a torch function whose backward is backward_fn."""

    class TwoLayerLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, X, y, W1, b1, W2, b2):
            ctx.save_for_backward(X, y, W1, b1, W2, b2)
            return ((torch.relu(X @ W1.T + b1) @ W2.T + b2 - y) ** 2).mean()

        @staticmethod
        def backward(ctx, grad_out):
            grads = backward_fn(*ctx.saved_tensors)
            return (None, None, *(grad_out * g for g in grads))

    return TwoLayerLoss.apply


def check_gradcheck(backward_fn: Callable[..., Sequence[Any]], *, seed: int = 1,
                    eps: float = 1e-6, atol: float = 1e-7, verbose: bool = True,
                    timeout: float = TIME_LIMIT) -> CheckResult:
    """Run ``torch.autograd.gradcheck`` on the loss of ``check_mlp_backward`` with
    ``backward_fn`` as its backward (wrapped in a ``torch.autograd.Function``).

    ``backward_fn(X, y, W1, b1, W2, b2) -> (dW1, db1, dW2, db2)``. Float64, finite differences
    with step ``eps``, pass rule ``|analytical - numerical| <= atol + 1e-3 * |numerical|``
    (gradcheck's own, with its default rtol).
    """
    seed = validation.seed(seed)
    eps = validation.number(eps, "eps", low=1e-12, high=1e-1)
    timeout = _check_settings(verbose, timeout, atol=atol)
    name = "check_gradcheck"
    labels = ("dW1", "db1", "dW2", "db2")

    def guarded(X: Tensor, y: Tensor, *params: Tensor) -> tuple[Tensor, ...]:
        """backward_fn on copies of the inputs; what it returns, checked and in float64."""
        grads = _call(name, backward_fn, X.clone(), y.clone(), *(p.clone() for p in params))
        if not isinstance(grads, (tuple, list)) or len(grads) != 4:
            raise _fail(name, "return the four gradients as a tuple.", "(dW1, db1, dW2, db2)",
                        validation.describe(grads), "end with: return dW1, db1, dW2, db2")
        out = []
        for label, g, p in zip(labels, grads, params):
            g = _tensor(name, g, label, f"{label} is a tensor of shape {tuple(p.shape)}")
            if g.shape != p.shape:
                raise _fail(name, f"{label} has the wrong shape:", tuple(p.shape),
                            tuple(g.shape), _TRANSPOSED if g.dim() == 2 and g.shape == p.T.shape
                            else "a gradient has the shape of its parameter")
            out.append(g)
        return tuple(out)

    def body() -> CheckResult:
        g = torch.Generator().manual_seed(seed)
        shapes = [(5, 3), (5, 1), (4, 3), (4,), (1, 4), (1,)]  # X, y, W1, b1, W2, b2
        X, y, *params = (torch.randn(s, dtype=torch.float64, generator=g) for s in shapes)
        params = [p.requires_grad_() for p in params]
        try:
            torch.autograd.gradcheck(_loss_with_backward(guarded), (X, y, *params), eps=eps,
                                     atol=atol, raise_exception=True)
        except GradcheckError as err:
            found = re.search(r"with respect to input (\d+)", str(err))
            if not (found and 0 <= int(found[1]) < 4):  # not a mismatch: gradcheck says why
                return CheckResult(name, False, f"gradcheck failed ({_first_line(err)}).",
                                   "gradcheck passes", "gradcheck fails", "your backward must "
                                   "return the same gradients every time it is called")
            wrong = labels[int(found[1])]  # counted among the inputs that require grad
            return CheckResult(name, False, f"your backward disagrees with finite differences "
                               f"for {wrong}.", "gradcheck passes", f"{wrong} differs",
                               "check_mlp_backward shows the wrong gradient and its error")
        return CheckResult(name, True, f"your backward agrees with finite differences (eps "
                           f"{eps:g}, atol {atol:g}).")
    return _run(name, body, verbose, timeout, backward_fn)


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
    ``model`` under the time limit. Tolerance ``tol * (1 + |model(X)|)`` with tol 1e-12 when
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
            single = _call(name, linear, copy.deepcopy(model))
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


def check_training_loop(train_loop: Callable[..., Any], *, n_steps: int = 5, seed: int = 0,
                        atol: float = 1e-10, verbose: bool = True,
                        timeout: float = TIME_LIMIT) -> CheckResult:
    """Run ``train_loop(model, X, y, optimizer, loss_fn, n_steps)`` against a correct reference.

    On a seeded float64 problem (2-4-1 tanh MLP, 16 points, SGD lr 0.1, MSE), the parameters
    after the student's loop must equal the reference's to ``atol``; a loop that forgets
    ``optimizer.zero_grad()`` or ``optimizer.step()`` is recognised and named in the hint.
    """
    n_steps = validation.integer(n_steps, "n_steps", low=1, high=1000)
    seed = validation.seed(seed)
    timeout = _check_settings(verbose, timeout, atol=atol)
    name = "check_training_loop"
    hint = ("each step: optimizer.zero_grad(); loss = loss_fn(model(X), y); loss.backward(); "
            "optimizer.step()")

    def run(loop: Callable[..., Any] | None, zero: bool = True, step: bool = True) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        X = torch.randn(16, 2, generator=g, dtype=torch.float64)
        y = torch.sin(X.sum(dim=1, keepdim=True))
        model = models.make_mlp(2, [4], 1, activation="tanh", seed=seed, dtype=torch.float64)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        if loop is not None:
            _call(name, loop, model, X.clone(), y.clone(), optimizer, nn.MSELoss(), n_steps)
        else:  # the reference: pytorch/examples' loop (optionally with a bug, to name it)
            for _ in range(n_steps):
                if zero:
                    optimizer.zero_grad()
                loss = nn.functional.mse_loss(model(X), y)
                loss.backward()
                if step:
                    optimizer.step()
        params = [p.detach() for p in model.parameters()]
        if [p.shape for p in params] != [(4, 2), (4,), (1, 4), (1,)]:
            raise _fail(name, "the model's parameters changed shape.", "[(4, 2), (4,), (1, 4), "
                        "(1,)]", [tuple(p.shape) for p in params], "train the model you are "
                        "given; do not replace its layers")
        if any(p.dtype != torch.float64 for p in params):
            raise _fail(name, "the model's parameters are no longer float64.", "float64",
                        str(params[0].dtype).replace("torch.", ""), "keep the model as it is "
                        "given: no model.float() or .to(...) in the loop")
        return _tensor(name, torch.cat([p.ravel() for p in params]),
                       "the parameters after training", hint)

    def body() -> CheckResult:
        want = run(None)
        got = run(train_loop)
        err = (got - want).abs().max().item()
        if err <= atol:
            return CheckResult(name, True, f"parameters after {n_steps} steps match the "
                               f"reference loop (max abs error {err:.1e}).")
        why = hint
        if torch.allclose(got, run(None, zero=False), atol=atol, rtol=0.0):
            why = "you forgot optimizer.zero_grad(): gradients from earlier steps accumulate"
        elif torch.allclose(got, run(None, step=False), atol=atol, rtol=0.0):
            why = "the parameters never changed: call optimizer.step() after loss.backward()"
        return CheckResult(name, False, f"parameters after {n_steps} steps differ from the "
                           f"reference:", "max abs error 0", f"{err:.2e}", why)
    return _run(name, body, verbose, timeout, train_loop)


def _final_losses(name: str, history: Any, what: str, hint: str) -> tuple[float, float]:
    """``(final training loss, final held-out loss)`` of a ``History``, or a failed result."""
    try:
        train_loss, val_loss = history.train_loss[-1], history.val_loss[-1]
    except Exception as err:  # noqa: BLE001 - anything but a History is a verdict
        raise _fail(name, f"{what} is not a History with losses ({_first_line(err)}).",
                    "a History (what fit returns)", validation.describe(history), hint) from None
    return (_real(name, train_loss, f"{what}'s final training loss", hint),
            _real(name, val_loss, f"{what}'s final held-out loss", hint))


def check_capacity(runs: Any, best_val: Any, best_train: Any,
                   fit: Callable[[int, int], Any], widths: Sequence[int],
                   depths: Sequence[int], *, rtol: float = 1e-6, verbose: bool = True,
                   timeout: float = TIME_LIMIT) -> list[CheckResult]:
    """Check a width x depth experiment: three verdicts, for ``runs``, ``best_val``, ``best_train``.

    ``fit(width, depth)`` (the page's recipe) is run afresh for every pair of ``widths`` x
    ``depths``; ``runs[(width, depth)]`` must hold a ``History`` whose final training and
    held-out losses match it (relative ``rtol``), and ``best_val``/``best_train`` must be the
    ``(width, depth)`` with the lowest final held-out and training loss.
    """
    grid = [(validation.integer(w, f"widths[{i}]", low=1, high=100_000),
             validation.integer(d, f"depths[{j}]", low=1, high=1000))
            for i, w in enumerate(validation.sequence(widths, "widths", min_len=1, what="ints"))
            for j, d in enumerate(validation.sequence(depths, "depths", min_len=1, what="ints"))]
    timeout = _check_settings(verbose, timeout, rtol=rtol)
    name = "check_capacity"
    final: dict[tuple[int, int], tuple[float, float]] = {}

    def body() -> CheckResult:
        for k in grid:
            final[k] = _final_losses(name, _call(name, fit, *k), f"fit{k}",
                                     "run the cell that defines fit, and use it as it is")
        if not isinstance(runs, dict) or set(runs) != set(grid):
            got = list(runs)[:8] if isinstance(runs, dict) else validation.describe(runs)
            return CheckResult(name, False, "runs needs one History per (width, depth):", grid,
                               got, "runs[(width, depth)] = fit(width, depth)")
        for k in grid:
            mine = _final_losses(name, runs[k], f"runs[{k}]", "runs[(width, depth)] = fit(width, "
                                 "depth)")
            if not all(math.isclose(a, b, rel_tol=rtol) for a, b in zip(mine, final[k])):
                return CheckResult(name, False, f"runs[{k}] is not fit{k}: final (train, "
                                   "held-out) loss", final[k], mine, "use fit as it is")
        return CheckResult(name, True, f"all {len(grid)} configurations match fit.")

    verdicts = [_run(name, body, verbose, timeout, fit, "the function fit")]
    if len(final) < len(grid):  # fit did not give every loss: the answers cannot be checked
        return verdicts + [_report(CheckResult(
            label, False, "cannot be checked without fit's losses.", "the losses of fit",
            "fit failed", "run the cell that defines fit, unchanged"), "", verbose)
            for label in ("lowest held-out loss at (width, depth)",
                          "lowest training loss at (width, depth)")]
    by_val = min(grid, key=lambda k: final[k][1])
    by_train = min(grid, key=lambda k: final[k][0])
    return verdicts + [
        check_answer("lowest held-out loss at (width, depth)", best_val, by_val, atol=0,
                     verbose=verbose),
        check_answer("lowest training loss at (width, depth)", best_train, by_train, atol=0,
                     verbose=verbose)]


def _answer_array(x: Any, name: str, finite: bool = True) -> np.ndarray:
    """``x`` as a float64 array; TypeError/ValueError if it is not numeric (bools are not)."""
    if isinstance(x, (bool, np.bool_)) or (isinstance(x, (np.ndarray, Tensor)) and x.dtype in (
            np.bool_, torch.bool)):
        raise TypeError(f"{name} must be a number or an array of numbers, got "
                        f"{validation.describe(x)}")
    return validation.array(x, name, finite=finite, nonempty=False)


def check_answer(name: str, observed: Any, expected: Any, *, atol: float = 1e-6,
                 rtol: float = 0.0, verbose: bool = True) -> CheckResult:
    """Compare a numeric answer (number, sequence, array or tensor) in float64 within tolerances.

    Pass rule: same shape and ``|observed - expected| <= atol + rtol * |expected|`` everywhere.
    A string, a bool, a complex number or ``...`` is never a right answer.
    """
    validation.text(name, "name")
    exp = _answer_array(expected, "expected")
    timeout = _check_settings(verbose, TIME_LIMIT, atol=atol, rtol=rtol)

    def show(a: np.ndarray) -> str:
        if a.ndim == 0:
            return f"{a.item():.6g}"
        whole = a.size and np.all(a == np.round(a)) and np.all(np.abs(a) < 1e15)
        return np.array2string(a.astype(np.int64) if whole else a, separator=", ",
                               formatter={"int": str, "float_kind": lambda v: f"{v:.6g}"})

    def body() -> CheckResult:
        hint = f"the answer is a number{' or an array of numbers' if exp.ndim else ''}"
        if observed is None or observed is Ellipsis:
            return CheckResult(name, False, "no answer yet.", "your answer",
                               validation.describe(observed), "replace ... with your answer")
        if isinstance(observed, (str, bytes)):
            return CheckResult(name, False, "the answer is text, not a number.", show(exp),
                               validation.describe(observed), "write the number without quotes")
        if unusual := validation.unusual_tensor(observed):
            return CheckResult(name, False, f"the answer is {unusual}.", show(exp),
                               validation.describe(observed),
                               "pass an ordinary tensor (x.to_dense()), a number or a list")
        try:
            obs = _answer_array(observed, "your answer", finite=False)
        except TypeError:
            return CheckResult(name, False, "the answer must be a real number or an array of "
                               "real numbers.", show(exp), validation.describe(observed), hint)
        except ValueError:
            return CheckResult(name, False, "the answer must be a rectangular array of numbers "
                               "(rows of equal length).", show(exp),
                               validation.describe(observed), hint)
        if obs.shape != exp.shape:
            return CheckResult(name, False, "wrong shape:", exp.shape, obs.shape, hint)
        if np.all(np.isfinite(obs)) and np.all(np.abs(obs - exp) <= atol + rtol * np.abs(exp)):
            return CheckResult(name, True, f"{show(obs)} is right (atol {atol:g}).", show(exp),
                               show(obs))
        return CheckResult(name, False, "not quite:", show(exp), show(obs),
                           f"tolerance is atol {atol:g}, rtol {rtol:g}")
    return _run(name, body, verbose, timeout)
