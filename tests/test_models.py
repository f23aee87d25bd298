"""Torch MLPs: structure of make_mlp, exact collapse of linear stacks, parameter counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mlpbook import activations
from mlpbook.models import ACTIVATIONS, MLP, collapse_linear, count_parameters, make_mlp

NONLINEAR = [name for name in ACTIVATIONS if name != "identity"]


@pytest.mark.parametrize("activation", NONLINEAR)
def test_make_mlp_alternates_linear_and_activation(activation: str) -> None:
    net = make_mlp(2, [8, 4], 1, activation=activation, seed=0)
    kinds = [type(m).__name__ for m in net]
    act = type(net[1]).__name__
    assert kinds == ["Linear", act, "Linear", act, "Linear"]
    assert type(ACTIVATIONS[activation].torch_module()) is type(net[1])
    assert net(torch.zeros(5, 2)).shape == (5, 1)


def test_identity_stack_holds_only_linear_layers() -> None:
    net = make_mlp(3, [4, 4], 2, activation="identity", seed=0)
    assert all(isinstance(m, nn.Linear) for m in net)
    assert len(net) == 3


def test_no_hidden_layers_is_one_linear() -> None:
    net = make_mlp(3, [], 2)
    assert len(net) == 1 and isinstance(net[0], nn.Linear)


def test_relu_mlp_is_not_linear() -> None:
    """The activation matters: with ReLU, f(-x) != -f(x) + 2 f(0) somewhere."""
    net = make_mlp(2, [16], 1, activation="relu", seed=0, dtype=torch.float64)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        gap = (net(-x) + net(x) - 2 * net(torch.zeros(1, 2, dtype=torch.float64))).abs().max()
    assert gap > 1e-3


def test_seed_makes_weights_reproducible_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b = make_mlp(2, [8], 1, seed=7), make_mlp(2, [8], 1, seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    c = make_mlp(2, [8], 1, seed=8)
    assert not torch.allclose(a[0].weight, c[0].weight)


def test_mlp_module_wraps_make_mlp() -> None:
    model = MLP(2, [8], 3, activation="tanh", seed=0, dtype=torch.float64)
    assert isinstance(model.net, nn.Sequential)
    X = torch.randn(4, 2, dtype=torch.float64)
    torch.testing.assert_close(model(X), model.net(X))
    assert model(X).dtype == torch.float64


@pytest.mark.parametrize("hidden", [[], [5], [5, 7], [3, 9, 4]])
def test_collapse_linear_is_exact_in_float64(hidden: list[int]) -> None:
    net = make_mlp(4, hidden, 3, activation="identity", seed=1, dtype=torch.float64)
    single = collapse_linear(net)
    assert isinstance(single, nn.Linear) and single.weight.dtype == torch.float64
    X = torch.randn(50, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(single(X), net(X), rtol=0, atol=1e-12)


def test_collapse_linear_matches_hand_product() -> None:
    """W = W2 W1 and b = W2 b1 + b2, written out (a transposed product would fail)."""
    net = make_mlp(3, [5], 2, activation="identity", seed=3, dtype=torch.float64)
    W1, b1, W2, b2 = (p.detach() for p in net.parameters())
    single = collapse_linear(net)
    torch.testing.assert_close(single.weight.detach(), W2 @ W1, rtol=0, atol=1e-12)
    torch.testing.assert_close(single.bias.detach(), W2 @ b1 + b2, rtol=0, atol=1e-12)


def test_collapse_linear_accepts_mlp_wrapper_identity_and_keeps_float32() -> None:
    model = MLP(2, [4], 1, activation="identity", seed=0)
    assert collapse_linear(model).weight.dtype == torch.float32
    net = nn.Sequential(nn.Linear(2, 3, dtype=torch.float64), nn.Identity(),
                        nn.Linear(3, 1, dtype=torch.float64))
    X = torch.randn(8, 2, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(collapse_linear(net)(X), net(X), rtol=0, atol=1e-12)


@pytest.mark.parametrize("activation", NONLINEAR)
def test_collapse_linear_rejects_nonlinear_module_by_name(activation: str) -> None:
    net = make_mlp(2, [4], 1, activation=activation)
    with pytest.raises(ValueError, match=rf"Not linear: module '1' \({type(net[1]).__name__}\)"):
        collapse_linear(net)
    with pytest.raises(TypeError, match="model"):
        collapse_linear("not a model")  # type: ignore[arg-type]


def _check_collapse(model: nn.Module, n_in: int) -> None:
    single = collapse_linear(model)
    X = torch.randn(20, n_in, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    f = (lambda x: [x := m(x) for m in model][-1]) if isinstance(model, nn.ModuleList) else model
    assert single.weight.dtype == torch.float32  # the model's dtype
    with torch.no_grad():
        torch.testing.assert_close(single(X.float()), f(X.float()), rtol=1e-5, atol=1e-5)


class _Reordered(nn.Module):
    """Linear, with its layers registered in the opposite order of use."""

    def __init__(self, relu: bool = False) -> None:
        super().__init__()
        self.second, self.first, self.relu = nn.Linear(4, 2), nn.Linear(3, 4), relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(x)
        return self.second(torch.relu(h) if self.relu else h)


def test_collapse_linear_probes_whatever_the_structure() -> None:
    """A layer used twice, a ModuleList, a custom forward: the map is probed, not the types."""
    torch.manual_seed(0)
    square = nn.Linear(3, 3)
    _check_collapse(nn.Sequential(square, square), 3)
    _check_collapse(nn.ModuleList([nn.Linear(3, 5), nn.Linear(5, 2)]), 3)
    _check_collapse(_Reordered(), 3)
    with pytest.raises(ValueError, match="forward of _Reordered applies something non-linear"):
        collapse_linear(_Reordered(relu=True))
    with pytest.raises(ValueError, match="nn.Linear"):
        collapse_linear(nn.Sequential(nn.Identity()))
    nan_net = nn.Linear(2, 1)
    with torch.no_grad():
        nan_net.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        collapse_linear(nan_net)


def test_count_parameters() -> None:
    assert count_parameters(make_mlp(2, [16], 1)) == 2 * 16 + 16 + 16 + 1
    assert count_parameters(MLP(3, [4, 5], 2)) == (3 * 4 + 4) + (4 * 5 + 5) + (5 * 2 + 2)
    with pytest.raises(TypeError):
        count_parameters([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(in_features=0), ValueError, "in_features"),
    (dict(in_features=2.0), TypeError, "in_features"),
    (dict(out_features=-1), ValueError, "out_features"),
    (dict(hidden_sizes=[4, 0]), ValueError, r"hidden_sizes\[1\]"),
    (dict(hidden_sizes="44"), TypeError, "hidden_sizes"),
    (dict(activation="no-such-activation"), ValueError, "activation"),
    (dict(activation="linear"), ValueError, "called 'identity'"),
    (dict(activation="ReLU"), ValueError, "lower case"),
    (dict(seed=-1), ValueError, "seed"), (dict(seed=2**32), ValueError, "seed"),
    (dict(in_features=10**6, hidden_sizes=[10**6]), ValueError, "parameters"),
    (dict(dtype=torch.int64), TypeError, "dtype"),
    (dict(seed=1.5), TypeError, "seed"),
])
def test_make_mlp_rejects_bad_input(kwargs: dict, exc: type, word: str) -> None:
    args = dict(in_features=2, hidden_sizes=[4], out_features=1) | kwargs
    with pytest.raises(exc, match=word):
        make_mlp(**args)


def test_models_read_the_one_registry() -> None:
    assert ACTIVATIONS is activations.ACTIVATIONS


def test_mlp_forward_names_bad_input() -> None:
    model = MLP(2, [4], 1, seed=0)
    for X, exc, word in [(torch.zeros(3, 3), ValueError, "2 features"),
                         (torch.zeros(3, 2, dtype=torch.float64), TypeError, "float64"),
                         (torch.zeros(3, 2, dtype=torch.int64), TypeError, r"X.float\(\)"),
                         (torch.full((3, 2), float("nan")), ValueError, "finite"),
                         ([[0.0, 1.0]], TypeError, "torch tensor")]:
        with pytest.raises(exc, match=word):
            model(X)
