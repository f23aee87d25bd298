"""The training loop, written the way pytorch/examples writes it, returning a ``History``."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from mlpbook import models, validation

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


def _default_loss(task: str) -> LossFn:
    if task == "binary":
        return nn.BCEWithLogitsLoss()
    if task == "regression":
        return nn.MSELoss()
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


def _check_data(model: nn.Module, X: object, y: object, names: tuple[str, str] = ("X", "y"),
                task: str | None = None) -> tuple[Tensor, Tensor]:
    """Return ``(X, y)`` checked, with a floating X converted to the model's dtype.

    X: a finite float tensor (n, in_features); y: finite, n rows; for a task, labels that fit it.
    """
    nx, ny = names
    validation.tensor(X, nx, ndim=2, floating=True)
    validation.tensor(y, ny, ndim=(1, 2))
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"{nx} and {ny} must have the same number of rows, got shapes "
                         f"{tuple(X.shape)} and {tuple(y.shape)}")
    dtype = models._dtype(model)
    X = models.check_input(model, X if dtype is None else X.to(dtype), nx)
    if task in ("binary", "multiclass"):
        _check_labels(y, ny, binary=task == "binary")
    if task == "binary" and y.ndim == 2 and y.shape[1] != 1:
        raise ValueError(f"{ny} must have shape (n,) or (n, 1) for task='binary', got "
                         f"{tuple(y.shape)}")
    if task == "multiclass" and y.ndim == 2 and y.shape[1] != 1:
        raise ValueError(f"{ny} must hold one class index per row for task='multiclass' "
                         f"(shape (n,)), got shape {tuple(y.shape)}")
    return X, y


def _check_labels(y: Tensor, name: str, *, binary: bool = False) -> None:
    """Raise ValueError unless ``y`` holds class labels 0, 1, ... (only 0 and 1 if binary)."""
    bad = (y != y.round()) | (y < 0) | ((y > 1) if binary else False)
    if bool(bad.any()):
        value = y[bad].reshape(-1)[0].item()
        want = "labels 0 and 1" if binary else "class labels (whole numbers 0, 1, 2, ...)"
        raise ValueError(f"{name} must hold {want}, but it holds {value:g}")


def _forward(model: nn.Module, X: Tensor, name: str = "X") -> Tensor:
    """Return ``model(X)``; a model that cannot take X or returns no tensor -> ValueError."""
    try:
        out = model(X)
    except RuntimeError as err:  # torch's shape and dtype errors
        raise ValueError(f"the model could not be applied to {name} of shape "
                         f"{tuple(X.shape)}: {str(err).splitlines()[0]}") from None
    except Exception as err:  # the model's own code failed: keep its error, name the model
        validation.add_note(err, "model")
        raise
    if not isinstance(out, Tensor) or out.shape[:1] != X.shape[:1]:
        raise ValueError(f"the model must return a tensor with one row per row of {name} "
                         f"({X.shape[0]}), got {validation.describe(out)}")
    return out


# torch's losses by the kind of target they are for (a custom loss function is not checked).
_CLASS_SCORES = (nn.CrossEntropyLoss, nn.NLLLoss, nn.MultiMarginLoss)  # (n, k) scores, k >= 2
_ZERO_ONE = (nn.BCEWithLogitsLoss, nn.BCELoss)  # one output per row, labels 0 and 1
_REAL = (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss)


def _check_loss_fits(loss_fn: LossFn, y_hat: Tensor, task: str | None) -> None:
    """Raise ValueError naming ``loss_fn`` when a torch loss does not fit the task or the
    model's output: it would compute a number, but a meaningless one."""
    def use() -> str:  # built only for an error: _loss runs this on every batch
        return (f"; for task={task!r} use nn.{type(_default_loss(task)).__name__}() (the "
                f"default: leave loss_fn out)" if task in TASKS else "")

    name = f"loss_fn={type(loss_fn).__name__}()"
    if isinstance(loss_fn, _CLASS_SCORES):
        if task in ("binary", "regression"):
            raise ValueError(f"{name} compares one score per class with a class index, which "
                             f"fits task='multiclass' (a model with k >= 2 outputs), not "
                             f"task={task!r}{use()}")
        if y_hat.ndim != 2 or y_hat.shape[1] < 2:
            raise ValueError(f"{name} needs one score per class, an output of shape (n, k) "
                             f"with k >= 2, but the model outputs shape {tuple(y_hat.shape)}; "
                             f"for two classes and one output use nn.BCEWithLogitsLoss() with "
                             f"task='binary'")
    elif isinstance(loss_fn, _ZERO_ONE) and task in ("multiclass", "regression"):
        raise ValueError(f"{name} is for one output per row and labels 0 and 1 "
                         f"(task='binary'), not task={task!r}{use()}")
    elif isinstance(loss_fn, _REAL) and task == "multiclass":
        raise ValueError(f"{name} compares outputs with real targets, but task='multiclass' "
                         f"has class indices{use()}")


