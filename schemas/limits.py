"""Declared-size limits a reader enforces before reading any data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Refuse (``schema.unsafe``) any recording that declares more than this."""

    max_samples_per_stream: int = 10**8
    max_frames_per_camera: int = 2 * 10**6
    max_frame_width: int = 4096
    max_frame_height: int = 4096
