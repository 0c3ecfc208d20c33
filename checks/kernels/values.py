"""Single-pass kernels over a stream's ``[T, D]`` values."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def track_run(out: np.ndarray, i: int, bad: int, in_run: bool, run_done: bool
              ) -> tuple[bool, bool]:
    """One row of the scans that count bad rows and place the first run of them: adds
    ``bad`` to ``out[0]`` and, while the first run lasts, keeps its first row in ``out[1]``
    (negative until one is found) and its last in ``out[2]``. Returns the new
    (in_run, run_done)."""
    if bad > 0:
        out[0] += bad
        if out[1] < 0:
            out[1] = i
            in_run = True
        if in_run and not run_done:
            out[2] = i
    elif in_run:
        in_run = False
        run_done = True
    return in_run, run_done


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
        in_run, run_done = track_run(out, i, row_bad, in_run, run_done)
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
        in_run, run_done = track_run(out, i, 1 if row_bad else 0, in_run, run_done)
    return out


@njit(cache=True, nogil=True)
def stream_summary(values: np.ndarray, diffs: bool) -> tuple[np.ndarray, np.ndarray]:
    """What several checks need from one stream, in one pass over it.

    :func:`nonfinite_scan`'s figures and, with ``diffs``, per column the smallest non-zero
    change between consecutive samples (a digitised sensor's quantisation step, 0 when the
    column never changes) and the variance of the finite changes (NaN when there are none).
    Returns (int64[3] as :func:`nonfinite_scan`; float64[D, 4]: finite min, finite max, min
    step, change variance — NaN where not computed or undefined). The row loop is branch-free
    across columns, so wide rows vectorise.
    """
    t, d = values.shape
    table = np.full((d, 4), np.nan)
    if not diffs:
        out, bounds = nonfinite_scan(values)
        table[:, :2] = bounds
        return out, table
    out = np.zeros(3, dtype=np.int64)
    out[1] = -1
    out[2] = -1
    lo = np.full(d, np.inf)
    hi = np.full(d, -np.inf)
    step = np.full(d, np.inf)
    cnt = np.zeros(d)
    s1 = np.zeros(d)
    s2 = np.zeros(d)
    in_run = False
    run_done = False
    for i in range(t):
        row = values[i]
        prev = values[max(i - 1, 0)]  # row 0 against itself: uncounted below
        row_bad = 0
        for j in range(d):
            v = row[j]
            fin = np.isfinite(v)
            row_bad += 0 if fin else 1
            lo[j] = min(lo[j], v if fin else np.inf)
            hi[j] = max(hi[j], v if fin else -np.inf)
            dv = v - prev[j]
            a = abs(dv)
            step[j] = min(step[j], a if a > 0.0 else np.inf)
            ok = np.isfinite(dv)
            cnt[j] += 1.0 if ok else 0.0
            s1[j] += dv if ok else 0.0
            s2[j] += dv * dv if ok else 0.0
        in_run, run_done = track_run(out, i, row_bad, in_run, run_done)
    for j in range(d):
        if t > 0 and np.isfinite(values[0, j]):
            cnt[j] -= 1.0  # row 0's zero change against itself
        if lo[j] <= hi[j]:
            table[j, 0] = lo[j]
            table[j, 1] = hi[j]
        table[j, 2] = step[j] if np.isfinite(step[j]) else 0.0
        if cnt[j] > 0:
            m = s1[j] / cnt[j]
            table[j, 3] = max(s2[j] / cnt[j] - m * m, 0.0)
    return out, table


class BadRun(NamedTuple):
    """Non-finite values and the first run of rows holding any, as :func:`nonfinite_scan`
    counts them: rows -1 when there is none."""

    total: int
    first: int
    last: int

    @classmethod
    def of(cls, r: np.ndarray) -> BadRun:
        return cls(int(r[0]), int(r[1]), int(r[2]))


class Excursions(NamedTuple):
    """:func:`limit_scan`'s figures by name (-1 where there is none)."""

    #: rows with an excursion
    rows: float
    #: first and last row of the first run of them
    first: int
    last: int
    #: the column of the worst excursion and its excess beyond the limit
    column: int
    excess: float


def scan_limits(values: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                tol: np.ndarray) -> Excursions:
    """:func:`limit_scan`, its figures named."""
    r = limit_scan(values, lo, hi, tol)
    return Excursions(float(r[0]), int(r[1]), int(r[2]), int(r[3]), float(r[4]))
