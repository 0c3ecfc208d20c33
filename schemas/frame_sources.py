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


def decode_video(path: Path, grey: bool = False, start: int = 0,
                 count: int | None = None) -> Iterator[np.ndarray]:
    """Frames ``start .. start+count`` of a video, RGB (or grey), one at a time.

    OpenCV decodes first; when it cannot decode the stream at all (AV1 without a decoder in
    OpenCV's build, as LeRobot writes by default), PyAV's bundled FFmpeg takes over.
    """
    import cv2

    cap = cv2.VideoCapture(str(path))
    ok, frame = (False, None)
    if cap.isOpened():
        if start:
            cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        ok, frame = cap.read()
    if ok:
        conv = cv2.COLOR_BGR2GRAY if grey else cv2.COLOR_BGR2RGB
        n = 0
        try:
            while ok and (count is None or n < count):
                yield cv2.cvtColor(frame, conv)
                n += 1
                ok, frame = cap.read()
        finally:
            cap.release()
        return
    cap.release()
    yield from _decode_pyav(path, grey, start, count)


def _decode_pyav(path: Path, grey: bool, start: int, count: int | None) -> Iterator[np.ndarray]:
    try:
        import av
    except ImportError:
        raise OSError(f"{path}: the video cannot be opened or decoded") from None
    try:
        container = av.open(str(path))
    except Exception as exc:  # PyAV raises its own error types
        raise OSError(f"{path}: the video cannot be opened ({exc})") from None
    fmt = "gray" if grey else "rgb24"
    n = 0
    try:
        for i, frame in enumerate(container.decode(video=0)):
            if i < start:
                continue
            if count is not None and n >= count:
                break
            yield frame.to_ndarray(format=fmt)
            n += 1
    except av.FFmpegError as exc:
        raise OSError(f"{path}: decoding failed after {n} frame(s) ({exc})") from None
    finally:
        container.close()
    if n == 0 and count != 0:
        raise OSError(f"{path}: no frame could be decoded")


@dataclass
class VideoFrames:
    """Frames of a video file, decoded one at a time, as RGB."""

    path: Path

    def iter_frames(self) -> Iterator[np.ndarray]:
        return decode_video(self.path)

    def iter_grey(self) -> Iterator[np.ndarray]:
        """The same frames as 8-bit grey, converted straight from the decoder's output."""
        return decode_video(self.path, grey=True)

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
