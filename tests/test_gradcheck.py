"""Tests for mlpbook.gradcheck: finite differences, reports, torch agreement, bad input."""

import math
import warnings

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import fast, medium_floats, positive_floats

from mlpbook.engine import Value
from mlpbook.gradcheck import (Float32Warning, GradcheckReport, central_difference, check_scalar,
                               check_torch_fn, check_value_fn, numerical_grad, torch_gradcheck)

f64 = torch.float64


@given(medium_floats)
@fast
def test_central_difference_matches_known_derivatives(x):
    torch.testing.assert_close(torch.tensor(central_difference(math.sin, x)),
                               torch.tensor(math.cos(x)), atol=1e-8, rtol=1e-6)
    torch.testing.assert_close(torch.tensor(central_difference(lambda t: t**3, x)),
                               torch.tensor(3 * x**2), atol=1e-6, rtol=1e-6)


def test_central_difference_is_second_order():
    # the error of the central difference shrinks like h**2 (a one-sided one only like h)
    err = [abs(central_difference(math.exp, 1.0, h) - math.e) for h in (1e-2, 1e-3)]
    assert 50 < err[0] / err[1] < 200


@given(positive_floats)
@fast
def test_check_scalar_passes_and_fails(x):
    assert check_scalar(math.log, lambda t: 1 / t, x).passed
    report = check_scalar(math.log, lambda t: 1 / t + 0.1, x, name="wrong")
    assert not report.passed and not report
    assert "FAIL" in str(report) and "wrong" in str(report) and "mismatch" in str(report)


@given(st.lists(medium_floats, min_size=2, max_size=2))
@fast
def test_check_value_fn(xs):
    report = check_value_fn(lambda a, b: (a * b + a.exp()).tanh() * b, xs)
    assert report.passed, str(report)
    assert len(report.analytic) == 2 and report.max_abs_err <= 1e-7 + 1e-5 * max(map(abs, report.numeric))


def test_check_value_fn_catches_a_wrong_backward():
    def bad_square(a: Value) -> Value:
        out = a * a
        out._backward = lambda: setattr(a, "grad", a.grad + a.data * out.grad)  # forgot the 2
        return out

    assert not check_value_fn(bad_square, [1.5]).passed


def smooth(x, W):
    return torch.tanh(x @ W).pow(2).sum() + torch.sigmoid(W).mean()


def random_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, generator=g, dtype=f64), torch.randn(3, 2, generator=g, dtype=f64)


@given(st.integers(0, 10_000))
@fast
def test_numerical_grad_agrees_with_autograd_and_torch_gradcheck(seed):
    x, W = random_inputs(seed)
    report = check_torch_fn(smooth, x, W)
    assert report.passed, str(report)
    assert torch_gradcheck(smooth, x, W)
    gx, gW = numerical_grad(smooth, x, W)
    assert gx.shape == x.shape and gW.shape == W.shape
    xr, Wr = x.clone().requires_grad_(True), W.clone().requires_grad_(True)
    ax, aW = torch.autograd.grad(smooth(xr, Wr), (xr, Wr))
    torch.testing.assert_close(gx, ax, atol=1e-7, rtol=1e-5)
    torch.testing.assert_close(gW, aW, atol=1e-7, rtol=1e-5)


def test_numerical_grad_handles_non_contiguous_and_leaves_inputs_alone():
    W = torch.randn(3, 2, dtype=f64).t()
    before = W.clone()
    (g,) = numerical_grad(lambda w: (w**2).sum(), W)
    torch.testing.assert_close(g, 2 * W, atol=1e-7, rtol=1e-6)
    torch.testing.assert_close(W, before)


