"""The activation registry: the four forms of every entry agree with each other.

Every test here is parametrised over ``ACTIVATIONS``, so a new entry is tested without
touching this file: its engine op, torch module, NumPy function and NumPy derivative.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given
from strategies import fast, medium_floats

from mlpbook import activations
from mlpbook.activations import ACTIVATIONS, Activation
from mlpbook.engine import Value

NAMES = list(ACTIVATIONS)
# Away from 0, where ReLU-like functions have their kink.
away_from_kink = medium_floats.filter(lambda x: abs(x) > 1e-3)


def test_registry_names_the_contract() -> None:
    assert {"relu", "tanh", "sigmoid", "identity"} <= set(ACTIVATIONS)
    assert "linear" not in ACTIVATIONS  # the no-op activation has one name: identity
    for name, act in ACTIVATIONS.items():
        assert isinstance(act, Activation) and act.name == name == name.lower()
        assert isinstance(act.label, str) and act.label


@pytest.mark.parametrize("name", NAMES)
@given(x=away_from_kink)
@fast
def test_engine_op_matches_numpy_value_and_derivative(name: str, x: float) -> None:
    act = ACTIVATIONS[name]
    v = Value(x)
    out = act.value_op(v)
    assert isinstance(out, Value)
    out.backward()
    np.testing.assert_allclose(out.data, act.numpy_fn(np.array(x)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(v.grad, act.numpy_grad(np.array(x)), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_torch_module_matches_numpy_value_and_derivative(name: str) -> None:
    act = ACTIVATIONS[name]
    z = np.linspace(-4.0, 4.0, 41) + 0.013  # no point at the kink
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    module = act.torch_module()
    assert isinstance(module, torch.nn.Module)
    out = module(t)
    out.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), act.numpy_fn(z), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t.grad.numpy(), act.numpy_grad(z), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_numpy_derivative_matches_central_differences(name: str) -> None:
    act = ACTIVATIONS[name]
    z, h = np.linspace(-4.0, 4.0, 41) + 0.013, 1e-6
    numeric = (act.numpy_fn(z + h) - act.numpy_fn(z - h)) / (2 * h)
    np.testing.assert_allclose(act.numpy_grad(z), numeric, rtol=1e-6, atol=1e-8)
    big = np.array([-800.0, 800.0])  # no overflow warning, finite values
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert np.isfinite(act.numpy_fn(big)).all() and np.isfinite(act.numpy_grad(big)).all()


def test_get_names_the_argument_and_the_valid_names() -> None:
    assert activations.get("tanh") is ACTIVATIONS["tanh"]
    with pytest.raises(ValueError, match="activation must be one of 'relu'.*called 'identity'"):
        activations.get("linear")
    with pytest.raises(ValueError, match="names are lower case: 'tanh'"):
        activations.get("Tanh")
    with pytest.raises(TypeError, match="act must be one of"):
        activations.get(3, "act")


def test_import_mlpbook_imports_neither_torch_nor_matplotlib() -> None:
    code = ("import sys, mlpbook, mlpbook.engine, mlpbook.nn, mlpbook.activations, "
            "mlpbook.validation, mlpbook.timelimit; mlpbook.set_seed.__doc__; "
            "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
