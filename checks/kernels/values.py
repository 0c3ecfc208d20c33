"""Single-pass kernels over a stream's ``[T, D]`` values."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def nonfinite_scan(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count NaN/±Inf entries and locate the first run of rows holding any; in the same pass,
    each column's finite min and max (so limit and range checks on a clean stream need no
    pass of their own).

    Returns (int64[3]: count, first row of the first run (-1 when none), last row of that run;
    float64[D, 2]: finite min and max per column, NaN for a column without finite values).
    """
    out = np.zeros(3, dtype=np.int64)
    out[1] = -1
    out[2] = -1
    t, d = values.shape
    lo = np.full(d, np.inf)
    hi = np.full(d, -np.inf)
    in_run = False
    run_done = False
    for i in range(t):
        row_bad = 0
        for j in range(d):
            v = values[i, j]
            if np.isfinite(v):
                lo[j] = min(lo[j], v)
                hi[j] = max(hi[j], v)
            else:
                row_bad += 1
        if row_bad > 0:
            out[0] += row_bad
            if out[1] < 0:
                out[1] = i
                in_run = True
            if in_run and not run_done:
                out[2] = i
        elif in_run:
            in_run = False
            run_done = True
    bounds = np.empty((d, 2))
    for j in range(d):
        if lo[j] <= hi[j]:
            bounds[j, 0] = lo[j]
            bounds[j, 1] = hi[j]
        else:
            bounds[j, 0] = np.nan
            bounds[j, 1] = np.nan
    return out, bounds


@njit(cache=True, nogil=True)
def limit_scan(values: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               tol: np.ndarray) -> np.ndarray:
    """Excursions beyond ``[lo - tol, hi + tol]`` per column (NaN limits or values skipped).

    Returns float64[5]: rows with an excursion, first row of the first excursion run (-1),
    last row of that run, the column of the worst excursion (-1), and its excess beyond the
    limit (in the column's unit).
    """
    out = np.zeros(5)
    out[1] = -1.0
    out[2] = -1.0
    out[3] = -1.0
    t, d = values.shape
    in_run = False
    run_done = False
    for i in range(t):
        row_bad = False
        for j in range(d):
            v = values[i, j]
            if not np.isfinite(v) or not np.isfinite(lo[j]) or not np.isfinite(hi[j]):
                continue
            excess = 0.0
            if v < lo[j] - tol[j]:
                excess = lo[j] - v
            elif v > hi[j] + tol[j]:
                excess = v - hi[j]
            if excess > 0.0:
                row_bad = True
                if excess > out[4]:
                    out[4] = excess
                    out[3] = j
        if row_bad:
            out[0] += 1.0
            if out[1] < 0.0:
                out[1] = i
                in_run = True
            if in_run and not run_done:
                out[2] = i
        elif in_run:
            in_run = False
            run_done = True
    return out
