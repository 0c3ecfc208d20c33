"""Kernels over segments: many episodes concatenated, cut by row offsets.

A multi-episode source (hundreds of short LeRobot episodes) pays a fixed cost per call in
numpy; these kernels take the concatenated rows and ``offsets`` (segment ``s`` is rows
``offsets[s]:offsets[s + 1]``) and give per-segment results in one call. One segment
(``offsets = [0, n]``) is the single-episode case.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Order statistics kept by insertion (per column, from each end) before a full sort pays.
_MAX_KEPT = 48


@njit(cache=True, nogil=True)
def _lerp(lo: float, hi: float, g: float) -> float:
    """numpy's ``_lerp``: from the nearer neighbour, so the figures match bit for bit."""
    diff = hi - lo
    return hi - diff * (1.0 - g) if g >= 0.5 else lo + diff * g


@njit(cache=True, nogil=True)
def column_percentiles(values: np.ndarray, offsets: np.ndarray,
                       percents: np.ndarray) -> np.ndarray:
    """float64[segments, len(percents), columns]: numpy's ``percentile`` (method "linear")
    of each column within each segment, bit for bit; NaN where the column holds a NaN or the
    segment is empty.

    numpy walks a (rows, columns) array column by column through Python-level machinery.
    Here the interpolation is numpy's own (index ``(n - 1) * q``, ``_lerp``) and the order
    statistics come from one row-major pass that keeps, per column, the few smallest and
    largest values by insertion (percentiles near the ends, the common case), else from a
    sort of the column."""
    n_seg = offsets.shape[0] - 1
    d = values.shape[1]
    n_q = percents.shape[0]
    out = np.empty((n_seg, n_q, d))
    qs = percents / 100.0
    lo_idx = np.empty(n_q, dtype=np.int64)
    hi_idx = np.empty(n_q, dtype=np.int64)
    gam = np.empty(n_q)
    for s in range(n_seg):
        a = offsets[s]
        n = offsets[s + 1] - a
        if n == 0:
            out[s] = np.nan
            continue
        n_low = 0  # order statistics 0 .. n_low-1 are needed from the bottom
        n_high = 0  # and n-n_high .. n-1 from the top
        for k in range(n_q):
            v = (n - 1) * qs[k]
            prev = np.floor(v)
            if v >= n - 1:
                lo_i, hi_i, prev = n - 1, n - 1, -1.0
            elif v < 0:
                lo_i, hi_i, prev = 0, 0, 0.0
            else:
                lo_i = int(prev)
                hi_i = lo_i + 1
            lo_idx[k], hi_idx[k], gam[k] = lo_i, hi_i, v - prev
            for idx in (lo_i, hi_i):
                if idx < n - idx:
                    n_low = max(n_low, idx + 1)
                else:
                    n_high = max(n_high, n - idx)
        if n_low + n_high <= _MAX_KEPT and n_low + n_high < n:
            _ends(values, a, n, n_low, n_high, lo_idx, hi_idx, gam, out[s])
        else:
            _sorted(values, a, n, lo_idx, hi_idx, gam, out[s])
    return out


@njit(cache=True, nogil=True)
def _ends(values: np.ndarray, a: int, n: int, n_low: int, n_high: int, lo_idx: np.ndarray,
          hi_idx: np.ndarray, gam: np.ndarray, out: np.ndarray) -> None:
    d = values.shape[1]
    low = np.empty((d, max(n_low, 1)))  # ascending: the n_low smallest so far
    high = np.empty((d, max(n_high, 1)))  # descending: the n_high largest so far
    nan = np.zeros(d, dtype=np.bool_)
    for i in range(n):
        for j in range(d):
            x = values[a + i, j]
            if np.isnan(x):
                nan[j] = True
                continue
            c = min(i, n_low)
            if c < n_low or x < low[j, c - 1]:
                m = c if c < n_low else c - 1
                while m > 0 and low[j, m - 1] > x:
                    low[j, m] = low[j, m - 1]
                    m -= 1
                low[j, m] = x
            c = min(i, n_high)
            if c < n_high or x > high[j, c - 1]:
                m = c if c < n_high else c - 1
                while m > 0 and high[j, m - 1] < x:
                    high[j, m] = high[j, m - 1]
                    m -= 1
                high[j, m] = x
    for j in range(d):
        for k in range(lo_idx.shape[0]):
            if nan[j]:
                out[k, j] = np.nan
                continue
            li, hi = lo_idx[k], hi_idx[k]
            lo_v = low[j, li] if li < n - li else high[j, n - 1 - li]
            hi_v = low[j, hi] if hi < n - hi else high[j, n - 1 - hi]
            out[k, j] = _lerp(lo_v, hi_v, gam[k])


@njit(cache=True, nogil=True)
def _sorted(values: np.ndarray, a: int, n: int, lo_idx: np.ndarray, hi_idx: np.ndarray,
            gam: np.ndarray, out: np.ndarray) -> None:
    d = values.shape[1]
    buf = np.empty(n)
    for j in range(d):
        nan = False
        for i in range(n):
            x = values[a + i, j]
            if np.isnan(x):
                nan = True
                break
            buf[i] = x
        if nan:
            for k in range(lo_idx.shape[0]):
                out[k, j] = np.nan
            continue
        buf.sort()
        for k in range(lo_idx.shape[0]):
            out[k, j] = _lerp(buf[lo_idx[k]], buf[hi_idx[k]], gam[k])
