"""Tests for mlpbook.engine: every op against torch (float64), gradients, accumulation, sorting."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import fast, medium_floats, nonzero_floats, positive_floats, small_floats

from mlpbook import ops
from mlpbook.engine import Value, topological_sort

f64 = torch.float64


def close(actual: float, expected: float, atol: float = 1e-10, rtol: float = 1e-7) -> None:
    """Assert two floats agree within tolerances (never ==)."""
    torch.testing.assert_close(torch.tensor(actual, dtype=f64), torch.tensor(expected, dtype=f64),
                               atol=atol, rtol=rtol)


def _as_binary(case: ops.Case):
    """A registry case as a function of (a, b): a unary one times b, so b gets a gradient too."""
    if len(case.point) == 2:
        return case.fn, case.domain[0], case.domain[1]
    return (lambda a, b: case.fn(a) * b), case.domain[0], "any"


# (name, function of (a, b), domain for a, domain for b); the function works on Value and Tensor.
# Every op's cases come from the op registry (mlpbook.ops); the forms below add the reflected
# operators, constants, exponents and compositions.
REGISTRY = [(f"{op.name}: {case.label}", *_as_binary(case))
            for op in ops.OPS.values() for case in op.checks]
BINARY = REGISTRY + [
    ("a+b", lambda a, b: a + b, "any", "any"),
    ("a+3", lambda a, b: a + 3 + b * 0, "any", "any"),
    ("3+a", lambda a, b: 3 + a + b * 0, "any", "any"),
    ("a-b", lambda a, b: a - b, "any", "any"),
    ("a-3", lambda a, b: a - 3 + b * 0, "any", "any"),
    ("3-a", lambda a, b: 3 - a + b * 0, "any", "any"),
    ("a*b", lambda a, b: a * b, "any", "any"),
    ("a*3", lambda a, b: a * 3 + b * 0, "any", "any"),
    ("3*a", lambda a, b: 3 * a + b * 0, "any", "any"),
    ("a/b", lambda a, b: a / b, "any", "nonzero"),
    ("a/3", lambda a, b: a / 3 + b * 0, "any", "any"),
    ("3/a", lambda a, b: 3 / a + b * 0, "nonzero", "any"),
    ("a**2", lambda a, b: a**2 + b, "any", "any"),
    ("a**3", lambda a, b: a**3 * b, "any", "any"),
    ("a**-1", lambda a, b: a**-1 + b, "nonzero", "any"),
    ("a**0.5", lambda a, b: a**0.5 * b, "positive", "any"),
    ("a**-1.5", lambda a, b: a**-1.5 - b, "positive", "any"),
    ("-a", lambda a, b: -a * b, "any", "any"),
    ("exp", lambda a, b: a.exp() * b, "any", "any"),
    ("log", lambda a, b: a.log() + b, "positive", "any"),
    ("tanh", lambda a, b: a.tanh() * b, "any", "any"),
    ("sigmoid", lambda a, b: a.sigmoid() * b, "any", "any"),
    ("relu", lambda a, b: a.relu() * b, "nonzero", "any"),
    ("composite", lambda a, b: ((a * b + 2.0) * (a - b)).tanh() * b + (a * a).sigmoid(), "any", "any"),
    ("reuse", lambda a, b: a * a * a + a / (b * b + 1) - (a * a + 0.5).relu(), "any", "any"),
]
DOMAINS = {"any": medium_floats, "nonzero": nonzero_floats, "positive": positive_floats.map(lambda x: x / 20)}


def run_both(fn, x: float, y: float):
    """Evaluate fn on Values and on float64 tensors; backprop both."""
    a, b = Value(x), Value(y)
    out = fn(a, b)
    out.backward()
    ta = torch.tensor(x, dtype=f64, requires_grad=True)
    tb = torch.tensor(y, dtype=f64, requires_grad=True)
    tout = fn(ta, tb)
    tout.backward()
    return (out, a, b), (tout, ta, tb)


@pytest.mark.parametrize("name,fn,da,db", BINARY, ids=[b[0] for b in BINARY])
@given(data=st.data())
@fast
def test_ops_match_torch(name, fn, da, db, data):
    x, y = data.draw(DOMAINS[da]), data.draw(DOMAINS[db])
    (out, a, b), (tout, ta, tb) = run_both(fn, x, y)
    close(out.data, tout.item())
    close(a.grad, ta.grad.item())
    close(b.grad, tb.grad.item())


@pytest.mark.parametrize("name,fn,da,db", BINARY, ids=[b[0] for b in BINARY])
@given(data=st.data())
@fast
def test_grad_matches_central_difference(name, fn, da, db, data):
    x, y = data.draw(DOMAINS[da]), data.draw(DOMAINS[db])
    a, b = Value(x), Value(y)
    fn(a, b).backward()
    h = 1e-6
    num_a = (fn(Value(x + h), Value(y)).data - fn(Value(x - h), Value(y)).data) / (2 * h)
    num_b = (fn(Value(x), Value(y + h)).data - fn(Value(x), Value(y - h)).data) / (2 * h)
    close(a.grad, num_a, atol=1e-5, rtol=1e-4)
    close(b.grad, num_b, atol=1e-5, rtol=1e-4)


@given(small_floats)
@fast
def test_a_plus_a_gives_grad_two(x):
    a = Value(x)
    b = a + a
    assert b.prev == (a,)
    b.backward()
    close(a.grad, 2.0)


@given(medium_floats, medium_floats)
@fast
def test_two_backward_calls_accumulate_like_torch(x, y):
    fn = lambda a, b: (a * b + a).tanh() * b  # noqa: E731
    a, b = Value(x), Value(y)
    out = fn(a, b)
    out.backward()
    once = (a.grad, b.grad)
    out.backward()
    ta = torch.tensor(x, dtype=f64, requires_grad=True)
    tb = torch.tensor(y, dtype=f64, requires_grad=True)
    tout = fn(ta, tb)
    tout.backward(retain_graph=True)
    tout.backward()
    close(a.grad, 2 * once[0])
    close(b.grad, 2 * once[1])
    close(a.grad, ta.grad.item())
    close(b.grad, tb.grad.item())
    a.zero_grad()
    b.zero_grad()
    ta.grad.zero_()
    tb.grad.zero_()
    close(a.grad, ta.grad.item())
    out.backward()
    close(a.grad, once[0])
    close(b.grad, once[1])


def test_backward_seed_and_leaf_root():
    a = Value(3.0)
    out = a * a
    out.backward(2.0)
    close(a.grad, 12.0)
    close(out.grad, 2.0)
    leaf = Value(1.0)
    leaf.backward()
    leaf.backward()
    close(leaf.grad, 2.0)  # a leaf root accumulates too, like torch


@given(st.lists(medium_floats, min_size=1, max_size=8))
@fast
def test_topological_order_puts_inputs_first(xs):
    leaves = [Value(x) for x in xs]
    out = leaves[0]
    for i, v in enumerate(leaves[1:]):
        out = (out * v + leaves[0]).tanh() if i % 2 else out + v * v
    order = topological_sort(out)
    position = {id(n): k for k, n in enumerate(order)}
    assert order[-1] is out
    assert len(position) == len(order)
    for n in order:
        for p in n.prev:
            assert position[id(p)] < position[id(n)]


def test_topological_sort_is_deterministic():
    a, b, c = Value(1.0, "a"), Value(2.0, "b"), Value(3.0, "c")
    out = (a * b + c) * a
    labels = [n.label or n.op for n in topological_sort(out)]
    assert labels == ["a", "b", "*", "c", "+", "*"]
    assert labels == [n.label or n.op for n in topological_sort(out)]


def test_long_chain_and_wide_sum():
    x = Value(0.5)
    out = x
    for _ in range(10_000):
        out = out + x  # a chain 10,000 nodes deep
    out.backward()
    close(out.data, 0.5 * 10_001)
    close(x.grad, 10_001.0)
    xs = [Value(float(i)) for i in range(1200)]
    total = sum(xs, Value(0.0))
    total.backward()
    close(sum(v.grad for v in xs), 1200.0)


def test_repr_and_prev_order():
    a, b = Value(2.0), Value(3.0)
    assert repr(a) == "Value(data=2.0000, grad=0.0000)"
    out = b * a
    assert out.prev == (b, a) and out.op == "*" and a.is_leaf and not out.is_leaf
    assert (a**2).op == "**2" and (-a).op == "neg"


@pytest.mark.parametrize("bad", ["a", True, None, [1.0], 1j])
def test_value_rejects_non_numbers(bad):
    with pytest.raises(TypeError, match="data"):
        Value(bad)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_value_rejects_nan_and_inf(bad):
    with pytest.raises(ValueError, match="finite"):
        Value(bad)


def test_bad_operands_and_domains():
    a = Value(2.0)
    with pytest.raises(TypeError, match="other"):
        a + "x"
    with pytest.raises(TypeError, match="other"):
        a * None
    with pytest.raises(TypeError, match="exponent"):
        a ** Value(2.0)
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=3)
    with pytest.raises(ValueError, match="log"):
        Value(0.0).log()
    with pytest.raises(ValueError, match="log"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="x > 0"):
        Value(-2.0) ** 0.5
    with pytest.raises(ZeroDivisionError, match="zero"):
        a / Value(0.0)
    with pytest.raises(ValueError, match=r"'\*' on \(1e\+200, 1e\+200\) is inf: it overflows"):
        Value(1e200) * Value(1e200)
    with pytest.raises(ValueError, match="exp"):
        Value(1000.0).exp()
    with pytest.raises(ValueError, match="data"):
        Value(10**400)
    with pytest.raises(ValueError, match=r"\*\*400"):
        Value(10.0) ** 400
    with pytest.raises(ValueError, match="grad"):
        (Value(3.0) * Value(4.0)).backward(1e308)
    # the forward pass fits (1e300), the local derivative -3 * x ** -4 does not: named, not a raw
    # OverflowError from inside _backward
    with pytest.raises(ValueError, match=r"backward pass of '\*\*-3' overflows float64 at "
                                         r"x = 1e-100: .* x \*\* -4"):
        (Value(1e-100) ** -3).backward()
    zero = Value(0.0)
    (zero ** 0).backward()  # a constant: d(x ** 0)/dx = 0, even at x = 0 (not 0.0 ** -1)
    assert zero.grad == 0.0
    with pytest.raises(ValueError, match="division by zero"):  # also a ZeroDivisionError
        Value(1.0) / 0
    with pytest.raises(TypeError, match="_prev"):
        Value(1.0, _prev=Value(2.0))
    with pytest.raises(TypeError, match="grad"):
        a.backward("1")
    with pytest.raises(TypeError, match="root"):
        topological_sort(2.0)


# ----- the op registry (mlpbook.ops) ---------------------------------------------------------
def _engine_methods() -> set[str]:
    """Every method of Value that defines a _backward closure: the engine's core ops."""
    return {name for name, fn in vars(Value).items()
            if callable(fn) and "_backward" in getattr(fn, "__code__", compile("", "", "exec")).co_varnames}


