"""Small seeded toy data sets: generated on the spot, no downloads and no scikit-learn.

Classification sets return ``X`` of shape (n, 2) and ``y`` of shape (n,) holding 0.0/1.0 in
the requested float ``dtype``; ``sine`` returns (n, 1) and (n, 1). All randomness comes from a
``torch.Generator`` seeded with ``seed`` (the global RNG is never touched), and points are drawn
in float64 before the cast, so a seed gives the same points in every dtype.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mlpbook import validation

__all__ = ["xor", "two_moons", "circles", "spirals", "sine", "split"]

#: Toy data sets: at most this many points.
MAX_POINTS = 10_000_000


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(validation.seed(seed))


def _check(n: int, noise: float, dtype: torch.dtype, seed: int,
           min_n: int = 2) -> tuple[int, float]:
    """Check the arguments every generator shares; return ``(n, noise)`` as int and float."""
    n = validation.integer(n, "n", low=min_n, high=MAX_POINTS)
    noise = validation.number(noise, "noise", low=0.0)
    validation.float_dtype(dtype)
    validation.seed(seed)
    return n, noise


def _cast(X: Tensor, dtype: torch.dtype, name: str = "noise") -> Tensor:
    """``X`` in ``dtype``; ValueError naming ``name`` if a point overflows that dtype."""
    out = X.to(dtype)
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"{name} is too large: some points overflow {dtype}")
    return out


def _finish(X: Tensor, y: Tensor, noise: float, g: torch.Generator,
            dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Add Gaussian noise of std ``noise``, shuffle the rows, cast to ``dtype``."""
    X = X + noise * torch.randn(X.shape, generator=g, dtype=torch.float64)
    perm = torch.randperm(X.shape[0], generator=g)
    return _cast(X[perm], dtype), y[perm].to(dtype)


def _halves(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


def xor(n: int = 200, *, noise: float = 0.1, seed: int,
        dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Four Gaussian blobs at (+-1, +-1); label 1 where the two coordinates differ in sign."""
    n, noise = _check(n, noise, dtype, seed, min_n=4)
    g = _generator(seed)
    corners = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]],
                           dtype=torch.float64)
    which = torch.arange(n) % 4  # balanced: n/4 points per corner
    X = corners[which]
    y = (which >= 2).to(torch.float64)
    return _finish(X, y, noise, g, dtype)


def two_moons(n: int = 200, *, noise: float = 0.1, seed: int,
              dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Two interleaving half circles (class 0 on top, class 1 shifted below)."""
    n, noise = _check(n, noise, dtype, seed)
    g = _generator(seed)
    n0, n1 = _halves(n)
    t0 = torch.linspace(0, math.pi, n0, dtype=torch.float64)
    t1 = torch.linspace(0, math.pi, n1, dtype=torch.float64)
    upper = torch.stack([torch.cos(t0), torch.sin(t0)], dim=1)
    lower = torch.stack([1 - torch.cos(t1), 0.5 - torch.sin(t1)], dim=1)
    X = torch.cat([upper, lower])
    y = torch.cat([torch.zeros(n0), torch.ones(n1)]).to(torch.float64)
    return _finish(X, y, noise, g, dtype)


def circles(n: int = 200, *, noise: float = 0.05, factor: float = 0.5, seed: int,
            dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """A unit circle (class 0) around a smaller circle of radius ``factor`` (class 1)."""
    n, noise = _check(n, noise, dtype, seed)
    factor = validation.number(factor, "factor", low=0.0, high=1.0, low_open=True,
                               high_open=True)
    g = _generator(seed)
    n0, n1 = _halves(n)
    t0 = torch.linspace(0, 2 * math.pi, n0 + 1, dtype=torch.float64)[:-1]
    t1 = torch.linspace(0, 2 * math.pi, n1 + 1, dtype=torch.float64)[:-1]
    outer = torch.stack([torch.cos(t0), torch.sin(t0)], dim=1)
    inner = factor * torch.stack([torch.cos(t1), torch.sin(t1)], dim=1)
    X = torch.cat([outer, inner])
    y = torch.cat([torch.zeros(n0), torch.ones(n1)]).to(torch.float64)
    return _finish(X, y, noise, g, dtype)


def spirals(n: int = 200, *, noise: float = 0.1, turns: float = 1.5, seed: int,
            dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Two interleaved Archimedean spirals of ``turns`` turns each, radius growing to 1."""
    n, noise = _check(n, noise, dtype, seed)
    turns = validation.number(turns, "turns", low=0.0, high=10.0, low_open=True)
    g = _generator(seed)
    n0, n1 = _halves(n)
    arms = []
    for k, m in enumerate((n0, n1)):
        r = torch.linspace(0.05, 1.0, m, dtype=torch.float64)
        theta = 2 * math.pi * turns * r + k * math.pi  # second arm rotated by half a turn
        arms.append(torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=1))
    X = torch.cat(arms)
    y = torch.cat([torch.zeros(n0), torch.ones(n1)]).to(torch.float64)
    return _finish(X, y, noise, g, dtype)


def sine(n: int = 100, *, noise: float = 0.1, x_range: tuple[float, float] = (-math.pi, math.pi),
         seed: int, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Noisy regression data ``y = sin(x) + noise * eps`` with x uniform on ``x_range``."""
    n, noise = _check(n, noise, dtype, seed, min_n=1)
    pair = validation.sequence(x_range, "x_range", min_len=2, what="two numbers (low, high)")
    if len(pair) != 2:
        raise ValueError(f"x_range must be a pair (low, high), got {len(pair)} numbers")
    lo, hi = (validation.number(v, f"x_range[{i}]", low=-1e6, high=1e6)
              for i, v in enumerate(pair))
    if not lo < hi:
        raise ValueError(f"x_range must have low < high, got ({lo:g}, {hi:g})")
    g = _generator(seed)
    X = lo + (hi - lo) * torch.rand((n, 1), generator=g, dtype=torch.float64)
    y = torch.sin(X) + noise * torch.randn((n, 1), generator=g, dtype=torch.float64)
    return _cast(X, dtype, "x_range"), _cast(y, dtype)


def split(X: Tensor, y: Tensor, *, frac: float = 0.25,
          seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Randomly hold out a fraction ``frac`` of the rows: ``(X_train, y_train, X_val, y_val)``."""
    validation.tensor(X, "X", ndim=(1, 2), finite=False)
    validation.tensor(y, "y", ndim=(1, 2), finite=False)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of rows, got shapes "
                         f"{tuple(X.shape)} and {tuple(y.shape)}")
    frac = validation.number(frac, "frac", low=0.0, high=1.0, low_open=True, high_open=True)
    seed = validation.seed(seed)
    n = X.shape[0]
    n_val = round(frac * n)
    if not 1 <= n_val <= n - 1:
        raise ValueError(f"frac={frac} of n={n} rows leaves an empty train or validation set")
    perm = torch.randperm(n, generator=_generator(seed))
    val, tr = perm[:n_val], perm[n_val:]
    return X[tr], y[tr], X[val], y[val]
