"""Scans that several checks read, run once per stream and kept in the episode's check cache.

A stream is read once for what several checks need — non-finite values, column bounds and, for
joint-space streams, the smallest change and the spread of changes — so the limit and range
checks only walk it again when those bounds say there may be something to find, and the spike
and tracking checks start from the figures instead of a pass of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from checks.kernels.values import BadRun
from checks.kernels.values import stream_summary as _summary_kernel
from schemas.episode import Stream


def contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` itself when C-contiguous (the usual case), else one contiguous copy."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


@dataclass(frozen=True)
class StreamSummary:
    """One pass over a stream's values (see :func:`checks.kernels.values.stream_summary`)."""

    #: Non-finite values, and the first and last row of their first run (-1 when none).
    nonfinite: BadRun
    #: float64[D, 2]: finite min and max per column (NaN for a column without finite values).
    bounds: np.ndarray
    #: float64[D]: smallest non-zero change per column (None unless joint-space).
    min_step: np.ndarray | None
    #: float64[D]: variance of the finite changes per column (None unless joint-space).
    diff_spread: np.ndarray | None


def _wants_changes(s: Stream) -> bool:
    """Joint-space streams feed the spike and tracking checks, which read their changes."""
    return s.kind == "joint_position" or (s.kind == "action" and s.is_joint_space)


def _compute(values: np.ndarray, changes: bool) -> StreamSummary:
    counts, table = _summary_kernel(contiguous(values), changes)
    bounds = np.ascontiguousarray(table[:, :2])
    if not changes:
        return StreamSummary(BadRun.of(counts), bounds, None, None)
    return StreamSummary(BadRun.of(counts), bounds, np.ascontiguousarray(table[:, 2]),
                         np.ascontiguousarray(table[:, 3]))


def summary(cache: dict[str, Any], s: Stream) -> StreamSummary:
    """The :class:`StreamSummary` of ``s``, computed on first use and memoised by its name
    (with the changes when ``s`` is joint-space)."""
    key = f"summary:{s.name}"
    got = cache.get(key)
    changes = _wants_changes(s)
    if got is None or (changes and got.min_step is None):
        got = cache[key] = _compute(s.values, changes)
    return got


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
