"""The training loop: learns two moons, is seeded, shows the zero_grad bug, validates input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mlpbook.data import sine, split, two_moons
from mlpbook.models import MLP, make_mlp
from mlpbook.train import History, accuracy, evaluate, train


@pytest.fixture(scope="module")
def moons() -> tuple[torch.Tensor, ...]:
    X, y = two_moons(200, noise=0.1, seed=0)
    return split(X, y, frac=0.25, seed=0)


def test_training_reduces_loss_and_reaches_high_accuracy(moons) -> None:
    Xt, yt, Xv, yv = moons
    model = MLP(2, [16], 1, seed=0)
    h = train(model, Xt, yt, optimizer="adam", lr=0.05, n_epochs=300, X_val=Xv, y_val=yv)
    assert isinstance(h, History)
    assert len(h.train_loss) == len(h.val_loss) == len(h.train_acc) == 300
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert h.final()["train_acc"] >= 0.95 and accuracy(model, Xv, yv) >= 0.9
    assert abs(h.final()["val_acc"] - accuracy(model, Xv, yv)) < 1e-12


def test_full_batch_training_is_one_pass_per_epoch() -> None:
    """Full batch means one forward pass over all the data per epoch, never a loop over samples
    (what keeps a page's training cell fast; the time itself is measured by `make bench`)."""
    model = MLP(2, [16], 1, seed=0)
    X, y = two_moons(200, seed=0)
    seen: list[int] = []
    model.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    train(model, X, y, lr=0.5, n_epochs=30)
    # 30 training passes over all 200 rows; any further calls (evaluation) also see all rows
    assert len(seen) >= 30 and set(seen) == {200}, (len(seen), sorted(set(seen)))


def test_minibatches_adam_and_seeded_shuffling(moons) -> None:
    Xt, yt, _, _ = moons
    runs = [train(MLP(2, [8], 1, seed=0), Xt, yt, optimizer="adam", lr=0.01, n_epochs=20,
                  batch_size=32, seed=s).train_loss for s in (0, 0, 1)]
    assert all(abs(a - b) <= 1e-12 for a, b in zip(runs[0], runs[1]))
    assert max(abs(a - b) for a, b in zip(runs[0], runs[2])) > 1e-9
    assert runs[0][-1] < runs[0][0]


def test_zero_grad_false_behaves_differently(moons) -> None:
    Xt, yt, _, _ = moons
    good = train(MLP(2, [16], 1, seed=0), Xt, yt, lr=0.1, n_epochs=30)
    bad = train(MLP(2, [16], 1, seed=0), Xt, yt, lr=0.1, n_epochs=30, zero_grad=False)
    assert abs(good.train_loss[0] - bad.train_loss[0]) <= 1e-12  # first step: no stale grads
    assert abs(good.train_loss[-1] - bad.train_loss[-1]) > 1e-3


def test_regression_task_and_evaluate() -> None:
    X, y = sine(100, noise=0.05, seed=0)
    model = make_mlp(1, [32], 1, activation="tanh", seed=0)
    h = train(model, X, y, task="regression", optimizer="adam", lr=0.02, n_epochs=200)
    assert h.train_acc == [] and h.train_loss[-1] < 0.05
    assert abs(evaluate(model, X, y, torch.nn.MSELoss()) - h.train_loss[-1]) < 1e-6


def test_multiclass_task() -> None:
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    y = torch.arange(90) % 3
    X = centres[y] + 0.5 * torch.randn(90, 2, generator=g)
    model = make_mlp(2, [8], 3, seed=0)
    h = train(model, X, y.float(), task="multiclass", lr=0.1, n_epochs=100)
    assert h.final()["train_acc"] >= 0.95 and accuracy(model, X, y) >= 0.95


def test_accepts_optimizer_instance_and_progress_prints_one_line(moons, capsys) -> None:
    Xt, yt, _, _ = moons
    model = MLP(2, [8], 1, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    train(model, Xt, yt, optimizer=opt, n_epochs=5)
    assert capsys.readouterr().out == ""
    train(model, Xt, yt, n_epochs=5, progress=True)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "epoch 5/5" in out


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(lr=0.0), ValueError, "lr"), (dict(lr=float("inf")), ValueError, "lr"),
    (dict(n_epochs=0), ValueError, "n_epochs"), (dict(batch_size=0), ValueError, "batch_size"),
    (dict(optimizer="rmsprop"), ValueError, "optimizer"), (dict(optimizer=3), TypeError, "optimizer"),
    (dict(task="ranking"), ValueError, "task"), (dict(X_val=torch.zeros(3, 2)), ValueError, "X_val"),
])
def test_train_rejects_bad_input(moons, kwargs: dict, exc: type, word: str) -> None:
    Xt, yt, _, _ = moons
    with pytest.raises(exc, match=word):
        train(MLP(2, [4], 1), Xt, yt, **kwargs)


