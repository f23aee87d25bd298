"""Shared hypothesis strategies for the mlpbook tests (minitorch style)."""

import math

import numpy as np
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.strategies import floats, integers, lists

#: Any moderate number.
small_floats = floats(min_value=-100, max_value=100, allow_nan=False, allow_infinity=False)
#: Numbers where exp/tanh/sigmoid stay well away from overflow and flat tails.
medium_floats = floats(min_value=-5, max_value=5, allow_nan=False, allow_infinity=False)
#: Strictly positive numbers (log, division, non-integer powers).
positive_floats = floats(min_value=0.1, max_value=100, allow_nan=False, allow_infinity=False)
#: Numbers kept away from 0, where relu has its kink and 1/x blows up.
nonzero_floats = medium_floats.filter(lambda x: abs(x) > 0.1)
#: Short lists of inputs for multi-argument functions.
small_lists = lists(medium_floats, min_size=1, max_size=5)
small_ints = integers(min_value=1, max_value=5)

#: Modest example counts and no deadline keep the suite fast and non-flaky.
fast = settings(max_examples=40, deadline=None)
#: For the bad-input property tests: few examples each (there are many arguments), no deadline.
bad_input_settings = dict(deadline=None, database=None,
                          suppress_health_check=list(HealthCheck))


# ----- arbitrary, mostly bad, argument values -------------------------------------------------
#: Values a student (or a typo) might pass anywhere: wrong types, edge numbers, containers.
SPECIAL_VALUES = [
    None, ..., True, False, "", "1.0", "relu", b"x", 0, -1, 1, 2, 3, 7, 2**31, 2**32, 2**64,
    10**400, -(10**400), 0.0, -0.0, 0.5, 1.5, 1e-320, 1e300, -1e300, math.nan, math.inf,
    -math.inf, 1 + 2j, [], [1], [1.0, 2.0], [[1, 2], [3]], (1, 2), (None, None), {}, {"a": 1},
    object(), print, len, np.float32(1.0), np.float64(-2.5), np.int64(3), np.bool_(True),
    np.array([1.0, 2.0]), np.array([[1, 2], [3, 4]]), np.array(["a"]),
]

_DTYPES = [torch.float32, torch.float64, torch.float16, torch.int64, torch.bool,
           torch.complex64]
_FILLS = ["randn", "zeros", "nan", "inf", "big", "labels"]


def _make_tensor(dtype: torch.dtype, shape: list[int], fill: str, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    if fill == "zeros":
        x = torch.zeros(shape, dtype=torch.float64)
    elif fill == "labels":
        x = (x > 0).to(torch.float64)
    elif fill == "big":
        x = x * 1e30
    elif fill in ("nan", "inf") and x.numel():
        x.view(-1)[0] = math.nan if fill == "nan" else math.inf
    return x.to(dtype)


def _unusual(x: torch.Tensor, kind: str) -> torch.Tensor:
    """``x`` as a sparse (COO or, in 2-d, CSR) tensor, or as a meta tensor (no values)."""
    if kind == "meta":
        return x.to("meta")
    if kind == "csr" and x.ndim == 2:
        return x.to_sparse_csr()
    return x.to_sparse()


#: Tensors of every dtype and of 0 to 3 dimensions (some empty), some with nan/inf or huge,
#: and some sparse or meta (a shape without values).
dense_tensors = st.builds(_make_tensor, st.sampled_from(_DTYPES),
                          lists(integers(0, 4), max_size=3), st.sampled_from(_FILLS),
                          integers(0, 2**16))
unusual_tensors = st.builds(_unusual, dense_tensors.filter(lambda x: x.ndim > 0),
                            st.sampled_from(["sparse", "csr", "meta"]))
tensors = st.one_of(dense_tensors, unusual_tensors)

#: The pool every argument of every public function is fed in the bad-input tests.
anything = st.one_of(
    st.sampled_from(SPECIAL_VALUES),
    floats(),                      # nan, inf, subnormals, huge
    integers(-1000, 1000),         # negative, zero and plausible sizes
    st.text(max_size=3),
    tensors,
    lists(floats(-10, 10), max_size=3),
)
