"""Shared hypothesis strategies for the mlpbook tests (minitorch style)."""

from hypothesis import settings
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