def test_rejects_bad_model_and_data() -> None:
    with pytest.raises(TypeError, match="model"):
        train(lambda X: X, torch.zeros(4, 2), torch.zeros(4))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rows"):
        train(MLP(2, [4], 1), torch.zeros(4, 2), torch.zeros(5))
    with pytest.raises(TypeError, match="X must be a torch tensor"):
        accuracy(MLP(2, [4], 1), [[0.0, 0.0]], [0.0])  # type: ignore[arg-type]


@pytest.mark.parametrize("call, exc, word", [
    (lambda m: train(m, torch.zeros(4, 3), torch.zeros(4)), ValueError, "X must have 2 features"),
    (lambda m: train(m, torch.zeros(4, 2, dtype=torch.long), torch.zeros(4)), TypeError, "X"),
    (lambda m: train(m, torch.zeros(0, 2), torch.zeros(0)), ValueError, "X"),
    (lambda m: train(m, torch.tensor([[0.0, float("nan")], [1.0, 1.0]]), torch.zeros(2)),
     ValueError, "X must hold only finite numbers"),
    (lambda m: train(m, torch.zeros(4, 2), torch.full((4,), 0.5) + 1), ValueError, "labels 0 and 1"),
    (lambda m: train(m, torch.randn(8, 2), torch.randn(8), lr=1e6, n_epochs=30,
                     task="regression"), ValueError, "diverged.*lower lr"),
    (lambda m: train(m, torch.zeros(4, 2), torch.zeros(4), seed=2**32), ValueError, "seed"),
    (lambda m: train(m, torch.zeros(4, 2), torch.zeros(4), zero_grad=1), TypeError, "zero_grad"),
    (lambda m: train(m, torch.zeros(4, 2), torch.zeros(4, 3), task="regression"), ValueError,
     "output"),
    (lambda m: accuracy(m, torch.zeros(4, 2), torch.full((4,), 0.7)), ValueError, "y must hold"),
    (lambda m: accuracy(m, torch.zeros(4, 2), 0.7), TypeError, "y must be a torch tensor"),
    (lambda m: evaluate(m, torch.zeros(4, 2), torch.zeros(4), "mse"), TypeError, "loss_fn"),
])
def test_bad_data_is_named(call, exc, word) -> None:
    with pytest.raises(exc, match=word):
        call(MLP(2, [4], 1, seed=0))


@pytest.mark.parametrize("make, kwargs, word", [
    (lambda: MLP(2, [4], 1, seed=0).requires_grad_(False), {}, "model.*requires_grad"),
    (lambda: MLP(2, [4], 1, seed=0), dict(loss_fn=lambda out, y: torch.tensor(1.0)), "loss_fn"),
    (lambda: MLP(2, [4], 1, seed=0), dict(loss_fn=lambda out, y: (out.detach() - y).pow(2).mean()),
     "loss_fn"),
])
def test_nothing_to_differentiate_is_named_not_a_torch_error(make, kwargs, word) -> None:
    """A frozen model, or a loss not computed from the model's output, gave torch's raw
    'element 0 of tensors does not require grad' from inside loss.backward()."""
    with pytest.raises(ValueError, match=word):
        train(make(), torch.randn(8, 2), torch.zeros(8), n_epochs=2, **kwargs)


