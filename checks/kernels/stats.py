"""Per-column statistics in one pass (NaN and ±Inf skipped)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def column_stats(values: np.ndarray) -> np.ndarray:
    """float64[D, 5]: min, max, mean, std (population), count of finite values per column."""
    t, d = values.shape
    out = np.zeros((d, 5))
    mn = np.full(d, np.inf)
    mx = np.full(d, -np.inf)
    mean = np.zeros(d)
    m2 = np.zeros(d)
    cnt = np.zeros(d)
    for i in range(t):
        for j in range(d):
            v = values[i, j]
            if not np.isfinite(v):
                continue
            cnt[j] += 1.0
            if v < mn[j]:
                mn[j] = v
            if v > mx[j]:
                mx[j] = v
            delta = v - mean[j]
            mean[j] += delta / cnt[j]
            m2[j] += delta * (v - mean[j])
    for j in range(d):
        if cnt[j] > 0:
            out[j, 0] = mn[j]
            out[j, 1] = mx[j]
            out[j, 2] = mean[j]
            out[j, 3] = np.sqrt(m2[j] / cnt[j])
        else:
            out[j, 0] = np.nan
            out[j, 1] = np.nan
            out[j, 2] = np.nan
            out[j, 3] = np.nan
        out[j, 4] = cnt[j]
    return out


@njit(cache=True, nogil=True)
def saturation_scan(values: np.ndarray) -> np.ndarray:
    """float64[D, 3]: share of finite samples at the column's own min or max, whether the
    column has more than two distinct values (1/0), and the finite count. One pass."""
    t, d = values.shape
    out = np.zeros((d, 3))
    mn = np.full(d, np.inf)
    mx = np.full(d, -np.inf)
    cmin = np.zeros(d)
    cmax = np.zeros(d)
    first = np.full(d, np.nan)
    second = np.full(d, np.nan)
    distinct = np.zeros(d, dtype=np.int64)
    n = np.zeros(d)
    for i in range(t):
        for j in range(d):
            v = values[i, j]
            if not np.isfinite(v):
                continue
            n[j] += 1.0
            if v < mn[j]:
                mn[j] = v
                cmin[j] = 1.0
            elif v == mn[j]:
                cmin[j] += 1.0
            if v > mx[j]:
                mx[j] = v
                cmax[j] = 1.0
            elif v == mx[j]:
                cmax[j] += 1.0
            k = distinct[j]
            if k == 0:
                first[j] = v
                distinct[j] = 1
            elif k == 1 and v != first[j]:
                second[j] = v
                distinct[j] = 2
            elif k == 2 and v != first[j] and v != second[j]:
                distinct[j] = 3
    for j in range(d):
        if n[j] > 0:
            at = cmin[j] + cmax[j] - (cmin[j] if mn[j] == mx[j] else 0.0)
            out[j, 0] = at / n[j]
        out[j, 1] = 1.0 if distinct[j] > 2 else 0.0
        out[j, 2] = n[j]
    return out
