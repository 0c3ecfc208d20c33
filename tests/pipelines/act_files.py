"""ALOHA / ACT episodes written in ACT's exact layout (``record_episodes.py``), from a clean
synthetic ALOHA trajectory, for the adapter's and the pipeline's tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np

from pipelines.synthetic import EpisodePlan, generate_episode
from robots.profile import get_profile

#: ACT's own camera order (record_episodes.py); HDF5 lists groups alphabetically
ACT_CAMERAS = ("cam_high", "cam_low", "cam_left_wrist", "cam_right_wrist")


def _images(n: int, cam_index: int) -> np.ndarray:
    """Frames whose mean brightness says which camera and frame they are."""
    rng = np.random.default_rng(cam_index)
    noise = rng.integers(-12, 13, (n, 32, 40, 3))
    return (20 + 50 * cam_index + noise + (np.arange(n) % 10)[:, None, None, None]).astype(
        np.uint8)


def write_act(path: Path, *, compressed: bool, cameras=ACT_CAMERAS[:2], qpos_edit=None,
              mobile: bool = False, seconds: float = 2.0, seed: int = 3) -> Path:
    """An episode with ``cameras`` (raw frames, or JPEG rows zero-padded with their lengths in
    ``/compress_len``); ``qpos_edit`` plants a defect in the joint positions in place; another
    ``seed``, another trajectory."""
    ep = generate_episode(get_profile("aloha"),
                          EpisodePlan(duration_s=seconds, cameras=(), seed=seed))
    q = ep.streams["joint_pos"].values.copy()
    if qpos_edit is not None:
        qpos_edit(q)
    n = len(q)
    with h5py.File(path, "w") as f:
        f.attrs["sim"] = False
        f.attrs["compress"] = compressed
        obs = f.create_group("observations")
        obs["qpos"] = q
        obs["qvel"] = np.gradient(q, axis=0) * 50
        obs["effort"] = ep.streams["joint_effort"].values[:n]
        f["action"] = ep.streams["action"].values[:n]
        if mobile:
            f["base_action"] = np.tile([0.1, 0.0], (n, 1))
        lens = np.zeros((len(cameras), n), dtype=np.float32)
        for ci, cam in enumerate(cameras):
            imgs = _images(n, ACT_CAMERAS.index(cam))
            if not compressed:
                obs[f"images/{cam}"] = imgs
                continue
            enc = [cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].ravel()
                   for im in imgs]
            padded = np.zeros((n, max(len(e) for e in enc) + 64), dtype=np.uint8)
            for i, e in enumerate(enc):
                padded[i, : len(e)] = e
                lens[ci, i] = len(e)
            obs[f"images/{cam}"] = padded
        if compressed:
            f["compress_len"] = lens
    return path
