"""Every public function of mlpbook, fed arbitrary bad values for each argument (issue 15).

For every (function, argument) pair, hypothesis replaces that one argument of a valid call by
a value from ``strategies.anything`` (wrong types, nan/inf, huge and negative numbers, ragged
lists, tensors of every dtype and shape...). Each call must either

- raise ``TypeError``/``ValueError`` *from mlpbook's own code* (not a raw torch or numpy error)
  whose message names the argument, or
- for an argument that is a function (``f``, ``model``, ``loss_fn``...), let the error that
  function itself raised through, with a note naming the argument, or
- return a finite, correct result, checked by the spec's oracle against an independent
  computation.

Self-checks are special: what the student passes must give a failing ``CheckResult`` (never
an exception), what the page passes (tolerances, points, seeds) may raise as above.

A few examples per pair keep the suite fast; ``MLPBOOK_BAD_INPUT_EXAMPLES=200`` searches harder.
"""

from __future__ import annotations

import math
import numbers
import os
import random
import re
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from strategies import anything, bad_input_settings  # noqa: E402
from torch import nn  # noqa: E402

import mlpbook  # noqa: E402
from mlpbook import activations, checks, data, gradcheck, graph, models  # noqa: E402
from mlpbook import nn as vnn  # noqa: E402
from mlpbook import ops, plot, timelimit, train, validation  # noqa: E402
from mlpbook.engine import Value, topological_sort  # noqa: E402

PACKAGE = Path(mlpbook.__file__).parent
# float32 inputs to the gradient checks warn by design (Float32Warning); the oracle checks it.
pytestmark = pytest.mark.filterwarnings("ignore::mlpbook.gradcheck.Float32Warning")
f64 = torch.float64


@dataclass
class Spec:
    """How to call one public function validly, and how to tell its result is right."""

    name: str
    call: Callable[..., Any]                 # takes the arguments as keywords
    valid: Callable[[], dict[str, Any]]      # a fresh valid set of arguments
    oracle: Callable[[Any, dict[str, Any]], None]  # asserts the result is finite and correct
    names: dict[str, str] = field(default_factory=dict)  # arg -> regex the message must match
    examples: int = 12
    skip: tuple[str, ...] = ()               # arguments not perturbed, with a reason below


