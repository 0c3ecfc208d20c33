"""A small, complete recording (every member of format 1.0) written by the project's writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from schemas.episode import (
    ArrayFrames,
    Camera,
    Episode,
    EpisodeMetadata,
    Event,
    Stream,
)
from schemas.recording_writer import write_recording

T0 = 1_762_000_000_000_000_000
JOINTS = ["left_hip_yaw_joint", "left_knee_joint", "right_knee_joint"]
N_SAMPLES = 60
N_FRAMES = 12
RGB_W, RGB_H = 24, 16
VIDEO_W, VIDEO_H = 64, 48


def _clock(n: int, rate_hz: float) -> np.ndarray:
    return T0 + np.arange(n, dtype=np.int64) * int(round(1e9 / rate_hz))


def rgb_frames(n: int, h: int, w: int) -> np.ndarray:
    """Frames whose first pixel encodes the frame index, so order can be asserted."""
    rng = np.random.default_rng(7)
    frames = rng.integers(0, 255, size=(n, h, w, 3), dtype=np.uint8)
    frames[:, 0, 0, 0] = np.arange(n, dtype=np.uint8)
    return frames


def make_episode() -> Episode:
    t = _clock(N_SAMPLES, 50.0)
    q = np.linspace(0.0, 0.5, N_SAMPLES)[:, None] * np.array([1.0, -1.0, 0.5])
    imu_t = _clock(2 * N_SAMPLES, 100.0)
    cam_t = _clock(N_FRAMES, 10.0)
    depth = (600 + np.arange(N_FRAMES * RGB_H * RGB_W, dtype=np.uint16)
             .reshape(N_FRAMES, RGB_H, RGB_W) % 4000).astype(np.uint16)
    video = np.zeros((N_FRAMES, VIDEO_H, VIDEO_W, 3), dtype=np.uint8)
    video[..., 0] = 200  # a red scene: proves the RGB (not BGR) order after decoding
    return Episode(
        metadata=EpisodeMetadata(
            robot_model="unitree-h1", robot_serial="H1A0000001", operator_id="op_07",
            collection_mode="teleop_vr", task="put the red cup on the tray", site="tg-01",
            started_at="2026-11-02T09:15:00.125+08:00", robot_uid=None, task_id="cup-01",
            scene="bench-3", success=True, extra={"shift": "night", "lab_humidity": 0.41}),
        streams={
            "joint_pos": Stream("joint_pos", "joint_position", t, q, list(JOINTS), "rad", 50.0),
            "action": Stream("action", "action", t, (q + 0.01).astype(np.float32),
                             list(JOINTS), "rad", 50.0, space="joint_position"),
            "imu.base": Stream("imu.base", "imu", imu_t, np.ones((2 * N_SAMPLES, 6)),
                               ["ax", "ay", "az", "gx", "gy", "gz"], "m/s^2", 100.0),
        },
        cameras={
            "cam_head": Camera("cam_head", cam_t, "rgb8", 10.0, RGB_W, RGB_H,
                               frames=ArrayFrames(rgb_frames(N_FRAMES, RGB_H, RGB_W)),
                               mount="head", intrinsics=np.array([20.0, 20.0, 12.0, 8.0]),
                               extrinsics=np.eye(4)),
            "cam_depth": Camera("cam_depth", cam_t, "depth16", 10.0, RGB_W, RGB_H,
                                frames=ArrayFrames(depth), mount="chest",
                                pixel_format="depth16"),
            "cam_wrist": Camera("cam_wrist", cam_t, "video", 10.0, VIDEO_W, VIDEO_H,
                                frames=ArrayFrames(video), mount="wrist_left"),
        },
        events=[Event(int(t[5]), int(t[20]), "reach"), Event(int(t[21]), int(t[50]), "place")],
    )


@pytest.fixture(scope="session")
def episode() -> Episode:
    return make_episode()


@pytest.fixture(scope="session")
def pristine(tmp_path_factory, episode) -> Path:
    """One written recording per session; tests copy it rather than rewrite it."""
    folder = tmp_path_factory.mktemp("pristine")
    return write_recording(episode, folder / "ep.h5")


@pytest.fixture
def good(tmp_path, pristine) -> Path:
    """A fresh, writable copy of the pristine recording and its sidecar, free to break."""
    for src in pristine.parent.iterdir():
        if not src.name.startswith("."):
            (tmp_path / src.name).write_bytes(src.read_bytes())
    return tmp_path / pristine.name
