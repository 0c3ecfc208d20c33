"""One pass over a timestamp array: ordering, gaps, missing samples, regular-interval stats."""

from __future__ import annotations

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
