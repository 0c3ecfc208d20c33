"""One pass over a timestamp array: ordering, gaps, missing samples, regular-interval stats."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def timestamp_scan(ts: np.ndarray, period_ns: float, gap_factor: float) -> np.ndarray:
    """Figures of a clock in one pass over consecutive differences.

    Returns float64[10]: non-monotonic count, index of the first one (-1), gap count, samples
    missing in gaps, index before the longest gap (-1), longest gap (ns), number of regular
    differences, their sum, their sum of squares, and the total span ``ts[-1] - ts[0]``.
    """
    out = np.zeros(10)
    out[1] = -1.0
    out[4] = -1.0
    n = ts.shape[0]
    if n < 2:
        return out
    limit = gap_factor * period_ns
    for i in range(n - 1):
        d = float(ts[i + 1] - ts[i])
        if d <= 0.0:
            out[0] += 1.0
            if out[1] < 0.0:
                out[1] = i
        elif d > limit:
            out[2] += 1.0
            out[3] += max(np.floor(d / period_ns + 0.5) - 1.0, 1.0)
            if d > out[5]:
                out[5] = d
                out[4] = i
        else:
            out[6] += 1.0
            out[7] += d
            out[8] += d * d
    out[9] = float(ts[n - 1] - ts[0])
    return out


class ClockScan(NamedTuple):
    """:func:`timestamp_scan`'s figures by name (indices are -1 when there is none)."""

    #: consecutive differences that do not increase, and the index of the first
    non_monotonic: float
    first_non_monotonic: int
    #: differences longer than ``gap_factor`` periods, and the samples they lose
    gaps: float
    missing: float
    #: the index before the longest gap, and its length
    longest_gap_at: int
    longest_gap_ns: float
    #: the regular differences (neither gaps nor non-increasing): count, sum, sum of squares
    regular: float
    regular_sum_ns: float
    regular_sum_sq: float
    span_ns: float


def scan_clock(ts: np.ndarray, period_ns: float, gap_factor: float) -> ClockScan:
    """:func:`timestamp_scan` of ``ts`` (made contiguous), its figures named."""
    r = timestamp_scan(np.ascontiguousarray(ts), period_ns, gap_factor)
    return ClockScan(float(r[0]), int(r[1]), float(r[2]), float(r[3]), int(r[4]), float(r[5]),
                     float(r[6]), float(r[7]), float(r[8]), float(r[9]))
