"""Gradient checking: compare analytic gradients with central finite differences.

``central_difference`` is the one place where the formula lives; ``numerical_grad`` and the
``check_*`` functions all go through it. Work in float64: with ``h = 1e-6`` the difference
``f(x + h) - f(x - h)`` keeps about 10 significant digits in float64 but none in float32.
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from mlpbook import validation
from mlpbook.engine import Value

__all__ = [
    "central_difference", "numerical_grad", "GradcheckReport", "check_scalar", "check_value_fn",
    "check_torch_fn", "Float32Warning", "torch_gradcheck",
]


class Float32Warning(UserWarning):
    """Warning: a gradient check was asked for in low precision (float32/float16)."""


_FLOAT32_MESSAGE = (
    "{what} has dtype {dtype}: finite differences need float64. With h = {h:g} the difference "
    "f(x + h) - f(x - h) is about 2h * f'(x), while float32 rounds f to a relative "
    "error of ~1.2e-7 (its machine epsilon), so almost all digits of the numerical gradient "
    "are rounding noise. {action}"
)


def central_difference(f: Callable[[float], float], x: float, h: float = 1e-6) -> float:
    """Return the central-difference estimate ``(f(x + h) - f(x - h)) / (2 * h)`` of f'(x)."""
    f, x, h = _check_difference(f, x, h)
    return (_out(f(x + h), "f(x + h)") - _out(f(x - h), "f(x - h)")) / (2 * h)


def numerical_grad(f: Callable[..., torch.Tensor], *inputs: torch.Tensor,
                   h: float = 1e-6) -> tuple[torch.Tensor, ...]:
    """Return the central-difference gradient of a scalar-valued ``f`` w.r.t. each input.

    Args:
        f: takes tensors shaped like ``inputs`` and returns a one-element tensor.
        inputs: floating-point tensors; each element is nudged by ``±h`` in turn.
        h: step size.

    Returns:
        One tensor per input, same shape and dtype: ``grad[j][i] ≈ ∂f/∂inputs[j][i]``.

    ``f`` is called on fresh copies, so an ``f`` that changes its input in place (``x += 1``)
    changes neither the inputs nor the next evaluation.
    """
    f = validation.named(f, "f")
    _check_tensors(inputs, h)
    _check_arity(f, len(inputs))
    for j, x in enumerate(inputs):
        if x.dtype != torch.float64:
            warnings.warn(_FLOAT32_MESSAGE.format(what=f"inputs[{j}]", dtype=x.dtype, h=h,
                          action="Pass float64 tensors."), Float32Warning, stacklevel=2)
    xs = [x.detach().clone(memory_format=torch.contiguous_format) for x in inputs]
    grads = []
    with torch.no_grad():
        for x in xs:
            flat, grad = x.view(-1), torch.zeros(x.numel(), dtype=x.dtype)
            for i in range(x.numel()):
                x0 = flat[i].item()

                def f_i(v: float) -> float:  # f as a function of element i alone
                    flat[i] = v
                    return _scalar(f(*[t.clone() for t in xs]))

                grad[i] = central_difference(f_i, x0, h)
                flat[i] = x0
            grads.append(grad.view(x.shape))
    return tuple(grads)


@dataclass
class GradcheckReport:
    """The verdict of a gradient check: analytic vs numerical gradients, element by element."""

    name: str
    analytic: list[float]
    numeric: list[float]
    max_abs_err: float
    max_rel_err: float
    atol: float
    rtol: float
    passed: bool
    dtype: str = "float64"

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        lines = [f"gradcheck {self.name}: {verdict}  max abs err {self.max_abs_err:.1e}  "
                 f"max rel err {self.max_rel_err:.1e}",
                 f"  tolerance: |analytic - numeric| <= {self.atol:.0e} + {self.rtol:.0e} "
                 f"* |numeric|, in {self.dtype}"]
        lines.append(f"  {'i':>3}  {'analytic':>14}  {'numeric':>14}  {'abs err':>8}")
        for i, (a, n) in enumerate(zip(self.analytic[:10], self.numeric[:10])):
            bad = "" if abs(a - n) <= self.atol + self.rtol * abs(n) else "  <- mismatch"
            lines.append(f"  {i:>3}  {a:>14.8g}  {n:>14.8g}  {abs(a - n):>8.1e}{bad}")
        if len(self.analytic) > 10:
            lines.append(f"  ... ({len(self.analytic) - 10} more)")
        return "\n".join(lines)

    __repr__ = __str__

    def __bool__(self) -> bool:
        return self.passed


def check_scalar(f: Callable[[float], float], df: Callable[[float], float], x: float, *,
                 atol: float = 1e-7, rtol: float = 1e-5, h: float = 1e-6,
                 name: str | None = None) -> GradcheckReport:
    """Compare a hand-written derivative ``df(x)`` with ``central_difference(f, x, h)``."""
    f, x, h = _check_difference(f, x, h)
    df = validation.named(df, "df")
    _check_tolerances(atol, rtol, name)
    return _report(name or _name_of(f), [_out(df(x), "df(x)", finite=False)],
                   [central_difference(f, x, h)], atol, rtol)


