"""Declared-size limits a reader enforces before reading any data.

A recording declares its sizes in the HDF5 metadata (dataset shapes, camera attributes, a video's
container header). Checking those declarations first means a hostile or broken file cannot make
the pipeline allocate or decode more than an operator agreed to.

The same module holds the bounds on declared values that every later step relies on: sampling
rates (every check and the dataset clock divide by them), the wall-clock range of ``started_at``
(published as an Arrow ``timestamp[us, UTC]`` and read by tools that use nanoseconds) and how
many dataset-clock frames curation may build per sample it actually holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

#: ``started_at`` must fall in this UTC range: after the Unix epoch and before the last instant
#: an int64 nanosecond timestamp can hold (2262-04-11T23:47:16.854775807Z), so the published
#: ``timestamp[us, UTC]`` column converts to nanoseconds in any reader (pandas, polars, DuckDB).
EARLIEST_STARTED_AT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_STARTED_AT = datetime(2262, 4, 11, 23, 47, 16, 854775, tzinfo=UTC)

#: Curation builds at most this many dataset-clock frames per sample of the episode's densest
#: source (the stream or camera with the most samples inside the common span): a dataset clock
#: finer than the data repeats samples, it must not conjure an episode out of a handful of them.
MAX_FRAMES_PER_SAMPLE = 10


@dataclass(frozen=True)
class Limits:
    """Refuse (``schema.unsafe``) any recording that declares more than this."""

    #: Rows of one stream (``timestamps`` and ``values``), and rows of ``/events``.
    max_samples_per_stream: int = 10**8
    #: Frames of one camera (``timestamps``, ``frames``, or the sidecar's header count).
    max_frames_per_camera: int = 2 * 10**6
    max_frame_width: int = 4096
    max_frame_height: int = 4096
    #: Columns of one stream's ``values``: a bound on the row width, so that the sample limit
    #: also bounds memory.
    max_columns_per_stream: int = 65_536
    #: Values of one stream (samples x columns): the two limits above multiply to 6.5·10^12,
    #: far beyond memory; this is the most one stream may hold (8 GB as float64).
    max_values_per_stream: int = 10**9
    #: Pixels one camera may declare in all (frames x width x height): what decoding it costs.
    #: The per-axis limits alone allow 2·10^6 frames of 4096x4096 (3.4·10^13 pixels, about a
    #: day and a half of decoding); this allows about an hour of 1080p at 30 fps.
    max_pixels_per_camera: int = 250 * 10**9
    #: Declared ``rate_hz`` of a stream or camera, in Hz (``schema.stream`` / ``schema.camera``
    #: outside it): slower than one sample per 10 s or faster than 100 kHz is not a robot
    #: recording, and every check and the dataset clock divide by the rate.
    min_rate_hz: float = 0.1
    max_rate_hz: float = 100_000.0


def rate_problem(rate: float, *, min_hz: float = Limits.min_rate_hz,
                 max_hz: float = Limits.max_rate_hz) -> str | None:
    """Why a sampling rate cannot be used (not finite, <= 0, outside ``min_hz``–``max_hz``),
    or None. Every check and the dataset clock divide by it, whichever layout gave it."""
    try:
        rate = float(rate)
    except OverflowError:  # an integer beyond any float (JSON allows 10**400)
        rate = math.inf
    if not math.isfinite(rate) or rate <= 0:
        return f"{rate:g} Hz is not a rate (a finite number > 0 is required)"
    if rate > max_hz:
        return f"{rate:g} Hz is above {max_hz:g} Hz, faster than any robot recording"
    if rate < min_hz:
        return f"{rate:g} Hz is below {min_hz:g} Hz, slower than any robot recording"
    return None


#: The largest magnitude a published frames column (float32) holds: a finite value beyond it
#: would be published as an infinity. No sensor or joint reads ±3.4e38; a corrupt file does.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def beyond_float32(values: np.ndarray) -> tuple[int, int, float] | None:
    """(row, column, value) of the first finite value beyond ±:data:`FLOAT32_MAX` in a 2-D
    float array, or None. Two reductions without a temporary array; the position is looked for
    only when there is one. An infinity is the non-finite check's business, not this one's."""
    if values.size == 0 or values.dtype.kind != "f" or values.dtype.itemsize <= 4:
        return None
    hi = float(np.fmax.reduce(values, axis=None))
    lo = float(np.fmin.reduce(values, axis=None))
    if not (math.isfinite(hi) and math.isfinite(lo)):
        # an infinity (or only NaN) hides the finite extremes: look again without them, a
        # copy made only for such a stream (a profile may let infinities through as warnings)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return None
        hi, lo = float(finite.max()), float(finite.min())
    worst = [x for x in (hi, lo) if math.isfinite(x) and abs(x) > FLOAT32_MAX]
    if not worst:
        return None
    row, col = np.unravel_index(int(np.argmax(values == worst[0])), values.shape)
    return int(row), int(col), worst[0]
