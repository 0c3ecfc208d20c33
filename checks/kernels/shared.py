"""Scans that several checks read, run once per stream and kept in the episode's check cache.

A clean stream is then read once for non-finite values and column bounds, and the limit and
range checks only walk it again when those bounds say there may be something to find.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from checks.kernels.values import nonfinite_scan


def contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` itself when C-contiguous (the usual case), else one contiguous copy."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def stream_scan(cache: dict[str, Any], name: str,
                values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nonfinite_scan` of one stream's values, memoised under its name."""
    key = f"nonfinite_scan:{name}"
    if key not in cache:
        cache[key] = nonfinite_scan(contiguous(values))
    return cache[key]


def bounded_count(x: float, lo: int, hi: int, *, floor: bool = False) -> int:
    """``round(x)`` (or its floor) clipped to ``[lo, hi]``; NaN gives ``lo``. Sample counts
    derived from a declared rate (``window_s * rate_hz``) go through here so that an absurd rate
    can never become an integer larger than the data, or than the int64 a kernel takes."""
    if not x >= lo:
        return lo
    if not x <= hi:
        return hi
    return int(x) if floor else int(round(x))


def within(bounds: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    """True when every column's finite min and max lie inside ``[lo, hi]`` (NaN limits and
    columns without finite values count as inside): no sample can be out of range."""
    with np.errstate(invalid="ignore"):
        below = bounds[:, 0] < lo
        above = bounds[:, 1] > hi
    return not (below.any() or above.any())
