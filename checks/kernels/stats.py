"""Per-column statistics in one pass (NaN and ±Inf skipped)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def column_stats(values: np.ndarray) -> np.ndarray:
    """float64[D, 5]: min, max, mean, std (population), count of finite values per column.

    Sums are taken about each column's first finite value (a shift that keeps the variance
    from cancelling), so the inner loop has no division."""
    t, d = values.shape
    out = np.zeros((d, 5))
    mn = np.full(d, np.inf)
    mx = np.full(d, -np.inf)
    shift = np.zeros(d)
    s1 = np.zeros(d)
    s2 = np.zeros(d)
    cnt = np.zeros(d)
    for i in range(t):
        for j in range(d):
            v = values[i, j]
            if not np.isfinite(v):
                continue
            if cnt[j] == 0.0:
                shift[j] = v
            cnt[j] += 1.0
            if v < mn[j]:
                mn[j] = v
            if v > mx[j]:
                mx[j] = v
            x = v - shift[j]
            s1[j] += x
            s2[j] += x * x
    for j in range(d):
        if cnt[j] > 0:
            m = s1[j] / cnt[j]
            out[j, 0] = mn[j]
            out[j, 1] = mx[j]
            out[j, 2] = shift[j] + m
            out[j, 3] = np.sqrt(max(s2[j] / cnt[j] - m * m, 0.0))
        else:
            out[j, 0] = np.nan
            out[j, 1] = np.nan
            out[j, 2] = np.nan
            out[j, 3] = np.nan
        out[j, 4] = cnt[j]
    return out


@njit(cache=True, nogil=True)
def saturation_scan(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """float64[D, 3]: share of finite samples at the column's own min or max, whether the
    column has more than two distinct values (1/0), and the finite count. ``bounds`` holds each
    column's finite min and max (from :func:`checks.kernels.values.nonfinite_scan`), so one
    pass of equality tests suffices: a third distinct value is any finite one strictly between.
    The row loop is branch-free across columns, so it vectorises.
    """
    t, d = values.shape
    out = np.zeros((d, 3))
    lo = np.empty(d)
    hi = np.empty(d)
    for j in range(d):
        lo[j] = bounds[j, 0]
        hi[j] = bounds[j, 1]
    at = np.zeros(d)
    n = np.zeros(d)
    mid = np.zeros(d)
    for i in range(t):
        row = values[i]
        for j in range(d):
            v = row[j]
            at[j] += 1.0 if (v == lo[j]) | (v == hi[j]) else 0.0
            n[j] += 1.0 if np.isfinite(v) else 0.0
            mid[j] = 1.0 if (v > lo[j]) & (v < hi[j]) else mid[j]
    for j in range(d):
        if n[j] > 0:
            out[j, 0] = at[j] / n[j]
        out[j, 1] = mid[j]
        out[j, 2] = n[j]
    return out


class ColumnStats(NamedTuple):
    """:func:`column_stats` by name: one array per figure, one entry per column."""

    min: np.ndarray
    max: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    #: finite values
    finite: np.ndarray


def stats_of_columns(values: np.ndarray) -> ColumnStats:
    """:func:`column_stats`, its columns named."""
    t = column_stats(values)
    return ColumnStats(t[:, 0], t[:, 1], t[:, 2], t[:, 3], t[:, 4])


class Saturation(NamedTuple):
    """:func:`saturation_scan` by name: one array per figure, one entry per column."""

    #: share of finite samples at the column's own min or max
    share: np.ndarray
    #: 1 when the column has more than two distinct values, else 0
    varied: np.ndarray
    finite: np.ndarray


def scan_saturation(values: np.ndarray, bounds: np.ndarray) -> Saturation:
    """:func:`saturation_scan`, its columns named."""
    t = saturation_scan(values, bounds)
    return Saturation(t[:, 0], t[:, 1], t[:, 2])
