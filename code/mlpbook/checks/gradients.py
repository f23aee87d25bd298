"""Self-checks on a hand-written backward pass: the lab's two-layer MLP, against autograd and
against finite differences (``torch.autograd.gradcheck``). The page says "no autograd": a
backward that calls it fails, flagged ``autograd``. Credit is per gradient."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.autograd.gradcheck import GradcheckError

from mlpbook import validation
from mlpbook.checks.core import (AUTOGRAD, TIME_LIMIT, CheckResult, _call, _check_settings,
                                 _fail, _Failed, _first_line, _refuse_autograd, _run, _short,
                                 _tensor, _watching)

LABELS = ("dW1", "db1", "dW2", "db2")
_TRANSPOSED = ("W has shape (out, in), as in nn.Linear, so dW = dZ.T @ (the layer's input), not "
               "its transpose")


def _mlp_problem(seed: int) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    shapes = [(6, 3), (6, 1), (4, 3), (4,), (1, 4), (1,)]  # X, y, W1, b1, W2, b2 (nn.Linear's)
    return tuple(torch.randn(s, generator=g, dtype=torch.float64) for s in shapes)


def _own_backward(name: str, backward_fn: Callable[..., Any], *args: Tensor) -> Any:
    """Call the student's backward on copies of ``args``; a call to autograd fails it."""
    with _watching(AUTOGRAD) as called:
        grads = _call(name, backward_fn, *(a.clone() for a in args))
    _refuse_autograd(name, called, "mlp_backward")
    if not isinstance(grads, (tuple, list)) or len(grads) != 4:
        raise _fail(name, "return the four gradients as a tuple.", "(dW1, db1, dW2, db2)",
                    validation.describe(grads), "end with: return dW1, db1, dW2, db2")
    return grads


def check_mlp_backward(backward_fn: Callable[..., Sequence[Any]], *, seed: int = 0,
                       atol: float = 1e-8, verbose: bool = True,
                       timeout: float = TIME_LIMIT) -> CheckResult:
    """Compare hand-written gradients of ``mean((relu(X@W1.T+b1)@W2.T+b2 - y)**2)`` with autograd.

    ``backward_fn(X, y, W1, b1, W2, b2) -> (dW1, db1, dW2, db2)``, weights of shape (out, in) as
    in ``nn.Linear``; each gradient must have the shape of its parameter and match autograd in
    float64 to ``atol`` (absolute). Each right gradient earns a quarter (``credit``); a
    ``backward_fn`` that calls autograd earns nothing.
    """
    seed = validation.seed(seed)
    timeout = _check_settings(verbose, timeout, atol=atol)
    name = "check_mlp_backward"

    def verdict(label: str, g: Any, e: Tensor, y: Tensor) -> CheckResult | None:
        shape_hint = f"{label} is a tensor of shape {tuple(e.shape)}, like its parameter"
        try:
            g = _tensor(name, g, label, shape_hint)
        except _Failed as err:
            return err.result
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
        return None

    def body() -> CheckResult:
        X, y, W1, b1, W2, b2 = _mlp_problem(seed)
        params = [p.clone().requires_grad_(True) for p in (W1, b1, W2, b2)]
        loss = ((torch.relu(X @ params[0].T + params[1]) @ params[2].T + params[3] - y) ** 2).mean()
        expected = torch.autograd.grad(loss, params)
        grads = _own_backward(name, backward_fn, X, y, W1, b1, W2, b2)
        wrong = [r for r in (verdict(label, g, e, y) for label, g, e in
                             zip(LABELS, grads, expected)) if r is not None]
        if not wrong:
            return CheckResult(name, True, f"all four gradients match autograd (float64, atol "
                               f"{atol:g}).")
        wrong[0].credit = (4 - len(wrong)) / 4
        return wrong[0]
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
    (gradcheck's own, with its default rtol). Gradcheck runs once per parameter (the others
    held fixed), so each gradient that agrees earns a quarter (``credit``).
    """
    seed = validation.seed(seed)
    eps = validation.number(eps, "eps", low=1e-12, high=1e-1)
    timeout = _check_settings(verbose, timeout, atol=atol)
    name = "check_gradcheck"

    def guarded(X: Tensor, y: Tensor, *params: Tensor) -> tuple[Tensor, ...]:
        """backward_fn on copies of the inputs; what it returns, checked and in float64."""
        grads = _own_backward(name, backward_fn, X, y, *params)
        out = []
        for label, g, p in zip(LABELS, grads, params):
            g = _tensor(name, g, label, f"{label} is a tensor of shape {tuple(p.shape)}")
            if g.shape != p.shape:
                raise _fail(name, f"{label} has the wrong shape:", tuple(p.shape),
                            tuple(g.shape), _TRANSPOSED if g.dim() == 2 and g.shape == p.T.shape
                            else "a gradient has the shape of its parameter")
            out.append(g)
        return tuple(out)

    def one(X: Tensor, y: Tensor, params: list[Tensor], i: int) -> CheckResult | None:
        inputs = [p.detach().clone().requires_grad_(j == i) for j, p in enumerate(params)]
        try:
            torch.autograd.gradcheck(_loss_with_backward(guarded), (X, y, *inputs), eps=eps,
                                     atol=atol, raise_exception=True)
        except GradcheckError as err:
            if not re.search(r"with respect to input (\d+)", str(err)):  # gradcheck says why
                return CheckResult(name, False, f"gradcheck failed ({_first_line(err)}).",
                                   "gradcheck passes", "gradcheck fails", "your backward must "
                                   "return the same gradients every time it is called")
            return CheckResult(name, False, f"your backward disagrees with finite differences "
                               f"for {LABELS[i]}.", "gradcheck passes", f"{LABELS[i]} differs",
                               "check_mlp_backward shows the wrong gradient and its error")
        return None

    def body() -> CheckResult:
        g = torch.Generator().manual_seed(seed)
        shapes = [(5, 3), (5, 1), (4, 3), (4,), (1, 4), (1,)]  # X, y, W1, b1, W2, b2
        X, y, *params = (torch.randn(s, dtype=torch.float64, generator=g) for s in shapes)
        wrong = [r for r in (one(X, y, params, i) for i in range(4)) if r is not None]
        if not wrong:
            return CheckResult(name, True, f"your backward agrees with finite differences (eps "
                               f"{eps:g}, atol {atol:g}).")
        wrong[0].credit = (4 - len(wrong)) / 4
        return wrong[0]
    return _run(name, body, verbose, timeout, backward_fn)
