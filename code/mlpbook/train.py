"""The training loop, written the way pytorch/examples writes it, returning a ``History``."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

__all__ = ["History", "train", "accuracy", "evaluate"]

LossFn = Callable[[Tensor, Tensor], Tensor]
TASKS = ("binary", "regression", "multiclass")


@dataclass
class History:
    """Per-epoch metrics of one run (accuracy lists stay empty for regression)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)

    def final(self) -> dict[str, float]:
        """The last recorded value of every non-empty metric, e.g. ``{"train_loss": 0.05}``."""
        return {k: v[-1] for k, v in vars(self).items() if v}


class _FlatLoss(nn.Module):
    """Wrap a loss so that outputs of shape (n, 1) and targets of shape (n,) line up."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, y_hat: Tensor, y: Tensor) -> Tensor:
        return self.loss(y_hat.reshape(y.shape) if y_hat.numel() == y.numel() else y_hat, y)


def _default_loss(task: str) -> LossFn:
    if task == "binary":
        return _FlatLoss(nn.BCEWithLogitsLoss())
    if task == "regression":
        return _FlatLoss(nn.MSELoss())
    return nn.CrossEntropyLoss()


@contextlib.contextmanager
def _few_threads(work: int) -> Iterator[None]:
    """Run tiny problems on one thread: faster, and immune to a busy machine's thread waits."""
    before = torch.get_num_threads()
    if work <= 10_000_000:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _batches(X: Tensor, y: Tensor, batch_size: int | None,
             g: torch.Generator) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield the whole set once (full batch) or shuffled mini-batches of ``batch_size``."""
    if batch_size is None or batch_size >= X.shape[0]:
        yield X, y
        return
    perm = torch.randperm(X.shape[0], generator=g)
    for start in range(0, X.shape[0], batch_size):
        idx = perm[start:start + batch_size]
        yield X[idx], y[idx]


def _check_xy(X: object, y: object, names: str = "X, y") -> None:
    if not isinstance(X, Tensor) or not isinstance(y, Tensor):
        raise TypeError(f"{names} must be torch tensors")
    if X.ndim == 0 or y.ndim == 0 or X.shape[0] != y.shape[0]:
        raise ValueError(f"{names} must have the same number of rows, got shapes "
                         f"{tuple(X.shape)} and {tuple(y.shape)}")


def _predicted(y_hat: Tensor) -> Tensor:
    """Class predictions from logits: argmax for (n, k > 1), else logit > 0."""
    if y_hat.ndim == 2 and y_hat.shape[1] > 1:
        return y_hat.argmax(dim=1)
    return (y_hat.reshape(-1) > 0).long()


def accuracy(model: nn.Module, X: Tensor, y: Tensor) -> float:
    """Fraction of rows classified correctly (binary logits > 0, or argmax over k classes)."""
    _check_xy(X, y)
    model.eval()
    with torch.no_grad():
        pred = _predicted(model(X))
    return (pred == y.reshape(-1).long()).double().mean().item()


def evaluate(model: nn.Module, X: Tensor, y: Tensor, loss_fn: LossFn) -> float:
    """Mean loss of ``model`` on ``(X, y)``, computed under ``eval()`` and ``no_grad()``."""
    _check_xy(X, y)
    model.eval()
    with torch.no_grad():
        return loss_fn(model(X), y).item()


def _prepare(model: nn.Module, X: Tensor, y: Tensor, task: str) -> tuple[Tensor, Tensor]:
    params = list(model.parameters())
    dtype = params[0].dtype if params else X.dtype
    X = X.to(dtype) if X.is_floating_point() else X
    return X, (y.long().reshape(-1) if task == "multiclass" else y.to(dtype))


def train(model: nn.Module, X: Tensor, y: Tensor, *, loss_fn: LossFn | None = None,
          lr: float = 0.1, n_epochs: int = 100,
          optimizer: str | torch.optim.Optimizer = "sgd", batch_size: int | None = None,
          X_val: Tensor | None = None, y_val: Tensor | None = None, task: str = "binary",
          zero_grad: bool = True, seed: int = 0, progress: bool = False) -> History:
    """Train ``model`` on ``(X, y)`` and return the per-epoch ``History``.

    Args:
        model: maps X (n, d) to logits (n, 1) or (n,) for "binary", to (n, k) for "multiclass",
            to predictions shaped like y for "regression".
        loss_fn: defaults to BCEWithLogitsLoss / MSELoss / CrossEntropyLoss by ``task``.
        optimizer: "sgd", "adam" or a ready ``torch.optim.Optimizer`` (then ``lr`` is unused).
        batch_size: None for full-batch gradient descent; otherwise shuffled mini-batches drawn
            from ``torch.Generator().manual_seed(seed)``.
        X_val, y_val: optional held-out set, evaluated after every epoch.
        zero_grad: keep True. False skips ``optimizer.zero_grad()`` to show the bug where
            gradients from earlier steps accumulate.
        progress: print one updating line of progress (off by default).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    _check_xy(X, y)
    if (X_val is None) != (y_val is None):
        raise ValueError("X_val and y_val must be given together")
    if X_val is not None:
        _check_xy(X_val, y_val, "X_val, y_val")
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr)
                                                                          and lr > 0):
        raise ValueError(f"lr must be a positive finite float, got {lr!r}")
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, int) or n_epochs < 1:
        raise ValueError(f"n_epochs must be an int >= 1, got {n_epochs!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or
                                   not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be None or an int >= 1, got {batch_size!r}")
    if isinstance(optimizer, str):
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd', 'adam' or an Optimizer, got {optimizer!r}")
        make = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
        optimizer = make(model.parameters(), lr=lr)
    elif not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be 'sgd', 'adam' or a torch.optim.Optimizer, "
                        f"got {type(optimizer).__name__}")
    loss_fn = _default_loss(task) if loss_fn is None else loss_fn
    X, y = _prepare(model, X, y, task)
    if X_val is not None:
        X_val, y_val = _prepare(model, X_val, y_val, task)
    g = torch.Generator().manual_seed(seed)
    history = History()
    with _few_threads(X.shape[0] * sum(p.numel() for p in model.parameters())):
        for epoch in range(1, n_epochs + 1):
            model.train()
            for X_b, y_b in _batches(X, y, batch_size, g):
                if zero_grad:
                    optimizer.zero_grad()
                loss = loss_fn(model(X_b), y_b)
                loss.backward()
                optimizer.step()

            _record(history, model, loss_fn, task, X, y, X_val, y_val)
            if progress and (epoch % max(1, n_epochs // 100) == 0 or epoch == n_epochs):
                _show_progress(epoch, n_epochs, history)
    return history


def _show_progress(epoch: int, n_epochs: int, history: History) -> None:
    """Rewrite one line in place: ``epoch 10/100  train_loss 0.1234 ...``."""
    metrics = "  ".join(f"{k} {v:.4g}" for k, v in history.final().items())
    end = "\n" if epoch == n_epochs else ""
    print(f"\repoch {epoch}/{n_epochs}  {metrics}", end=end, flush=True)


def _record(history: History, model: nn.Module, loss_fn: LossFn, task: str, X: Tensor,
            y: Tensor, X_val: Tensor | None, y_val: Tensor | None) -> None:
    """Append end-of-epoch loss (and accuracy) on the training and validation sets."""
    model.eval()
    with torch.no_grad():
        for X_s, y_s, losses, accs in ((X, y, history.train_loss, history.train_acc),
                                       (X_val, y_val, history.val_loss, history.val_acc)):
            if X_s is None:
                continue
            y_hat = model(X_s)
            losses.append(loss_fn(y_hat, y_s).item())
            if task != "regression":
                accs.append((_predicted(y_hat) == y_s.reshape(-1).long()).double().mean().item())