def _loss(loss_fn: LossFn, y_hat: Tensor, y: Tensor, task: str | None = None) -> Tensor:
    """``loss_fn(y_hat, y)``, with outputs (n, 1) and targets (n,) lined up (no broadcasting)."""
    _check_loss_fits(loss_fn, y_hat, task)
    if task != "multiclass" and y_hat.shape != y.shape:
        if y_hat.numel() != y.numel():
            raise ValueError(f"the model's output has shape {tuple(y_hat.shape)} but y has shape "
                             f"{tuple(y.shape)}: they must hold one value per target (for "
                             f"{task or 'a'} task, the model's last layer needs "
                             f"{1 if y.ndim == 1 else y.shape[1]} output(s))")
        y_hat = y_hat.reshape(y.shape)
    if task == "multiclass" and (y_hat.ndim != 2 or int(y.max()) >= y_hat.shape[1]):
        raise ValueError(f"for task='multiclass' the model must output (n, k) scores for k > "
                         f"{int(y.max())} classes, got shape {tuple(y_hat.shape)}")
    try:
        loss = loss_fn(y_hat, y)
    except RuntimeError as err:
        raise ValueError(f"loss_fn(output, y) failed for an output of shape "
                         f"{tuple(y_hat.shape)} and y of shape {tuple(y.shape)}: "
                         f"{str(err).splitlines()[0]}") from None
    except Exception as err:  # the loss function's own code failed
        validation.add_note(err, "loss_fn")
        raise
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise ValueError(f"loss_fn must return a one-element tensor, got "
                         f"{validation.describe(loss)}")
    if torch.is_grad_enabled() and y_hat.requires_grad and not loss.requires_grad:
        raise ValueError("loss_fn must compute the loss from the model's output, but its result "
                         "does not depend on it (no gradient can flow back): did it detach the "
                         "output, or build a new tensor from numbers?")
    return loss


def _predicted(y_hat: Tensor) -> Tensor:
    """Class predictions from logits: argmax for (n, k > 1), else logit > 0."""
    if y_hat.ndim == 2 and y_hat.shape[1] > 1:
        return y_hat.argmax(dim=1)
    return (y_hat.reshape(-1) > 0).long()


def accuracy(model: nn.Module, X: Tensor, y: Tensor) -> float:
    """Fraction of rows classified correctly (binary logits > 0, or argmax over k classes)."""
    validation.module(model)
    X, y = _check_data(model, X, y)
    _check_labels(y, "y")
    model.eval()
    with torch.no_grad():
        y_hat = _forward(model, X)
    multiclass = y_hat.ndim == 2 and y_hat.shape[1] > 1
    if y.numel() != y.shape[0] or (y_hat.numel() != y_hat.shape[0] and not multiclass):
        raise ValueError(f"accuracy needs one label per row: y of shape (n,) or (n, 1) and an "
                         f"output of shape (n,), (n, 1) or (n, k), got y {tuple(y.shape)} and "
                         f"output {tuple(y_hat.shape)}")
    if not multiclass:
        _check_labels(y, "y", binary=True)
    return (_predicted(y_hat) == y.reshape(-1).long()).double().mean().item()


def evaluate(model: nn.Module, X: Tensor, y: Tensor, loss_fn: LossFn) -> float:
    """Mean loss of ``model`` on ``(X, y)``, computed under ``eval()`` and ``no_grad()``."""
    validation.module(model)
    validation.function(loss_fn, "loss_fn")
    X, y = _check_data(model, X, y)
    model.eval()
    with torch.no_grad():
        y_hat = _forward(model, X)
        task = "multiclass" if isinstance(loss_fn, _CLASS_SCORES) else None
        loss = _loss(loss_fn, y_hat, y, task).item()
    if not math.isfinite(loss):
        raise ValueError(f"the loss is {loss}: the model's output on X is not finite, or "
                         f"loss_fn does not fit y")
    return loss


def _prepare_y(y: Tensor, X: Tensor, task: str) -> Tensor:
    """Targets in the form the default losses expect: class indices, or X's float dtype."""
    return y.long().reshape(-1) if task == "multiclass" else y.to(X.dtype)


