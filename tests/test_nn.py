"""Tests for mlpbook.nn: the Value MLP agrees with the same network written in torch."""

import random

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import fast, medium_floats

from mlpbook.activations import ACTIVATIONS
from mlpbook.engine import Value
from mlpbook.nn import MLP, Layer, Module, Neuron

f64 = torch.float64


def torch_forward(mlp: MLP, x: list[float]):
    """Rebuild ``mlp`` in torch (float64) and return (output, list of weight/bias tensors)."""
    h = torch.tensor(x, dtype=f64)
    params = []
    for layer in mlp.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=f64, requires_grad=True)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=f64, requires_grad=True)
        params += [W, b]
        h = ACTIVATIONS[layer.neurons[0].activation].torch_module()(W @ h + b)
    return h, params


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@given(st.lists(medium_floats, min_size=3, max_size=3), st.integers(0, 1000))
@fast
def test_mlp_gradients_match_torch(activation, x, seed):
    mlp = MLP(3, [4, 4, 2], activation=activation, seed=seed)
    out = mlp(x)
    loss = out[0] * out[0] + out[1].tanh()
    loss.backward()
    t_out, params = torch_forward(mlp, x)
    t_loss = t_out[0] ** 2 + torch.tanh(t_out[1])
    t_loss.backward()
    torch.testing.assert_close(torch.tensor(loss.data, dtype=f64), t_loss.detach())
    for layer, (W, b) in zip(mlp.layers, zip(params[::2], params[1::2])):
        ours_W = torch.tensor([[w.grad for w in n.w] for n in layer.neurons], dtype=f64)
        ours_b = torch.tensor([n.b.grad for n in layer.neurons], dtype=f64)
        torch.testing.assert_close(ours_W, W.grad)
        torch.testing.assert_close(ours_b, b.grad)


def test_structure_seeding_and_zero_grad():
    mlp = MLP(2, [3, 1], seed=0)
    assert [n.activation for n in mlp.layers[0].neurons] == ["relu"] * 3
    assert mlp.layers[-1].neurons[0].activation == "identity"
    assert len(mlp.parameters()) == (2 + 1) * 3 + (3 + 1) * 1
    same = MLP(2, [3, 1], seed=0)
    other = MLP(2, [3, 1], seed=1)
    torch.testing.assert_close(torch.tensor([p.data for p in mlp.parameters()]),
                               torch.tensor([p.data for p in same.parameters()]))
    assert any(abs(p.data - q.data) > 1e-12 for p, q in zip(mlp.parameters(), other.parameters()))
    out = mlp([Value(1.0), 2.0])
    assert isinstance(out, Value)
    out.backward()
    assert any(abs(p.grad) > 0 for p in mlp.parameters())
    mlp.zero_grad()
    assert all(abs(p.grad) < 1e-300 for p in mlp.parameters())
    assert Module().parameters() == []
    assert "MLP(" in repr(mlp) and "Layer(2, 3" in repr(mlp)


def test_weights_are_scaled_uniform_and_bias_zero():
    n = Neuron(16, seed=3)
    assert all(abs(w.data) <= 0.25 + 1e-12 for w in n.w)
    assert abs(n.b.data) < 1e-300
    shared = random.Random(0)
    layer = Layer(2, 2, seed=shared)
    a, b = layer.neurons
    assert abs(a.w[0].data - b.w[0].data) > 1e-12  # neurons draw different weights


def test_width_one_hidden_layer_and_single_output():
    mlp = MLP(1, [1, 1], activation="tanh", seed=0)
    assert isinstance(mlp([0.3]), Value)


@pytest.mark.parametrize("make,exc,match", [
    (lambda: MLP(2, []), ValueError, "n_outs"),
    (lambda: MLP(2, [3, 0]), ValueError, r"n_outs\[1\]"),
    (lambda: MLP(2, 3), TypeError, "n_outs"),
    (lambda: MLP(0, [1]), ValueError, "n_in"),
    (lambda: MLP(2.0, [1]), TypeError, "n_in"),
    (lambda: MLP(2, [1], activation="no-such-activation"), ValueError, "activation"),
    (lambda: MLP(2, [1], activation="linear"), ValueError, "called 'identity'"),
    (lambda: MLP(2, [1], activation=None), TypeError, "activation"),
    (lambda: MLP(2, [1], seed=-1), ValueError, "seed"),
    (lambda: MLP(2, [1])([1.0, "a"]), TypeError, r"x\[1\]"),
    (lambda: MLP(2, [1])([1.0, float("nan")]), ValueError, r"x\[1\]"),
    (lambda: Layer(10_000, 10_000), ValueError, "n_in \\* n_out"),
    (lambda: Neuron(2, seed="a"), TypeError, "seed"),
    (lambda: Layer(2, 0), ValueError, "n_out"),
    (lambda: MLP(2, [1])([1.0, 2.0, 3.0]), ValueError, "length 2"),
    (lambda: MLP(2, [1])("ab"), TypeError, "x must"),
])
def test_bad_input(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