def test_evaluate_and_accuracy_line_up_shapes_and_dtypes() -> None:
    """(n, 1) outputs against (n,) targets: no silent n x n broadcast; float64 X is converted."""
    model = MLP(2, [4], 1, seed=0)
    X, y = torch.randn(10, 2, generator=torch.Generator().manual_seed(0)), torch.ones(10)
    with torch.no_grad():
        want = ((model(X).reshape(-1) - y) ** 2).mean().item()
    assert abs(evaluate(model, X, y, nn.MSELoss()) - want) <= 1e-6
    assert abs(evaluate(model, X.double(), y.double(), nn.MSELoss()) - want) <= 1e-6
    assert accuracy(model, X.double(), y) == accuracy(model, X, y.reshape(-1, 1))


@pytest.mark.parametrize("out, kwargs, use", [
    (1, dict(loss_fn=nn.CrossEntropyLoss()), "BCEWithLogitsLoss"),  # binary, one output
    (2, dict(loss_fn=nn.CrossEntropyLoss()), "BCEWithLogitsLoss"),
    (1, dict(loss_fn=nn.CrossEntropyLoss(), task="multiclass"), "BCEWithLogitsLoss"),
    (1, dict(loss_fn=nn.NLLLoss(), task="regression"), "MSELoss"),
    (2, dict(loss_fn=nn.BCEWithLogitsLoss(), task="multiclass"), "CrossEntropyLoss"),
    (2, dict(loss_fn=nn.MSELoss(), task="multiclass"), "CrossEntropyLoss"),
    (1, dict(loss_fn=nn.BCEWithLogitsLoss(), task="regression"), "MSELoss"),
])
def test_a_loss_that_does_not_fit_the_task_is_named(out, kwargs, use) -> None:
    """CrossEntropyLoss on one output per row trained silently on a meaningless number (over
    the batch as if it were one row's class scores, with the 0/1 labels as probabilities)."""
    X, y = two_moons(40, seed=0)
    with pytest.raises(ValueError, match=rf"loss_fn=\w+Loss\(\).*nn\.{use}\(\)"):
        train(make_mlp(2, [4], out, seed=0), X, y, n_epochs=2, **kwargs)


def test_losses_that_fit_still_train() -> None:
    X, y = two_moons(40, seed=0)
    for out, kwargs in [(1, dict(loss_fn=nn.MSELoss())), (1, dict(loss_fn=nn.BCEWithLogitsLoss())),
                        (2, dict(loss_fn=nn.CrossEntropyLoss(), task="multiclass"))]:
        h = train(make_mlp(2, [4], out, seed=0), X, y, n_epochs=2, **kwargs)
        assert len(h.train_loss) == 2
    with pytest.raises(ValueError, match=r"loss_fn=CrossEntropyLoss\(\) needs one score per"):
        evaluate(make_mlp(2, [4], 1, seed=0), X, y, nn.CrossEntropyLoss())


@pytest.mark.parametrize("make, exc, match", [
    (lambda X: X.to_sparse(), TypeError, r"X must be an ordinary \(dense\) tensor.*to_dense"),
    (lambda X: X.to_sparse_csr(), TypeError, r"X must be an ordinary \(dense\) tensor"),
    (lambda X: X.to("meta"), ValueError, "X must hold numbers, got a meta tensor"),
])
@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_sparse_or_meta_X_is_named(make, exc, match) -> None:
    X, y = two_moons(40, seed=0)
    with pytest.raises(exc, match=match):
        train(make_mlp(2, [4], 1, seed=0), make(X), y, n_epochs=2)


def test_evaluate_takes_every_class_score_loss() -> None:
    """NLLLoss on log-probabilities is a multiclass loss like CrossEntropyLoss (it once fell
    through to the one-output path and was refused)."""
    X, y = torch.randn(10, 2, generator=torch.Generator().manual_seed(0)), torch.arange(10) % 3
    model = nn.Sequential(make_mlp(2, [4], 3, seed=0), nn.LogSoftmax(dim=1))
    with torch.no_grad():
        want = nn.NLLLoss()(model(X), y).item()
    assert abs(evaluate(model, X, y, nn.NLLLoss()) - want) <= 1e-6
