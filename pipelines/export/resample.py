"""Re-timing an episode's frames to another rate (``--fps``).

Continuous measurements (joint positions, velocities, efforts, IMU, force/torque, gripper) are
interpolated linearly between the two nearest published frames; commands (``action``), poses,
discrete and unknown streams, and video take the nearest frame in time, so they only ever carry
values that were really recorded or sent.
"""

from __future__ import annotations

import numpy as np

#: Stream kinds resampled linearly; every other kind takes the nearest frame.
LINEAR_KINDS = frozenset({"joint_position", "joint_velocity", "joint_effort", "imu",
                          "force_torque", "gripper"})


def n_resampled(n_src: int, fps_src: float, fps_dst: float) -> int:
    """Frames at ``fps_dst`` inside the span of ``n_src`` frames at ``fps_src``."""
    if n_src <= 0:
        return 0
    if fps_dst == fps_src:
        return n_src
    return int(np.floor((n_src - 1) * fps_dst / fps_src + 1e-9)) + 1


def nearest_index(n_src: int, fps_src: float, fps_dst: float) -> np.ndarray:
    """Source frame for each destination frame (nearest in time; ties go to the later one)."""
    n = n_resampled(n_src, fps_src, fps_dst)
    if fps_dst == fps_src:
        return np.arange(n, dtype=np.int64)
    idx = np.floor(np.arange(n) * fps_src / fps_dst + 0.5 + 1e-9).astype(np.int64)
    return np.minimum(idx, n_src - 1)


def linear(values: np.ndarray, fps_src: float, fps_dst: float) -> np.ndarray:
    """``values`` ``[n, d]`` at ``fps_src`` interpolated linearly onto ``fps_dst``."""
    n_src = values.shape[0]
    n = n_resampled(n_src, fps_src, fps_dst)
    if fps_dst == fps_src or n_src < 2:
        return values[:n].copy()
    pos = np.arange(n) * fps_src / fps_dst
    i0 = np.minimum(np.floor(pos + 1e-9).astype(np.int64), n_src - 1)
    i1 = np.minimum(i0 + 1, n_src - 1)
    w = np.clip(pos - i0, 0.0, 1.0)[:, None]
    x = values.astype(np.float64)
    return ((1.0 - w) * x[i0] + w * x[i1]).astype(values.dtype)


def resample(values: np.ndarray, kind: str | None, fps_src: float, fps_dst: float) -> np.ndarray:
    """One stream's ``[n, d]`` values at ``fps_dst`` by the method of its kind."""
    if kind in LINEAR_KINDS:
        return linear(values, fps_src, fps_dst)
    return values[nearest_index(values.shape[0], fps_src, fps_dst)]


def method(kind: str | None) -> str:
    return "linear" if kind in LINEAR_KINDS else "nearest"
