"""Seeded toy data sets: shapes, dtypes, determinism, and input validation."""

from __future__ import annotations

import math

import pytest
import torch

from mlpbook.data import circles, sine, spirals, split, two_moons, xor

CLASSIFIERS = [xor, two_moons, circles, spirals]


@pytest.mark.parametrize("make", CLASSIFIERS)
def test_classification_shapes_and_labels(make) -> None:
    X, y = make(101, seed=0)
    assert X.shape == (101, 2) and y.shape == (101,)
    assert X.dtype == torch.float32 and y.dtype == torch.float32
    assert set(y.tolist()) == {0.0, 1.0}
    assert abs(y.mean().item() - 0.5) < 0.05  # balanced classes
    assert torch.isfinite(X).all()


@pytest.mark.parametrize("make", [*CLASSIFIERS, sine])
def test_deterministic_per_seed_and_different_across_seeds(make) -> None:
    X1, y1 = make(seed=3)
    X2, y2 = make(seed=3)
    torch.testing.assert_close(X1, X2, rtol=0, atol=0)
    torch.testing.assert_close(y1, y2, rtol=0, atol=0)
    X3, _ = make(seed=4)
    assert (X1 - X3).abs().max() > 1e-3


@pytest.mark.parametrize("make", [*CLASSIFIERS, sine])
def test_dtype_keyword_and_global_rng_untouched(make) -> None:
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    X64, _ = make(seed=1, dtype=torch.float64)
    X32, _ = make(seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert X64.dtype == torch.float64
    torch.testing.assert_close(X64.float(), X32, rtol=0, atol=1e-6)


def test_noise_free_geometry() -> None:
    X, y = circles(200, noise=0.0, factor=0.3, seed=0, dtype=torch.float64)
    r = X.norm(dim=1)
    torch.testing.assert_close(r[y == 0], torch.ones_like(r[y == 0]), rtol=0, atol=1e-12)
    torch.testing.assert_close(r[y == 1], torch.full_like(r[y == 1], 0.3), rtol=0, atol=1e-12)
    X, y = xor(8, noise=0.0, seed=0, dtype=torch.float64)
    torch.testing.assert_close(y, (X[:, 0] * X[:, 1] < 0).double(), rtol=0, atol=0)


def test_sine() -> None:
    X, y = sine(50, noise=0.0, x_range=(0.0, 2.0), seed=0, dtype=torch.float64)
    assert X.shape == (50, 1) and y.shape == (50, 1)
    assert X.min() >= 0.0 and X.max() <= 2.0
    torch.testing.assert_close(y, torch.sin(X), rtol=0, atol=1e-12)
    X, _ = sine(seed=0)
    assert X.min() >= -math.pi and X.max() <= math.pi


def test_split() -> None:
    X, y = two_moons(100, seed=0)
    Xt, yt, Xv, yv = split(X, y, frac=0.2, seed=0)
    assert Xt.shape == (80, 2) and Xv.shape == (20, 2) and yt.shape == (80,) and yv.shape == (20,)
    rows = {tuple(r) for r in torch.cat([Xt, Xv]).tolist()}
    assert rows == {tuple(r) for r in X.tolist()}  # a partition of the rows
    again = split(X, y, frac=0.2, seed=0)
    torch.testing.assert_close(again[2], Xv, rtol=0, atol=0)
    assert not torch.equal(split(X, y, frac=0.2, seed=1)[2], Xv)


@pytest.mark.parametrize("make", [*CLASSIFIERS, sine])
@pytest.mark.parametrize("kwargs, exc", [
    (dict(n=0), ValueError), (dict(n=-5), ValueError), (dict(n=2.5), TypeError),
    (dict(noise=-0.1), ValueError), (dict(noise=float("nan")), ValueError),
    (dict(noise="big"), TypeError), (dict(seed=1.0), TypeError),
    (dict(seed=-1), ValueError), (dict(seed=2**32), ValueError), (dict(n=10**12), ValueError),
    (dict(dtype=torch.int32), TypeError),
])
def test_rejects_bad_input(make, kwargs: dict, exc: type) -> None:
    args = dict(seed=0) | kwargs
    word = next(iter(kwargs))
    with pytest.raises(exc, match=word):
        make(**args)


@pytest.mark.parametrize("call, word", [
    (lambda: circles(seed=0, factor=1.5), "factor"),
    (lambda: spirals(seed=0, turns=0), "turns"),
    (lambda: sine(seed=0, x_range=(1.0, 0.0)), "x_range"),
    (lambda: sine(seed=0, x_range=(1.0,)), "x_range"),
    (lambda: split(torch.zeros(10, 2), torch.zeros(9), seed=0), "rows"),
    (lambda: split(torch.zeros(10, 2), torch.zeros(10), frac=1.0, seed=0), "frac"),
    (lambda: split(torch.zeros(2, 2), torch.zeros(2), frac=0.1, seed=0), "empty"),
    (lambda: two_moons(seed=0, noise=1e300), "noise"),
    (lambda: sine(seed=0, x_range=(0.0, float("inf"))), r"x_range\[1\]"),
])
def test_rejects_bad_specific_arguments(call, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        call()