def check_value_fn(f: Callable[..., Value], inputs: Sequence[float], *, atol: float = 1e-7,
                   rtol: float = 1e-5, h: float = 1e-6, name: str | None = None) -> GradcheckReport:
    """Compare ``Value.backward`` gradients of ``f(*leaves)`` with central differences.

    Args:
        f: builds a ``Value`` from ``len(inputs)`` ``Value`` arguments.
        inputs: the point (floats) at which the gradient is checked.
    """
    f = validation.named(f, "f")
    inputs = validation.sequence(inputs, "inputs", min_len=1, what="numbers")
    xs = [validation.number(x, f"inputs[{i}]") for i, x in enumerate(inputs)]
    _check_h(h)
    _check_tolerances(atol, rtol, name)
    leaves = [Value(x, label=f"x{i}") for i, x in enumerate(xs)]
    _check_arity(f, len(leaves))
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"f must return a Value, got {validation.describe(out)}")
    out.backward()
    numeric = []
    for i in range(len(xs)):
        def f_i(v: float) -> float:  # f as a function of input i alone
            out = f(*[Value(v if j == i else x) for j, x in enumerate(xs)])
            if not isinstance(out, Value):
                raise TypeError(f"f must return a Value, got {validation.describe(out)}")
            return out.data

        numeric.append(central_difference(f_i, xs[i], h))
    return _report(name or _name_of(f), [leaf.grad for leaf in leaves], numeric, atol, rtol)


def check_torch_fn(f: Callable[..., torch.Tensor], *inputs: torch.Tensor, atol: float = 1e-7,
                   rtol: float = 1e-5, h: float = 1e-6, name: str | None = None,
                   analytic: Sequence[torch.Tensor] | None = None) -> GradcheckReport:
    """Compare autograd (or hand-written ``analytic``) gradients of ``f`` with central differences.

    Args:
        f: takes tensors shaped like ``inputs`` and returns a one-element tensor.
        inputs: floating-point tensors; the check runs on float64 copies (float32 input warns
            with ``Float32Warning`` and is upcast).
        analytic: optional gradients to check instead of autograd's, one per input, same shapes.
    """
    f = validation.named(f, "f")
    _check_tensors(inputs, h)
    _check_arity(f, len(inputs))
    _check_tolerances(atol, rtol, name)
    low = [str(x.dtype) for x in inputs if x.dtype != torch.float64]
    if low:
        warnings.warn(_FLOAT32_MESSAGE.format(what="an input", dtype=", ".join(low), h=h,
                      action="Checking on float64 copies instead."), Float32Warning, stacklevel=2)
    xs = [x.detach().to(torch.float64).clone().requires_grad_(True) for x in inputs]
    if analytic is None:
        out = f(*xs)
        _check_outputs(out, scalar=True)
        grads = (torch.autograd.grad(out, xs, allow_unused=True) if out.requires_grad
                 else [None] * len(xs))  # f does not depend on its inputs at all
        analytic = [torch.zeros_like(x) if g is None else g for x, g in zip(xs, grads)]
    else:
        analytic = validation.sequence(analytic, "analytic", what="tensors (one per input)")
        if len(analytic) != len(inputs):
            raise ValueError(f"analytic must hold {len(inputs)} gradients (one per input), "
                             f"got {len(analytic)}")
    for j, (g, x) in enumerate(zip(analytic, inputs)):
        validation.tensor(g, f"analytic[{j}]", finite=False, nonempty=False)
        if g.shape != x.shape:
            raise ValueError(f"analytic[{j}] has shape {tuple(g.shape)} but inputs[{j}] has "
                             f"shape {tuple(x.shape)}")
    numeric = numerical_grad(f, *[x.detach() for x in xs], h=h)
    return _report(name or _name_of(f), _flat(analytic), _flat(numeric), atol, rtol)


