"""Declared-size limits a reader enforces before reading any data.

A recording declares its sizes in the HDF5 metadata (dataset shapes, camera attributes, a video's
container header). Checking those declarations first means a hostile or broken file cannot make
the pipeline allocate or decode more than an operator agreed to.
"""

from __future__ import annotations

from dataclasses import dataclass


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
