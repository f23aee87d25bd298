"""Self-checks on training: a training loop against a reference, and the width x depth
experiment of the lab (whose answers are graded, so never shown)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from mlpbook import models, validation
from mlpbook.checks.answers import check_answer
from mlpbook.checks.core import (TIME_LIMIT, CheckResult, _call, _check_settings, _fail,
                                 _first_line, _real, _report, _run, _tensor)


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
                     verbose=verbose, reveal=False),
        check_answer("lowest training loss at (width, depth)", best_train, by_train, atol=0,
                     verbose=verbose, reveal=False)]
