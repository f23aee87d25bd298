"""Self-checks on the scalar engine: any op's backward, and the lab's ``tanh``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from mlpbook.checks.core import (TIME_LIMIT, CheckResult, _as_value, _call, _check_settings,
                                 _close, _code_of, _Failed, _points, _real, _refuse_library,
                                 _run, _watching)
from mlpbook.engine import Value
from mlpbook.gradcheck import central_difference

#: The library's own tanh: exercise 1 asks the student to write it, so calling it earns nothing.
LIBRARY_TANH = {_code_of(Value.tanh): "Value.tanh (the library's tanh)"}


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

    Three stages, each at every point and to ``atol``: the value; the gradient of
    ``tanh_fn(x)``; and the gradient of ``3 * tanh_fn(x) + tanh_fn(x)`` (= 4 (1 - tanh^2), which
    catches a ``_backward`` that forgets ``out.grad`` or overwrites with ``=`` instead of
    ``+=``). With the value right, each gradient stage earns half (``credit``; the value alone
    is what the starter gives). A ``tanh_fn`` that calls the library's ``Value.tanh`` fails:
    the exercise is to write it.
    """
    pts = _points(points)
    timeout = _check_settings(verbose, timeout, atol=atol)
    name = "check_tanh"
    hint = "v.grad must stay a float: add (1 - t**2) * out.grad to it"

    def value(x: float) -> CheckResult | None:
        t = math.tanh(x)
        out = _as_value(name, _call(name, tanh_fn, Value(x)))
        data = _real(name, out.data, f"the value at x = {x}", "out.data is math.tanh(v.data)")
        if not _close(data, t, atol, 0.0):
            return CheckResult(name, False, f"wrong value at x = {x}:", f"{t:.10f}",
                               f"{data:.10f}", "the forward value is math.tanh(v.data)")
        return None

    def gradient(x: float) -> CheckResult | None:
        dt = 1.0 - math.tanh(x) ** 2
        v = Value(x)
        out = _as_value(name, _call(name, tanh_fn, v))
        _call(name, out.backward)
        grad = _real(name, v.grad, f"v.grad at x = {x}", hint)
        if not _close(grad, dt, atol, 0.0):
            hint2 = ("v.grad stayed 0: is the output built with v as its input (prev) and "
                     "is _backward attached to it?" if grad == 0.0 and dt > 0 else
                     "the local derivative is 1 - tanh(x)**2, times out.grad")
            return CheckResult(name, False, f"wrong gradient at x = {x}:", f"{dt:.10f}",
                               f"{grad:.10f}", hint2)
        return None

    def accumulates(x: float) -> CheckResult | None:
        dt = 1.0 - math.tanh(x) ** 2
        v = Value(x)
        _call(name, lambda: (_as_value(name, tanh_fn(v)) * 3 + tanh_fn(v)).backward())
        grad = _real(name, v.grad, f"v.grad at x = {x}", hint)
        if not _close(grad, 4 * dt, atol, 0.0):
            return CheckResult(name, False, f"wrong gradient of 3*tanh(x) + tanh(x) at x = "
                               f"{x}:", f"{4 * dt:.10f}", f"{grad:.10f}",
                               "multiply the local derivative by out.grad, and accumulate "
                               "with += (not =)")
        return None

    def body() -> CheckResult:
        failures = []
        for stage in (value, gradient, accumulates):
            try:
                with _watching(LIBRARY_TANH) as called:
                    failed = next((r for r in map(stage, pts) if r is not None), None)
                _refuse_library(name, called, "tanh")
            except _Failed as err:
                failed = err.result
            if failed is not None:
                failures.append(failed)
        if not failures:
            return CheckResult(name, True, f"value and gradient match math.tanh and 1 - tanh² "
                               f"at {len(pts)} points (atol {atol:g}).")
        first = failures[0]  # the value alone is the starter's: credit is for the gradients
        first.credit = 0.0 if len(failures) >= 2 or "already holds the answer" in first.message \
            or first is failures[0] and failures[0].message.startswith("wrong value") else 0.5
        return first
    return _run(name, body, verbose, timeout, tanh_fn)
