"""Kernels over segments: many episodes concatenated, cut by row offsets.

A multi-episode source (hundreds of short LeRobot episodes) pays a fixed cost per call in
numpy; these kernels take the concatenated rows and ``offsets`` (segment ``s`` is rows
``offsets[s]:offsets[s + 1]``) and give per-segment results in one call. One segment
(``offsets = [0, n]``) is the single-episode case.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def column_percentiles(values: np.ndarray, offsets: np.ndarray,
                       percents: np.ndarray) -> np.ndarray:
    """float64[segments, len(percents), columns]: numpy's ``percentile`` (method "linear")
    of each column within each segment, bit for bit; NaN where the column holds a NaN or the
    segment is empty.

    numpy walks a (rows, columns) array column by column through Python-level machinery; here
    each column is copied into one buffer and sorted, and the interpolation is numpy's own:
    index ``(n - 1) * q``, ``_lerp`` from the nearer neighbour."""
    n_seg = offsets.shape[0] - 1
    d = values.shape[1]
    n_q = percents.shape[0]
    out = np.empty((n_seg, n_q, d))
    qs = percents / 100.0
    for s in range(n_seg):
        a = offsets[s]
        n = offsets[s + 1] - a
        buf = np.empty(max(n, 1))
        for j in range(d):
            nan = n == 0
            for i in range(n):
                x = values[a + i, j]
                if np.isnan(x):
                    nan = True
                    break
                buf[i] = x
            if nan:
                for k in range(n_q):
                    out[s, k, j] = np.nan
                continue
            srt = np.sort(buf[:n])
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
                g = v - prev
                lo, hi = srt[lo_i], srt[hi_i]
                diff = hi - lo
                out[s, k, j] = hi - diff * (1.0 - g) if g >= 0.5 else lo + diff * g
    return out