def close(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return math.isfinite(a) and abs(a - b) <= abs_ + rel * abs(b)


def real(x: Any) -> bool:
    """A real number as Python or NumPy writes it (not a bool, not a tensor)."""
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def finite_tensor(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and bool(torch.isfinite(t).all())


# ----- oracles ---------------------------------------------------------------------------------
def _seeded(result: float, a: dict) -> None:
    assert result == random.Random(int(a["seed"])).random()


def _value_of(op: Callable[[float, float], float]):
    def check(result: Value, a: dict) -> None:
        assert isinstance(result, Value)
        assert close(result.data, op(2.0, float(a["other"])), rel=1e-12)
    return check


def _unary(fn: Callable[[float], float]):
    def check(result: Value, a: dict) -> None:
        assert isinstance(result, Value) and close(result.data, fn(float(a["x"])), rel=1e-12)
    return check


def _neuron_out(result: Value, a: dict) -> None:
    n = a["_neuron"]
    z = sum(w.data * float(xi) for w, xi in zip(n.w, a["x"])) + n.b.data
    want = activations.ACTIVATIONS[n.activation].numpy_fn(np.array(z))
    assert isinstance(result, Value) and close(result.data, float(want))


def _mlp_module(result: nn.Module, a: dict) -> None:
    sizes = [a["in_features"], *a["hidden_sizes"], a["out_features"]]
    linears = [m for m in result.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == list(zip(sizes, sizes[1:]))
    assert all(p.dtype == a["dtype"] and finite_tensor(p) for p in result.parameters())


def _dataset(n_out: int = 2):
    def check(result: tuple, a: dict) -> None:
        X, y = result
        assert X.shape == (a["n"], n_out if n_out == 2 else 1) and X.dtype == a["dtype"]
        assert finite_tensor(X) and finite_tensor(y) and y.shape[0] == a["n"]
    return check


def _split(result: tuple, a: dict) -> None:
    Xt, yt, Xv, yv = result
    n = a["X"].shape[0]
    assert Xt.shape[0] + Xv.shape[0] == n and Xv.shape[0] == round(a["frac"] * n)
    assert torch.equal(torch.sort(torch.cat([Xt, Xv]), dim=0).values,
                       torch.sort(a["X"], dim=0).values)


def _history(result: train.History, a: dict) -> None:
    assert isinstance(result, train.History) and len(result.train_loss) == a["n_epochs"]
    assert all(math.isfinite(v) for v in result.train_loss + result.val_loss)
    assert len(result.val_loss) == (a["n_epochs"] if a.get("X_val") is not None else 0)


def _accuracy(result: float, a: dict) -> None:
    with torch.no_grad():
        pred = (a["model"](a["X"].to(f64 if _dtype(a["model"]) == f64 else torch.float32))
                .reshape(-1) > 0)
    assert result == (pred == a["y"].reshape(-1).bool()).double().mean().item()


def _dtype(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def _report(result: gradcheck.GradcheckReport, a: dict) -> None:
    assert isinstance(result, gradcheck.GradcheckReport)
    assert all(math.isfinite(v) for v in result.numeric)


def _central(result: float, a: dict) -> None:
    x, h = float(a["x"]), float(a["h"])
    assert close(result, (math.sin(x + h) - math.sin(x - h)) / (2 * h), rel=1e-12)


def _numerical(result: tuple, a: dict) -> None:
    """float64: the central difference itself. Lower precision: a Float32Warning was given."""
    grads, caught = result
    x = a["inputs"].detach().double()
    h = float(a["h"])
    assert len(grads) == 1 and grads[0].shape == x.shape and grads[0].dtype == a["inputs"].dtype
    if a["inputs"].dtype != f64:
        assert any(issubclass(w.category, gradcheck.Float32Warning) for w in caught)
        return
    want = (torch.sin(x + h) - torch.sin(x - h)) / (2 * h)
    torch.testing.assert_close(grads[0], want, rtol=1e-6, atol=1e-6)


def _numerical_grad(f: Any, inputs: Any, h: Any) -> tuple:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        return gradcheck.numerical_grad(f, inputs, h=h), caught


def _collapsed(result: nn.Linear, a: dict) -> None:
    model = a["model"]
    X = torch.randn(5, result.in_features, dtype=result.weight.dtype)
    with torch.no_grad():
        torch.testing.assert_close(result(X), model(X), rtol=1e-4, atol=1e-4)


def _figure_or_axes(result: Any, a: dict) -> None:
    assert isinstance(result, (Axes, Figure))


def _check_failed(result: checks.CheckResult, a: dict) -> None:
    """What the student passed here is never a right answer: a clean ❌."""
    assert isinstance(result, checks.CheckResult) and not result.passed
    assert str(result).startswith("❌") and "hint" in str(result)


def _check_ran(result: checks.CheckResult, a: dict) -> None:
    """A right function with different (valid) settings: a verdict, ✅ or ❌, never a crash."""
    assert isinstance(result, checks.CheckResult)


def _answer(result: checks.CheckResult, a: dict) -> None:
    """check_answer passes exactly when the observed answer is the real number 5."""
    obs = a["observed"]
    if isinstance(obs, torch.Tensor) and obs.shape == () and obs.dtype.is_floating_point:
        obs = obs.item()
    elif isinstance(obs, np.ndarray) and obs.shape == () and obs.dtype.kind in "iuf":
        obs = obs.item()
    right = real(obs) and abs(obs) < 1e300 and abs(float(obs) - 5.0) <= 1e-6
    assert isinstance(result, checks.CheckResult) and result.passed == right, (obs, result)


def _capacity(result: list, a: dict, arg: str) -> None:
    """check_capacity gives three verdicts; the one on the student's ``arg`` is ❌, unless a
    best_* value is the right (width, depth) by chance (it is then ✅, like check_answer)."""
    assert isinstance(result, list) and len(result) == 3, result
    assert all(isinstance(r, checks.CheckResult) for r in result), result
    if arg in ("best_val", "best_train"):
        x = a[arg]
        if isinstance(x, torch.Tensor) and (x.layout != torch.strided or x.is_meta):
            x = None  # a sparse or meta tensor is never an answer
        elif isinstance(x, torch.Tensor) and not (x.dtype.is_complex or x.dtype == torch.bool):
            x = x.tolist()
        elif isinstance(x, np.ndarray) and x.dtype.kind in "iuf":
            x = x.tolist()
        same = (isinstance(x, (list, tuple)) and len(x) == 2 and all(map(real, x))
                and tuple(map(float, x)) == tuple(map(float, _capacity_valid()[arg])))
        assert result[("best_val", "best_train").index(arg) + 1].passed == same, (a[arg], result)
        return
    _check_failed(result[0], a)  # runs or fit


def _capacity_fit(width: int, depth: int) -> train.History:
    X, y = _moons()
    return train.train(models.make_mlp(2, [width] * depth, 1, seed=0), X, y, X_val=X, y_val=y,
                       n_epochs=2)


def _capacity_valid() -> dict[str, Any]:
    runs = {(w, 1): _capacity_fit(w, 1) for w in (2, 3)}
    return dict(runs=runs, best_val=min(runs, key=lambda k: runs[k].val_loss[-1]),
                best_train=min(runs, key=lambda k: runs[k].train_loss[-1]), fit=_capacity_fit,
                widths=[2, 3], depths=[1], rtol=1e-6, verbose=False, timeout=5.0)


def _tanh(v: Value) -> Value:
    return v.tanh()


def _mlp_backward(X, y, W1, b1, W2, b2):
    z = X @ W1 + b1
    h = z.clamp(min=0)
    dout = 2 * (h @ W2 + b2 - y) / y.numel()
    dz = (dout @ W2.T) * (z > 0)
    return X.T @ dz, dz.sum(0), h.T @ dout, dout.sum(0)


def _loop(model, X, y, optimizer, loss_fn, n_steps):
    for _ in range(n_steps):
        optimizer.zero_grad()
        loss_fn(model(X), y).backward()
        optimizer.step()


def _moons() -> tuple[torch.Tensor, torch.Tensor]:
    return data.two_moons(8, seed=0)


def _model(dtype: torch.dtype = torch.float32) -> nn.Module:
    return models.make_mlp(2, [3], 1, seed=0, dtype=dtype)


def _neuron_call(**a: Any) -> Value:
    return a["_neuron"](a["x"])


# ----- the specs: every public function -------------------------------------------------------
SPECS = [
    Spec("set_seed", lambda seed: (mlpbook.set_seed(seed), random.random())[1],
         lambda: dict(seed=3), _seeded),
    Spec("Value", lambda data, label: Value(data, label), lambda: dict(data=1.5, label="a"),
         lambda r, a: (isinstance(r, Value) and close(r.data, float(a["data"]))
                       and r.label == a["label"]) or pytest.fail(str(r))),
    Spec("Value.__add__", lambda other: Value(2.0) + other, lambda: dict(other=1.0),
         _value_of(lambda a, b: a + b), {"other": "other operand|overflows"}),
    Spec("Value.__mul__", lambda other: Value(2.0) * other, lambda: dict(other=1.0),
         _value_of(lambda a, b: a * b), {"other": "other operand|overflows"}),
    Spec("Value.__sub__", lambda other: Value(2.0) - other, lambda: dict(other=1.0),
         _value_of(lambda a, b: a - b), {"other": "other operand|overflows"}),
    Spec("Value.__truediv__", lambda other: Value(2.0) / other, lambda: dict(other=1.0),
         _value_of(lambda a, b: a / b), {"other": "other operand|overflows|division by zero"}),
    Spec("Value.__pow__", lambda exponent: Value(2.0) ** exponent, lambda: dict(exponent=2.0),
         lambda r, a: (isinstance(r, Value) and close(r.data, 2.0 ** float(a["exponent"]),
                                                      rel=1e-12)) or pytest.fail(str(r)),
         {"exponent": "exponent|overflows"}),
    *[Spec(f"Value.{op.method}", lambda x, op=op: getattr(Value(x), op.method)(),
           lambda op=op: dict(x=abs(op.checks[0].point[0])), _unary(op.reference),
           {"x": f"data|{op.name}"}) for op in ops.OPS.values() if op.arity == 1 and op.reference],
    Spec("ops.by_symbol", lambda symbol: ops.by_symbol(symbol), lambda: dict(symbol="tanh"),
         lambda r, a: r is ops.OPS[str(a["symbol"]).strip()] or pytest.fail(str(r)),
         {"symbol": "symbol"}),
    Spec("ops.local_derivatives", lambda node: ops.local_derivatives(node),
         lambda: dict(node=Value(0.5).tanh()),
         lambda r, a: close(r[0], 1 - math.tanh(0.5) ** 2) or pytest.fail(str(r)),
         {"node": "node"}),
    Spec("Value.backward", lambda grad: _backward_grad(grad), lambda: dict(grad=1.0),
         lambda r, a: close(r, 3.0 * float(a["grad"]), rel=1e-12) or pytest.fail(str(r))),
    Spec("topological_sort", lambda root: topological_sort(root),
         lambda: dict(root=Value(1.0) * 2), lambda r, a: r[-1] is a["root"] or pytest.fail()),
    Spec("activations.get", lambda name: activations.get(name), lambda: dict(name="tanh"),
         lambda r, a: r is activations.ACTIVATIONS[a["name"]] or pytest.fail(),
         {"name": "activation"}),
    Spec("nn.Neuron", lambda n_in, activation, seed: vnn.Neuron(n_in, activation=activation,
                                                                seed=seed),
         lambda: dict(n_in=3, activation="tanh", seed=0),
         lambda r, a: len(r.w) == a["n_in"] or pytest.fail()),
    Spec("nn.Neuron.__call__", _neuron_call,
         lambda: dict(_neuron=vnn.Neuron(2, activation="tanh", seed=0), x=[0.5, -1.0]),
         _neuron_out),
    Spec("nn.Layer", lambda n_in, n_out, activation, seed: vnn.Layer(
        n_in, n_out, activation=activation, seed=seed),
         lambda: dict(n_in=2, n_out=3, activation="relu", seed=0),
         lambda r, a: len(r.neurons) == a["n_out"] or pytest.fail()),
    Spec("nn.MLP", lambda n_in, n_outs, activation, seed: vnn.MLP(
        n_in, n_outs, activation=activation, seed=seed),
         lambda: dict(n_in=2, n_outs=[3, 1], activation="relu", seed=0),
         lambda r, a: [len(layer.neurons) for layer in r.layers] == list(a["n_outs"])
         or pytest.fail()),
    Spec("nn.MLP.__call__", lambda x: vnn.MLP(2, [3, 1], seed=0)(x), lambda: dict(x=[0.5, 1.0]),
         lambda r, a: (isinstance(r, Value) and close(
             r.data, vnn.MLP(2, [3, 1], seed=0)([float(v) for v in a["x"]]).data))
         or pytest.fail()),
    Spec("graph.trace_value", lambda root: graph.trace_value(root),
         lambda: dict(root=Value(1.0) * 2),
         lambda r, a: len(r.nodes) == 3 or pytest.fail()),
    Spec("graph.trace_tensor", lambda t, names: graph.trace_tensor(t, names),
         lambda: dict(t=(torch.ones(2, requires_grad=True) * 2).sum(), names=None),
         lambda r, a: len(r.nodes) == 3 or pytest.fail(), {"t": r"\bt\b"}),
    Spec("graph.draw_graph", lambda **a: graph.draw_graph(**a),
         lambda: dict(graph=graph.trace_value(Value(1.0) * 2), ax=None, title="t",
                      show_grad=True, fontsize=10, max_nodes=10), _figure_or_axes, examples=6),
    Spec("gradcheck.central_difference", lambda f, x, h: gradcheck.central_difference(f, x, h),
         lambda: dict(f=math.sin, x=0.3, h=1e-6), _central),
    Spec("gradcheck.numerical_grad", _numerical_grad, lambda: dict(f=lambda t: torch.sin(t).sum(),
                                      inputs=torch.tensor([0.3, -1.0], dtype=f64), h=1e-6),
         _numerical),
    Spec("gradcheck.check_scalar", lambda **a: gradcheck.check_scalar(**a),
         lambda: dict(f=math.sin, df=math.cos, x=0.3, atol=1e-7, rtol=1e-5, h=1e-6, name="s"),
         lambda r, a: _report(r, a) or (r.analytic == [math.cos(float(a["x"]))]
                                        or pytest.fail())),
    Spec("gradcheck.check_value_fn", lambda **a: gradcheck.check_value_fn(**a),
         lambda: dict(f=lambda x, y: x * y.tanh(), inputs=[0.5, -0.3], atol=1e-7, rtol=1e-5,
                      h=1e-6, name="xy"),
         lambda r, a: _report(r, a) or (close(r.analytic[0], math.tanh(float(a["inputs"][1])))
                                        or pytest.fail())),
    Spec("gradcheck.check_torch_fn", lambda f, inputs, **a: gradcheck.check_torch_fn(
        f, inputs, **a),
         lambda: dict(f=lambda t: torch.sin(t).sum(), inputs=torch.tensor([0.3], dtype=f64),
                      atol=1e-7, rtol=1e-5, h=1e-6, name="sin", analytic=None), _report),
    Spec("gradcheck.torch_gradcheck", lambda f, inputs, **a: gradcheck.torch_gradcheck(
        f, inputs, **a),
         lambda: dict(f=lambda t: torch.sin(t).sum(), inputs=torch.tensor([0.3], dtype=f64),
                      eps=1e-6, atol=1e-5, rtol=1e-3),
         lambda r, a: isinstance(r, bool) or pytest.fail()),
    Spec("models.make_mlp", lambda **a: models.make_mlp(**a),
         lambda: dict(in_features=2, hidden_sizes=[3], out_features=1, activation="relu",
                      seed=0, dtype=torch.float32), _mlp_module),
    Spec("models.MLP", lambda **a: models.MLP(**a),
         lambda: dict(in_features=2, hidden_sizes=[3], out_features=1, activation="tanh",
                      seed=0, dtype=torch.float64), _mlp_module),
    Spec("models.MLP.forward", lambda X: models.MLP(2, [3], 1, seed=0)(X),
         lambda: dict(X=torch.zeros(4, 2)),
         lambda r, a: (finite_tensor(r) and r.shape[-1] == 1) or pytest.fail()),
    Spec("models.collapse_linear", lambda model: models.collapse_linear(model),
         lambda: dict(model=models.make_mlp(2, [3], 1, activation="identity", seed=0)),
         _collapsed),
    Spec("models.count_parameters", lambda model: models.count_parameters(model),
         lambda: dict(model=_model()), lambda r, a: r == 13 or pytest.fail()),
    *[Spec(f"data.{fn.__name__}", lambda fn=fn, **a: fn(**a),
           lambda: dict(n=8, noise=0.1, seed=0, dtype=torch.float32), _dataset())
      for fn in (data.xor, data.two_moons)],
    Spec("data.circles", lambda **a: data.circles(**a),
         lambda: dict(n=8, noise=0.1, factor=0.5, seed=0, dtype=torch.float32), _dataset()),
    Spec("data.spirals", lambda **a: data.spirals(**a),
         lambda: dict(n=8, noise=0.1, turns=1.5, seed=0, dtype=torch.float32), _dataset()),
    Spec("data.sine", lambda **a: data.sine(**a),
         lambda: dict(n=8, noise=0.1, x_range=(-1.0, 1.0), seed=0, dtype=torch.float32),
         _dataset(1)),
    Spec("data.split", lambda **a: data.split(**a),
         lambda: dict(X=torch.arange(16.0).reshape(8, 2), y=torch.zeros(8), frac=0.25, seed=0),
         _split),
    Spec("train.train", lambda **a: train.train(**a),
         lambda: dict(model=_model(), X=_moons()[0], y=_moons()[1], loss_fn=None, lr=0.1,
                      n_epochs=2, optimizer="sgd", batch_size=None, X_val=None, y_val=None,
                      task="binary", zero_grad=True, seed=0, progress=False), _history),
    Spec("train.train (validation set)", lambda **a: train.train(**a),
         lambda: dict(model=_model(), X=_moons()[0], y=_moons()[1], n_epochs=2,
                      X_val=_moons()[0][:4], y_val=_moons()[1][:4]), _history),
    Spec("train.accuracy", lambda **a: train.accuracy(**a),
         lambda: dict(model=_model(), X=_moons()[0], y=_moons()[1]), _accuracy),
    Spec("train.evaluate", lambda **a: train.evaluate(**a),
         lambda: dict(model=_model(), X=_moons()[0], y=_moons()[1],
                      loss_fn=nn.BCEWithLogitsLoss()),
         lambda r, a: math.isfinite(r) or pytest.fail()),
    Spec("plot.plot_activations", lambda **a: plot.plot_activations(**a),
         lambda: dict(ax=None, names=["relu", "tanh"]), _figure_or_axes, examples=6),
    Spec("plot.plot_decision_boundary", lambda **a: plot.plot_decision_boundary(**a),
         lambda: dict(model=_model(), X=_moons()[0], y=_moons()[1], ax=None, title="t",
                      resolution=5), _figure_or_axes, examples=6),
    Spec("plot.plot_loss_curves", lambda **a: plot.plot_loss_curves(**a),
         lambda: dict(histories=train.History(train_loss=[1.0, 0.5]), ax=None, log=False),
         _figure_or_axes, examples=6),
    Spec("plot.plot_capacity_grid", lambda **a: plot.plot_capacity_grid(**a),
         lambda: dict(results={(2, 1): (0.5, 0.7)}, log=True, title="t"), _figure_or_axes,
         examples=6),
    Spec("plot.plot_fit_1d", lambda **a: plot.plot_fit_1d(**a),
         lambda: dict(X=torch.linspace(-1, 1, 5), y=torch.zeros(5), model_or_fn=torch.sin,
                      ax=None, true_fn=np.sin, label="m"), _figure_or_axes, examples=6),
    Spec("checks.check_backward", lambda **a: checks.check_backward(**a),
         lambda: dict(fn=_tanh, points=[0.3], atol=1e-6, rtol=1e-4, verbose=False,
                      timeout=5.0), _check_ran),
    Spec("checks.check_tanh", lambda **a: checks.check_tanh(**a),
         lambda: dict(tanh_fn=_tanh, points=[0.3], atol=1e-10, verbose=False, timeout=5.0),
         _check_ran),
    Spec("checks.check_mlp_backward", lambda **a: checks.check_mlp_backward(**a),
         lambda: dict(backward_fn=_mlp_backward, seed=0, atol=1e-8, verbose=False,
                      timeout=5.0), _check_ran),
    Spec("checks.check_gradcheck", lambda **a: checks.check_gradcheck(**a),
         lambda: dict(backward_fn=_mlp_backward, seed=1, eps=1e-6, atol=1e-7, verbose=False,
                      timeout=5.0), _check_ran, examples=8),
    Spec("checks.check_capacity", lambda **a: checks.check_capacity(**a), _capacity_valid,
         lambda r, a: isinstance(r, list) and all(isinstance(x, checks.CheckResult) for x in r)
         or pytest.fail(str(r)), names={"widths": r"widths", "depths": r"depths"}, examples=6),
    Spec("checks.check_is_linear", lambda **a: checks.check_is_linear(**a),
         lambda: dict(model=lambda X: 2 * X + 1, in_features=2, expect=True, seed=0,
                      atol=1e-10, verbose=False, timeout=5.0), _check_ran),
    Spec("checks.check_collapse", lambda **a: checks.check_collapse(**a),
         lambda: dict(model=models.make_mlp(2, [3], 1, activation="identity", seed=0,
                                            dtype=f64),
                      linear=models.collapse_linear, seed=0, verbose=False, timeout=5.0),
         _check_ran),
    Spec("checks.check_training_loop", lambda **a: checks.check_training_loop(**a),
         lambda: dict(train_loop=_loop, n_steps=2, seed=0, atol=1e-10, verbose=False,
                      timeout=5.0), _check_ran, examples=8),
    Spec("checks.check_answer", lambda **a: checks.check_answer(**a),
         lambda: dict(name="q", observed=5.0, expected=5.0, atol=1e-6, rtol=0.0,
                      verbose=False), _check_ran),
    Spec("timelimit.call_with_time_limit",
         lambda fn, seconds: timelimit.call_with_time_limit(fn, seconds=seconds),
         lambda: dict(fn=lambda: 42, seconds=1.0), lambda r, a: r == 42 or pytest.fail(),
         skip=("fn",)),  # fn's own exceptions propagate by design (test_validation_checks)
    Spec("validation.number", lambda x: validation.number(x, "x"), lambda: dict(x=1.0),
         lambda r, a: close(r, float(a["x"])) or pytest.fail()),
    Spec("validation.tensor", lambda x: validation.tensor(x, "x"), lambda: dict(x=torch.ones(2)),
         lambda r, a: r is a["x"] or pytest.fail()),
    Spec("validation.array", lambda x: validation.array(x, "x"), lambda: dict(x=[1.0, 2.0]),
         lambda r, a: bool(np.isfinite(r).all()) or pytest.fail()),
]

#: What the student passes to a self-check: never right when it is an arbitrary value.
STUDENT_ARGS = {("checks.check_backward", "fn"), ("checks.check_tanh", "tanh_fn"),
                ("checks.check_mlp_backward", "backward_fn"), ("checks.check_is_linear", "model"),
                ("checks.check_collapse", "linear"), ("checks.check_collapse", "model"),
                ("checks.check_training_loop", "train_loop"),
                ("checks.check_gradcheck", "backward_fn"), ("checks.check_capacity", "runs"),
                ("checks.check_capacity", "best_val"), ("checks.check_capacity", "best_train"),
                ("checks.check_capacity", "fit")}


def _backward_grad(grad: Any) -> float:
    a = Value(1.5)
    (a * a).backward(grad)
    return a.grad


CASES = [(spec, arg) for spec in SPECS for arg in spec.valid()
         if not arg.startswith("_") and arg not in spec.skip]


def _raised_in_mlpbook(err: BaseException) -> bool:
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE.resolve())


def _judge(spec: Spec, arg: str, value: Any) -> None:
    """Call ``spec`` with ``arg=value``: a named TypeError/ValueError from mlpbook, the user
    function's own error with a note, or a correct result (a failing CheckResult for what the
    student passes to a self-check)."""
    student = (spec.name, arg) in STUDENT_ARGS
    if spec.name == "checks.check_answer" and arg == "observed":
        student = True
    kwargs = spec.valid()
    kwargs[arg] = value
    try:
        result = spec.call(**kwargs)
    except Exception as err:  # noqa: BLE001 - judged below
        assert not student, f"a self-check raised on the student's {arg}={value!r}: {err}"
        notes = getattr(err, "__notes__", [])
        if callable(value) and f"passed to mlpbook as {arg!r}" in " ".join(notes):
            return  # the user's own function failed: its error, annotated with the name
        assert isinstance(err, (TypeError, ValueError)), (
            f"{spec.name}({arg}={value!r}) raised {type(err).__name__}: {err}")
        pattern = spec.names.get(arg, rf"(?<![\w.]){re.escape(arg)}(?!\w)")
        assert re.search(pattern, str(err)), (
            f"{spec.name}({arg}={value!r}) raised {type(err).__name__} without naming "
            f"{arg!r}: {err}")
        assert _raised_in_mlpbook(err), (
            f"{spec.name}({arg}={value!r}) let a raw error through: "
            f"{''.join(traceback.format_exception(err))}")
        return
    finally:
        plt.close("all")
    if student and spec.name == "checks.check_answer":
        _answer(result, kwargs)
    elif student and spec.name == "checks.check_capacity":
        _capacity(result, kwargs, arg)
    elif student:
        _check_failed(result, kwargs)
    else:
        spec.oracle(result, kwargs)


@pytest.mark.parametrize("spec, arg", CASES, ids=[f"{s.name}-{a}" for s, a in CASES])
def test_bad_values_are_named_or_handled(spec: Spec, arg: str) -> None:
    @settings(max_examples=int(os.environ.get("MLPBOOK_BAD_INPUT_EXAMPLES", spec.examples)),
              **bad_input_settings)
    @given(value=anything)
    def run(value: Any) -> None:
        _judge(spec, arg, value)

    run()


TENSOR_CASES = [(spec, arg) for spec, arg in CASES
                if isinstance(spec.valid()[arg], torch.Tensor) and spec.valid()[arg].ndim > 0]


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("kind", ["sparse", "csr", "meta"])
@pytest.mark.parametrize("spec, arg", TENSOR_CASES,
                         ids=[f"{s.name}-{a}" for s, a in TENSOR_CASES])
def test_sparse_and_meta_tensors_are_named(spec: Spec, arg: str, kind: str) -> None:
    """The right tensor in an unusual form (``X.to_sparse()``, ``X.to("meta")``): named, never
    torch's raw NotImplementedError or "cannot be called on meta tensors"."""
    valid = spec.valid()[arg]
    value = (valid.to("meta") if kind == "meta" else
             valid.to_sparse_csr() if kind == "csr" and valid.ndim == 2 else valid.to_sparse())
    _judge(spec, arg, value)


def test_every_public_function_has_a_spec() -> None:
    """A new public function must get a spec here (its bad inputs tested like the rest)."""
    covered = {s.name.split(" ")[0] for s in SPECS}
    modules = {"": mlpbook, "activations.": activations, "checks.": checks, "data.": data,
               "gradcheck.": gradcheck, "graph.": graph, "models.": models, "nn.": vnn,
               "plot.": plot, "timelimit.": timelimit, "train.": train, "ops.": ops}
    not_functions = {"ACTIVATIONS", "Activation", "CheckResult", "TIME_LIMIT", "History",
                     "GradcheckReport", "Float32Warning", "Node", "Graph", "Module",
                     "TimeLimitExceeded", "PALETTE", "GREY", "GREY_DARK", "__version__",
                     "Case", "Op", "OPS", "checks", "mixes",  # the op registry's data
                     "use_book_style"}  # takes no argument
    missing = [f"{prefix}{name}" for prefix, module in modules.items() for name in module.__all__
               if name not in not_functions and f"{prefix}{name}" not in covered]
    assert not missing, missing
