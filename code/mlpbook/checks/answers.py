"""The self-check of a numeric answer (a number, a pair, an array)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from mlpbook import validation
from mlpbook.checks.core import TIME_LIMIT, CheckResult, _check_settings, _run


def _answer_array(x: Any, name: str, finite: bool = True) -> np.ndarray:
    """``x`` as a float64 array; TypeError/ValueError if it is not numeric (bools are not)."""
    if isinstance(x, (bool, np.bool_)) or (isinstance(x, (np.ndarray, Tensor)) and x.dtype in (
            np.bool_, torch.bool)):
        raise TypeError(f"{name} must be a number or an array of numbers, got "
                        f"{validation.describe(x)}")
    return validation.array(x, name, finite=finite, nonempty=False)


def check_answer(name: str, observed: Any, expected: Any, *, atol: float = 1e-6,
                 rtol: float = 0.0, verbose: bool = True, reveal: bool = True) -> CheckResult:
    """Compare a numeric answer (number, sequence, array or tensor) in float64 within tolerances.

    Pass rule: same shape and ``|observed - expected| <= atol + rtol * |expected|`` everywhere.
    A string, a bool, a complex number or ``...`` is never a right answer. ``reveal=False`` (a
    graded question) never shows the expected answer, nor how far off the answer is.
    """
    validation.text(name, "name")
    validation.boolean(reveal, "reveal")
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
    def graded() -> CheckResult:
        result = body()
        result.reveal = reveal or result.passed
        if not result.reveal and "tolerance" in result.hint:
            result.hint = "think it through again; the answer is exact"
        return result
    return _run(name, graded, verbose, timeout)
