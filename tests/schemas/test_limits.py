"""The bounds every layout's values and rates are held to (``schemas.limits``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from schemas.limits import FLOAT32_MAX, beyond_float32, rate_problem

SPECIAL = st.sampled_from([np.inf, -np.inf, np.nan, 1e300, -1e300, 3.5e38, FLOAT32_MAX, 0.0])


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(0, 12), st.integers(1, 4)),
              elements=st.one_of(st.floats(-1e3, 1e3), SPECIAL)))
def test_beyond_float32_agrees_with_a_plain_numpy_mask(values):
    """Found exactly when some finite value lies beyond float32's range, whatever infinities
    or NaNs sit beside it; the place named holds the value named."""
    beyond = np.isfinite(values) & (np.abs(values) > FLOAT32_MAX)
    found = beyond_float32(values)
    if not beyond.any():
        assert found is None
    else:
        assert found is not None
        row, col, value = found
        assert values[row, col] == value and beyond[row, col]


def test_an_infinity_does_not_hide_a_finite_value_beyond_float32():
    values = np.zeros((5, 2))
    values[1, 0], values[3, 1] = np.inf, 1e300
    assert beyond_float32(values) == (3, 1, 1e300)
    assert beyond_float32(np.full((5, 2), np.inf, np.float32)) is None  # float32: none there


@pytest.mark.parametrize(("rate", "needle"), [
    (0.0, "is not a rate"), (float("nan"), "is not a rate"), (10**400, "is not a rate"),
    (1e6, "above 100000 Hz"), (0.01, "below 0.1 Hz")])
def test_rate_problem_names_why(rate, needle):
    why = rate_problem(rate)
    assert why is not None and needle in why
    assert rate_problem(30.0) is None and rate_problem(0.1) is None and rate_problem(1e5) is None