def train(model: nn.Module, X: Tensor, y: Tensor, *, loss_fn: LossFn | None = None,
          lr: float = 0.1, n_epochs: int = 100,
          optimizer: str | torch.optim.Optimizer = "sgd", batch_size: int | None = None,
          X_val: Tensor | None = None, y_val: Tensor | None = None, task: str = "binary",
          zero_grad: bool = True, seed: int = 0, progress: bool = False) -> History:
    """Train ``model`` on ``(X, y)`` and return the per-epoch ``History``.

    Args:
        model: maps X (n, d) to logits (n, 1) or (n,) for "binary", to (n, k) for "multiclass",
            to predictions shaped like y for "regression".
        X: float tensor (n, d), converted to the model's dtype. y: targets, n rows.
        loss_fn: defaults to BCEWithLogitsLoss / MSELoss / CrossEntropyLoss by ``task``.
        optimizer: "sgd", "adam" or a ready ``torch.optim.Optimizer`` (then ``lr`` is unused).
        batch_size: None for full-batch gradient descent; otherwise shuffled mini-batches drawn
            from ``torch.Generator().manual_seed(seed)``.
        X_val, y_val: optional held-out set, evaluated after every epoch.
        zero_grad: keep True. False skips ``optimizer.zero_grad()`` to show the bug where
            gradients from earlier steps accumulate.
        progress: print one updating line of progress (off by default).

    Raises ValueError if the loss stops being finite (the training diverged).
    """
    validation.module(model)
    task = validation.one_of(task, "task", TASKS)
    X, y = _check_data(model, X, y, task=task)
    if (X_val is None) != (y_val is None):
        raise ValueError("X_val and y_val must be given together (or both left out)")
    if X_val is not None:
        X_val, y_val = _check_data(model, X_val, y_val, ("X_val", "y_val"), task)
    lr = validation.number(lr, "lr", low=0.0, low_open=True,  # and it must fit the dtype
                           high=torch.finfo(models._dtype(model) or torch.float64).max)
    n_epochs = validation.integer(n_epochs, "n_epochs", low=1, high=1_000_000)
    if batch_size is not None:
        batch_size = validation.integer(batch_size, "batch_size (an int or None)", low=1)
    validation.boolean(zero_grad, "zero_grad")
    validation.boolean(progress, "progress")
    seed = validation.seed(seed)
    if loss_fn is not None:
        validation.function(loss_fn, "loss_fn")
    own_optimizer = isinstance(optimizer, str)
    if own_optimizer:
        optimizer = validation.one_of(optimizer, "optimizer", ("sgd", "adam"),
                                      {"SGD": "use lower case", "Adam": "use lower case"})
        if not any(True for _ in model.parameters()):
            raise ValueError("model has no parameters to train")
        make = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
        optimizer = make(model.parameters(), lr=lr)
    elif not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be 'sgd', 'adam' or a torch.optim.Optimizer, "
                        f"got {validation.describe(optimizer)}")
    if any(True for _ in model.parameters()) and not any(
            p.requires_grad for p in model.parameters()):
        raise ValueError("model has no parameter to train: every one has requires_grad=False "
                         "(frozen); call model.requires_grad_(True)")
    loss_fn = _default_loss(task) if loss_fn is None else loss_fn
    y = _prepare_y(y, X, task)
    if X_val is not None:
        y_val = _prepare_y(y_val, X_val, task)
    g = torch.Generator().manual_seed(seed)
    history = History()
    with _few_threads(X.shape[0] * sum(p.numel() for p in model.parameters())):
        for epoch in range(1, n_epochs + 1):
            model.train()
            for X_b, y_b in _batches(X, y, batch_size, g):
                if zero_grad:
                    optimizer.zero_grad()
                loss = _loss(loss_fn, _forward(model, X_b), y_b, task)
                loss.backward()
                optimizer.step()

            _record(history, model, loss_fn, task, X, y, X_val, y_val)
            _check_finite(history, model if epoch == n_epochs else None, epoch,
                          lr if own_optimizer else None)
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
            losses.append(_loss(loss_fn, y_hat, y_s, task).item())
            if task != "regression":
                accs.append((_predicted(y_hat) == y_s.reshape(-1).long()).double().mean().item())


def _check_finite(history: History, model: nn.Module | None, epoch: int,
                  lr: float | None) -> None:
    """Raise ValueError once a loss (or, given a model, a parameter) is nan or inf."""
    bad = [f"the {key.replace('_', ' ')} is {getattr(history, key)[-1]}"
           for key in ("train_loss", "val_loss")
           if getattr(history, key) and not math.isfinite(getattr(history, key)[-1])]
    if not bad and model is not None and not all(bool(torch.isfinite(p).all())
                                                 for p in model.parameters()):
        bad = ["some parameters are nan or inf"]
    if bad:
        advice = (f"lower lr (it is {lr:g})" if lr is not None else
                  "lower the optimizer's learning rate")
        raise ValueError(f"training diverged: after epoch {epoch} {bad[0]}; {advice}")