@pytest.mark.parametrize("f, want", [
    (lambda x: x.mul_(2).sum(), lambda x: torch.full_like(x, 2.0)),
    (lambda x: (x.add_(1) ** 2).sum(), lambda x: 2 * (x + 1)),
    (lambda x: x.sin_().sum() + x.sum(), lambda x: 2 * torch.cos(x)),  # reads x once changed
])
def test_numerical_grad_of_a_function_that_changes_its_input_in_place(f, want):
    """Each evaluation gets fresh copies: an in-place f used to corrupt the next evaluations
    (gradients of 1e6) and the caller's tensor."""
    x = torch.tensor([0.3, -1.0, 2.0], dtype=f64)
    before = x.clone()
    (g,) = numerical_grad(f, x)
    torch.testing.assert_close(g, want(before), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(x, before)


def test_hand_written_analytic_gradients():
    x, W = random_inputs(0)
    good = [torch.zeros_like(x), torch.zeros_like(W)]
    assert not check_torch_fn(smooth, x, W, analytic=good).passed
    f = lambda w: (w**2).sum()  # noqa: E731
    assert check_torch_fn(f, W, analytic=[2 * W]).passed
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        check_torch_fn(f, W, analytic=[2 * W.t()])
    with pytest.raises(ValueError, match="one per input"):
        check_torch_fn(f, W, analytic=[])


def test_float32_warns_and_upcasts():
    x = torch.randn(4, dtype=torch.float32)
    with pytest.warns(Float32Warning, match="float64"):
        report = check_torch_fn(lambda t: (t**3).sum(), x)
    assert report.passed
    with pytest.warns(Float32Warning, match="epsilon"):
        numerical_grad(lambda t: t.sum(), x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_torch_fn(lambda t: t.sum(), x.double())  # float64: no warning


def test_report_prints_readably():
    report = check_scalar(math.sin, math.cos, 0.3, name="sin")
    text = str(report)
    assert text.startswith("gradcheck sin: PASS  max abs err")
    assert "tolerance: |analytic - numeric| <= 1e-07 + 1e-05 * |numeric|, in float64" in text
    assert repr(report) == text
    assert isinstance(report, GradcheckReport)
    nan_report = check_scalar(math.sin, lambda t: math.nan, 0.3)
    assert not nan_report.passed and "nan" in str(nan_report)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: central_difference(math.sin, 0.0, h=0.0), ValueError, "h must be a finite number > 0"),
    (lambda: central_difference(math.sin, "1.0"), TypeError, "x must be a finite number"),
    (lambda: central_difference(math.sin, math.nan), ValueError, "x must be a finite number"),
    (lambda: central_difference(math.sin, 1e20), ValueError, "h = 1e-06 does not fit x = 1e"),
    (lambda: central_difference(lambda t: "a", 1.0), TypeError, r"f\(x \+ h\) must be a number"),
    (lambda: central_difference(math.log, 0.0), ValueError, r"f\(x \+ h\)|math domain"),
    (lambda: central_difference(math.sin, 0.0, h="1"), TypeError, "h"),
    (lambda: check_scalar(math.sin, math.cos, "x"), TypeError, "x"),
    (lambda: check_value_fn(lambda a: a, []), ValueError, "inputs"),
    (lambda: check_value_fn(lambda a: 2.0, [1.0]), TypeError, "return a Value"),
    (lambda: check_value_fn(lambda a: a, [math.nan]), ValueError, r"inputs\[0\]"),
    (lambda: check_torch_fn(lambda t: t, torch.ones(3, dtype=f64)), ValueError, r"scalar.*\(3,\)"),
    (lambda: check_torch_fn(lambda t: t.sum(), [1.0]), TypeError, r"inputs\[0\]"),
    (lambda: check_torch_fn(lambda t: t.sum(), torch.ones(2, dtype=torch.int64)), TypeError, "floating"),
    (lambda: numerical_grad(lambda t: t.sum()), ValueError, "input"),
    (lambda: torch_gradcheck(lambda t: t.sum(), "x"), TypeError, r"inputs\[0\] must be a torch tensor"),
    (lambda: torch_gradcheck(lambda t: t.sum(), torch.ones(0, dtype=f64)), ValueError,
     r"inputs\[0\] must be a tensor with at least one element"),
    (lambda: torch_gradcheck(lambda t: "x", torch.ones(2, dtype=f64)), TypeError, "f"),
    (lambda: numerical_grad(lambda t: t.sum(), torch.tensor([1.0, math.nan], dtype=f64)),
     ValueError, r"inputs\[0\] must hold only finite numbers"),
    (lambda: check_scalar(math.sin, lambda t: "1", 0.3), TypeError, r"df\(x\) must be a number"),
    (lambda: check_torch_fn(lambda t: t.sum(), torch.ones(2, dtype=f64), atol=-1), ValueError, "atol"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
