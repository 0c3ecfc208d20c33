"""Single-pass kernels over a stream's ``[T, D]`` values."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def nonfinite_scan(values: np.ndarray) -> np.ndarray:
    """Count NaN/±Inf entries; locate the first run of rows holding any.

    Returns int64[3]: count, first row of the first run (-1 when none), last row of that run.
    """
    out = np.zeros(3, dtype=np.int64)
    out[1] = -1
    out[2] = -1
    t, d = values.shape
    in_run = False
    run_done = False
    for i in range(t):
        row_bad = False
        for j in range(d):
            if not np.isfinite(values[i, j]):
                out[0] += 1
                row_bad = True
        if row_bad:
            if out[1] < 0:
                out[1] = i
                in_run = True
            if in_run and not run_done:
                out[2] = i
        elif in_run:
            in_run = False
            run_done = True
    return out


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