def torch_gradcheck(f: Callable[..., torch.Tensor], *inputs: torch.Tensor, eps: float = 1e-6,
                    atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Run ``torch.autograd.gradcheck`` on float64 copies of ``inputs`` and return its verdict.

    torch's gradcheck does what ``check_torch_fn`` does (central differences with step ``eps``
    against autograd), but for every output element at once, comparing whole Jacobians, and it
    only answers True/False. ``check_torch_fn`` handles scalar outputs and returns a readable
    ``GradcheckReport``; the tests check that the two agree.
    """
    f = validation.named(f, "f")
    _check_tensors(inputs, eps, "eps")
    _check_arity(f, len(inputs))
    _check_tolerances(atol, rtol)
    xs = tuple(x.detach().to(torch.float64).clone().requires_grad_(True) for x in inputs)
    _check_outputs(f(*xs), scalar=False)
    # as floats: torch would copy a Python int step such as 2**64 into an int64 and overflow
    return bool(torch.autograd.gradcheck(f, xs, eps=float(eps), atol=float(atol),
                                         rtol=float(rtol), raise_exception=False))


# ----- helpers -----------------------------------------------------------------------------
def _report(name: str, analytic: list[float], numeric: list[float], atol: float,
            rtol: float) -> GradcheckReport:
    """Build a ``GradcheckReport``: pass iff every ``|a - n| <= atol + rtol * |n|``."""
    if len(analytic) != len(numeric):
        raise ValueError(f"analytic has {len(analytic)} entries but numeric has {len(numeric)}")
    abs_errs = [abs(a - n) for a, n in zip(analytic, numeric)]
    rel_errs = [e / abs(n) if n != 0 else (0.0 if e == 0 else math.inf)
                for e, n in zip(abs_errs, numeric)]
    passed = all(e <= atol + rtol * abs(n) for e, n in zip(abs_errs, numeric))  # False on NaN
    nan = any(math.isnan(e) for e in abs_errs)
    return GradcheckReport(name=name, analytic=list(analytic), numeric=list(numeric),
                           max_abs_err=math.nan if nan else max(abs_errs, default=0.0),
                           max_rel_err=math.nan if nan else max(rel_errs, default=0.0),
                           atol=atol, rtol=rtol, passed=passed)


def _flat(tensors: Sequence[torch.Tensor]) -> list[float]:
    """Return all elements of ``tensors``, one after another, as Python floats."""
    return [v for t in tensors for v in t.detach().double().reshape(-1).tolist()]


def _name_of(f: Callable) -> str:
    """Return the function's name, or "f" for a lambda."""
    name = getattr(f, "__name__", "f")
    return "f" if name == "<lambda>" else name


def _check_h(h: object) -> float:
    """Return ``h`` if it is a finite number > 0 (the step of the finite difference)."""
    return validation.number(h, "h", low=0.0, low_open=True)


def _check_difference(f: object, x: object, h: object) -> tuple[Callable, float, float]:
    """Check the arguments of a central difference: f callable, x finite, x ± h distinct."""
    f, x, h = validation.named(f, "f"), validation.number(x, "x"), _check_h(h)
    _check_step(x, h, "x")
    return f, x, h


def _check_step(x: float, h: float, name: str, hname: str = "h") -> None:
    """Raise unless float64 can represent x ± h closely enough for a difference quotient."""
    if not math.isfinite((x + h) - (x - h)) or abs((x + h) - (x - h) - 2 * h) > 1e-3 * h:
        raise ValueError(f"{hname} = {h:g} does not fit {name} = {x:g}: in float64, x + {hname} "
                         f"and x - {hname} are not 2{hname} apart; use {hname} of about "
                         f"{max(abs(x), 1.0) * 1e-6:g}")


def _check_arity(f: Callable, n: int) -> None:
    """Raise ValueError if ``f`` visibly cannot take ``n`` positional arguments (one per input)."""
    try:
        inspect.signature(f).bind(*range(n))
    except TypeError as err:
        raise ValueError(f"inputs holds {n} number(s) but f cannot be called with {n} "
                         f"argument(s) ({err}): give one number per argument of f") from None
    except ValueError:  # no signature to inspect (some builtins): let the call decide
        pass


def _check_tolerances(atol: object, rtol: object, name: object = None) -> None:
    """Raise unless ``atol`` and ``rtol`` are finite numbers >= 0 and ``name`` a str or None."""
    validation.number(atol, "atol", low=0.0)
    validation.number(rtol, "rtol", low=0.0)
    validation.text(name, "name", optional=True)


def _check_tensors(inputs: Sequence[object], h: object, hname: str = "h") -> None:
    """Raise unless ``inputs`` is a non-empty sequence of non-empty, finite float tensors whose
    elements can each be nudged by ``±h`` in float64."""
    h = validation.number(h, hname, low=0.0, low_open=True)
    if not inputs:
        raise ValueError("inputs must hold at least one tensor, got none")
    for j, x in enumerate(inputs):
        validation.tensor(x, f"inputs[{j}]", floating=True)
        _check_step(x.detach().double().abs().max().item(), h,
                    f"the largest entry of inputs[{j}]", hname)


def _check_outputs(out: object, *, scalar: bool) -> None:
    """Raise unless ``out``, what f returned, is a finite one-element tensor (``scalar``), or else
    a finite float tensor or a tuple/list of them (what torch's gradcheck takes)."""
    if scalar:
        _scalar(out)
        return
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for k, o in enumerate(outs):
        what = "f(*inputs)" + (f"[{k}]" if isinstance(out, (tuple, list)) else "")
        validation.tensor(o, what, floating=True, finite=True, nonempty=False)


def _out(y: object, what: str, *, finite: bool = True) -> float:
    """Return the number ``y`` computed as ``what`` (e.g. "f(x + h)") as a float."""
    if isinstance(y, torch.Tensor) and y.numel() == 1 and not y.is_complex():
        y = y.item()
    if isinstance(y, bool) or not isinstance(y, numbers.Real):
        raise TypeError(f"{what} must be a number, got {validation.describe(y)}")
    if finite and not math.isfinite(y):
        raise ValueError(f"{what} is {y}: the function must be finite near x")
    return float(y)


def _scalar(out: object) -> float:
    """Return a one-element real tensor as a finite float; raise for anything else."""
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else validation.describe(out)
        raise ValueError(f"f must return a scalar (one-element) tensor, got shape {shape}")
    return _out(out, "f(*inputs)")
