"""Lazy camera frames: from an HDF5 dataset chunk by chunk, or from a video by streaming."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class H5Frames:
    """Frames of ``dataset_path`` in ``path``, read ``chunk_frames`` at a time."""

    path: Path
    dataset_path: str
    chunk_frames: int = 16

    def iter_frames(self) -> Iterator[np.ndarray]:
        import h5py

        with h5py.File(self.path, "r") as f:
            ds = f[self.dataset_path]
            n = ds.shape[0]
            for i in range(0, n, self.chunk_frames):
                block = ds[i:i + self.chunk_frames]
                yield from block

    def describe(self) -> str:
        return f"{self.path}:{self.dataset_path}"


@dataclass
class VideoFrames:
    """Frames of a video file, decoded one at a time with OpenCV, as RGB."""

    path: Path

    def iter_frames(self) -> Iterator[np.ndarray]:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise OSError(f"{self.path}: the video cannot be opened or decoded")
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()

    def iter_grey(self) -> Iterator[np.ndarray]:
        """The same frames as 8-bit grey, converted straight from the decoder's BGR."""
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise OSError(f"{self.path}: the video cannot be opened or decoded")
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        finally:
            cap.release()

    def describe(self) -> str:
        return str(self.path)


def probe_video(path: Path) -> tuple[int, int, int, float]:
    """Frame count, width, height and fps from the container header (no decoding)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise OSError(f"{path}: the video cannot be opened")
    try:
        return (int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), float(cap.get(cv2.CAP_PROP_FPS)))
    finally:
        cap.release()
