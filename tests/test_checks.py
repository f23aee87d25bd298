"""Lab self-checks: each passes a right student function and fails a wrong one, clearly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlpbook import checks
from mlpbook.checks import CheckResult
from mlpbook.engine import Value
from mlpbook.models import collapse_linear, make_mlp


def _tanh_op(v: Value, *, overwrite: bool = False, chain: bool = True) -> Value:
    t = math.tanh(v.data)
    out = Value(t, _prev=(v,), _op="tanh")

    def _backward() -> None:
        local = (1 - t**2) * (out.grad if chain else 1.0)
        v.grad = local if overwrite else v.grad + local

    out._backward = _backward
    return out


def _not_implemented(*args):
    raise NotImplementedError("your code here")


def _assert_fails(result: CheckResult, *words: str) -> None:
    assert isinstance(result, CheckResult) and not result and not result.passed
    text = str(result)
    assert text.startswith("❌") and "Traceback" not in text
    for word in words:
        assert word in text, text


def test_check_result_truthiness_and_text() -> None:
    ok = CheckResult("q", True, "fine")
    bad = CheckResult("q", False, "off:", expected=1, observed=2, hint="look again")
    assert ok and not bad
    assert str(ok) == "✅ q: fine" and repr(ok) == str(ok)
    assert str(bad) == "❌ q: off: expected 1, observed 2, hint: look again"


def test_checks_print_their_verdict(capsys) -> None:
    result = checks.check_tanh(_tanh_op)
    assert capsys.readouterr().out.strip() == str(result)
    checks.check_tanh(_tanh_op, verbose=False)
    assert capsys.readouterr().out == ""


def test_check_backward() -> None:
    assert checks.check_backward(lambda x: x * x + x.tanh(), verbose=False)
    _assert_fails(checks.check_backward(lambda x: _tanh_op(x, overwrite=True) * x, verbose=False),
                  "wrong gradient", "expected", "observed", "hint")
    _assert_fails(checks.check_backward(lambda x: 2.0, verbose=False), "must return a Value")


def test_check_tanh() -> None:
    assert checks.check_tanh(_tanh_op, verbose=False)
    _assert_fails(checks.check_tanh(lambda v: _tanh_op(v, overwrite=True), verbose=False), "+=")
    _assert_fails(checks.check_tanh(lambda v: _tanh_op(v, chain=False), verbose=False),
                  "out.grad")
    _assert_fails(checks.check_tanh(lambda v: Value(math.tanh(v.data)), verbose=False), "stayed 0")
    _assert_fails(checks.check_tanh(lambda v: v.sigmoid(), verbose=False), "wrong value")


def _mlp_backward(X, y, W1, b1, W2, b2, *, scale_mean: bool = True):
    z = X @ W1.T + b1
    h = z.clamp(min=0)
    dout = 2 * (h @ W2.T + b2 - y) / (y.numel() if scale_mean else 1)
    dz = (dout @ W2) * (z > 0)
    return dz.T @ X, dz.sum(0), dout.T @ h, dout.sum(0)


def test_check_mlp_backward() -> None:
    assert checks.check_mlp_backward(_mlp_backward, verbose=False)
    _assert_fails(checks.check_mlp_backward(
        lambda *a: _mlp_backward(*a, scale_mean=False), verbose=False), "dW1", "divide dout by N")
    _assert_fails(checks.check_mlp_backward(
        lambda *a: (_mlp_backward(*a)[0].T, *_mlp_backward(*a)[1:]), verbose=False),
        "wrong shape", "(4, 3)", "(3, 4)", "nn.Linear")
    _assert_fails(checks.check_mlp_backward(lambda *a: None, verbose=False), "tuple")


def test_check_is_linear_and_collapse() -> None:
    linear = make_mlp(3, [5, 4], 2, activation="identity", seed=0, dtype=torch.float64)
    relu = make_mlp(3, [5, 4], 2, activation="relu", seed=0, dtype=torch.float64)
    assert checks.check_is_linear(linear, verbose=False)
    _assert_fails(checks.check_is_linear(relu, verbose=False), "gap", "identity")
    assert checks.check_is_linear(relu, expect=False, verbose=False)
    assert checks.check_is_linear(lambda X: 2 * X + 1, in_features=2, verbose=False)

    assert checks.check_collapse(linear, collapse_linear(linear), verbose=False)
    W1, b1, W2, b2, W3, b3 = (p.detach() for p in linear.parameters())
    assert checks.check_collapse(linear, (W3 @ W2 @ W1, W3 @ (W2 @ b1 + b2) + b3), verbose=False)
    _assert_fails(checks.check_collapse(linear, (W3 @ W2 @ W1, W3 @ W2 @ b1 + b3), verbose=False),
                  "W2 @ W1")
    _assert_fails(checks.check_collapse(linear, "W", verbose=False), "nn.Linear")


def _loop(model, X, y, optimizer, loss_fn, n_steps, *, zero=True, step=True):
    model.train()
    for _ in range(n_steps):
        if zero:
            optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        if step:
            optimizer.step()


def test_check_training_loop() -> None:
    assert checks.check_training_loop(_loop, verbose=False)
    _assert_fails(checks.check_training_loop(lambda *a: _loop(*a, zero=False), verbose=False),
                  "forgot optimizer.zero_grad()")
    _assert_fails(checks.check_training_loop(lambda *a: _loop(*a, step=False), verbose=False),
                  "optimizer.step()")


@pytest.mark.parametrize("check", [checks.check_backward, checks.check_tanh,
                                   checks.check_mlp_backward, checks.check_is_linear,
                                   checks.check_training_loop])
def test_student_exception_becomes_one_line_verdict(check, capsys) -> None:
    kwargs = {"in_features": 2} if check is checks.check_is_linear else {}
    result = check(_not_implemented, **kwargs)
    _assert_fails(result, "your function raised NotImplementedError: your code here")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "Traceback" not in out


def test_check_answer() -> None:
    assert checks.check_answer("q", 0.30000000000000004, 0.3, verbose=False)
    assert checks.check_answer("q", torch.tensor([1.0, 2.0]), [1, 2], verbose=False)
    _assert_fails(checks.check_answer("q", 0.4, 0.3, verbose=False), "expected 0.3", "observed 0.4")
    _assert_fails(checks.check_answer("q", ..., 0.3, verbose=False), "no answer yet")
    _assert_fails(checks.check_answer("q", [1, 2], [1, 2, 3], verbose=False), "wrong shape")
    _assert_fails(checks.check_answer("q", float("nan"), 0.3, verbose=False), "not quite")
    _assert_fails(checks.check_answer("q", "abc", 0.3, verbose=False), "number")


@pytest.mark.parametrize("check", [checks.check_backward, checks.check_tanh,
                                   checks.check_mlp_backward, checks.check_is_linear,
                                   checks.check_training_loop])
@pytest.mark.parametrize("not_a_function", [42, None, ..., "tanh"])
def test_checks_fail_on_a_non_callable(check, not_a_function) -> None:
    _assert_fails(check(not_a_function, verbose=False), "callable", "expected a function",
                  "without calling it")


def test_check_collapse_reports_a_transposed_weight() -> None:
    model = make_mlp(3, [5], 2, activation="identity", seed=0, dtype=torch.float64)
    single = collapse_linear(model)
    W, b = single.weight.detach(), single.bias.detach()
    _assert_fails(checks.check_collapse(model, (W.T, b), verbose=False), "wrong shape")
    _assert_fails(checks.check_collapse(lambda X: X, single, verbose=False), "model",
                  "nn.Module")  # type: ignore[arg-type]
    _assert_fails(checks.check_collapse(model, collapse_linear, verbose=False),
                  "already holds the answer")  # the library's own answer earns nothing
    assert checks.check_collapse(model, lambda m: (W, b), verbose=False)  # a function is called


def test_check_answer_never_passes_vacuously() -> None:
    for observed in ["5", True, np.bool_(True), 5 + 0j, torch.tensor([True]), [[1, 2], [3]],
                     None, ..., float("inf")]:
        _assert_fails(checks.check_answer("q", observed, 5, verbose=False))
    assert checks.check_answer("q", np.int64(5), 5, verbose=False)
    assert checks.check_answer("best (width, depth)", (8, 1), (8, 1), atol=0, verbose=False)
    for expected, exc in [(True, TypeError), ("5", TypeError), (float("nan"), ValueError)]:
        with pytest.raises(exc, match="expected"):
            checks.check_answer("q", 5, expected)


@pytest.mark.parametrize("call, exc, word", [
    (lambda: checks.check_backward(math.sin, points=[]), ValueError, "points"),
    (lambda: checks.check_backward(math.sin, points=[math.nan]), ValueError, r"points\[0\]"),
    (lambda: checks.check_tanh(math.tanh, atol=-1.0), ValueError, "atol"),
    (lambda: checks.check_mlp_backward(print, seed=-1), ValueError, "seed"),
    (lambda: checks.check_training_loop(print, n_steps=0), ValueError, "n_steps"),
    (lambda: checks.check_is_linear(print, in_features=0), ValueError, "in_features"),
    (lambda: checks.check_tanh(math.tanh, verbose="yes"), TypeError, "verbose"),
    (lambda: checks.check_tanh(math.tanh, timeout=0), ValueError, "timeout"),
    (lambda: checks.check_answer(3, 1, 1), TypeError, "name"),
])
def test_the_pages_settings_are_validated(call, exc, word) -> None:
    """What the page passes (not the student) raises: a wrong setting is a bug to fix."""
    with pytest.raises(exc, match=word):
        call()


# ----- grades that mean something: the student's own code path, the page's rules, partial credit


def test_the_librarys_answers_earn_nothing() -> None:
    """Exercise 1 asks for tanh's backward, which ``Value.tanh`` already holds; exercise 3's
    ``collapse`` is ``models.collapse_linear``: calling them fails, however right the result."""
    shortcut = checks.check_tanh(lambda v: v.tanh(), verbose=False)
    _assert_fails(shortcut, "Value.tanh", "already holds the answer")
    assert shortcut.score == 0
    model = make_mlp(2, [4], 1, activation="identity", seed=0, dtype=torch.float64)
    _assert_fails(checks.check_collapse(model, lambda m: collapse_linear(m), verbose=False),
                  "collapse_linear")
    assert checks.check_tanh(_tanh_op, verbose=False)  # the student's own op passes


def test_no_autograd_in_the_hand_written_backward_is_enforced_and_flagged() -> None:
    def by_autograd(X, y, W1, b1, W2, b2):
        with torch.enable_grad():
            params = [p.clone().requires_grad_(True) for p in (W1, b1, W2, b2)]
            loss = ((torch.relu(X @ params[0].T + params[1]) @ params[2].T + params[3] - y)
                    ** 2).mean()
            return torch.autograd.grad(loss, params)

    for check in (checks.check_mlp_backward, checks.check_gradcheck):
        result = check(by_autograd, verbose=False)
        _assert_fails(result, "no autograd", "torch.autograd.grad")
        assert result.flag == "autograd" and result.score == 0


def _right_backward(X, y, W1, b1, W2, b2):
    Z = X @ W1.T + b1
    H = torch.relu(Z)
    d_yhat = 2 * (H @ W2.T + b2 - y) / y.numel()
    dZ = (d_yhat @ W2) * (Z > 0)
    return dZ.T @ X, dZ.sum(0), d_yhat.T @ H, d_yhat.sum(0)


def test_partial_credit_per_gradient_and_per_stage() -> None:
    assert checks.check_mlp_backward(_right_backward, verbose=False).score == 1
    assert checks.check_gradcheck(_right_backward, verbose=False).score == 1

    def wrong_db1(*args):
        dW1, db1, dW2, db2 = _right_backward(*args)
        return dW1, db1 * 2, dW2, db2

    for check in (checks.check_mlp_backward, checks.check_gradcheck):
        result = check(wrong_db1, verbose=False)
        _assert_fails(result, "db1")
        assert result.score == 0.75, (check, result.score)
    overwrite = checks.check_tanh(lambda v: _tanh_op(v, overwrite=True), verbose=False)
    assert not overwrite and overwrite.score == 0.5  # the gradient right, not its accumulation
    assert "partial credit" in str(overwrite)


def test_a_graded_answer_is_never_shown() -> None:
    wrong = checks.check_answer("gradients in .grad", 4, 5, atol=0, verbose=False, reveal=False)
    assert not wrong and "5" not in str(wrong) and "not shown" in str(wrong)
    assert checks.check_answer("gradients in .grad", 5, 5, atol=0, verbose=False, reveal=False)
    with pytest.raises(TypeError, match="reveal"):
        checks.check_answer("q", 5, 5, reveal="no")
