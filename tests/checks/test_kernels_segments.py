"""Segment kernels against numpy, bit for bit, per segment."""

from __future__ import annotations

import numpy as np
import pytest

from checks.kernels.segments import column_percentiles

PCTS = np.array([0.0, 1.0, 25.0, 50.0, 99.0, 100.0])


@pytest.mark.parametrize("n", [1, 2, 3, 7, 100, 359, 1001])
def test_column_percentiles_equal_numpy(n):
    rng = np.random.default_rng(n)
    v = rng.normal(size=(n, 5))
    v[:, 1] = np.round(v[:, 1])  # ties
    v[:, 2] = 0.6  # constant
    v[: n // 2, 3] = np.inf
    got = column_percentiles(v, np.array([0, n]), PCTS)[0]
    with np.errstate(invalid="ignore"):
        want = np.percentile(v, PCTS, axis=0)
    np.testing.assert_array_equal(got, want)


def test_column_percentiles_per_segment_and_nan():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 3)).astype(np.float32).astype(np.float64)
    v[30, 2] = np.nan
    offsets = np.array([0, 10, 10, 27, 50])
    got = column_percentiles(v, offsets, PCTS)
    assert got.shape == (4, len(PCTS), 3)
    for s in range(4):
        a, b = offsets[s], offsets[s + 1]
        if a == b:
            assert np.isnan(got[s]).all()
            continue
        want = np.percentile(v[a:b], PCTS, axis=0)  # NaN where the column holds a NaN
        np.testing.assert_array_equal(got[s], want)


@pytest.mark.parametrize("n", [4, 60, 400, 5000])
@pytest.mark.parametrize("pcts", [[1.0, 99.0], [0.0, 5.0, 95.0, 100.0], [50.0], [30.0, 70.0]])
def test_column_percentiles_ends_and_middle_paths(n, pcts):
    """Percentiles near the ends (values kept by insertion) and in the middle (a sort), on
    sorted, reversed, tied and random columns."""
    rng = np.random.default_rng(n)
    v = np.column_stack([np.arange(n, dtype=float), -np.arange(n, dtype=float),
                         rng.integers(0, 3, n).astype(float), rng.normal(size=n),
                         np.where(rng.random(n) < 0.1, -np.inf, rng.random(n))])
    q = np.array(pcts)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(column_percentiles(v, np.array([0, n]), q)[0],
                                      np.percentile(v, q, axis=0))