def test_registry_has_exactly_the_engine_ops() -> None:
    """An op added to the engine without its registry entry (or the other way round) fails."""
    assert {op.method for op in ops.OPS.values()} == _engine_methods()
    for name, op in ops.OPS.items():
        assert name == op.method.strip("_") and op.checks and op.mixes, name
        made = {v.op for case in op.checks
                for v in topological_sort(case.fn(*(Value(x) for x in case.point)))}
        assert any(m == op.symbol or (op.symbol == "**" and m.startswith("**")) for m in made), (
            f"no check of {name} makes a node with op {op.symbol!r}: {made}")
        assert ops.by_symbol(op.symbol) is op
        assert all(d in ops.DOMAINS for case in op.checks + op.mixes for d in case.domain)
    assert ops.by_symbol("**-1") is ops.OPS["pow"]
    with pytest.raises(ValueError, match="symbol must be"):
        ops.by_symbol("sin")


@pytest.mark.parametrize("name", [n for n, op in ops.OPS.items() if op.reference])
@given(x=medium_floats)
@fast
def test_registry_reference_matches_the_engine(name: str, x: float) -> None:
    op = ops.OPS[name]
    if name == "log":
        x = abs(x) + 1e-3
    close(getattr(Value(x), op.method)().data, op.reference(x), atol=1e-12, rtol=1e-12)


@given(x=medium_floats)
@fast
def test_local_derivatives_are_the_engines(x: float) -> None:
    """ops.local_derivatives runs the node's own _backward: for gelu, torch's derivative
    (float64), and the grads it touched are left as they were."""
    a = Value(x)
    a.grad = 0.25
    out = a.gelu()
    out.grad = -2.0
    (d,) = ops.local_derivatives(out)
    t = torch.tensor(x, dtype=f64, requires_grad=True)
    torch.nn.functional.gelu(t).backward()
    close(d, t.grad.item(), atol=1e-12, rtol=1e-12)
    assert a.grad == 0.25 and out.grad == -2.0
    b = Value(0.5)
    for got, want in zip(ops.local_derivatives(a * b), [0.5, x]):
        close(got, want, atol=0, rtol=0)
    with pytest.raises(TypeError, match="node must be"):
        ops.local_derivatives(1.0)
