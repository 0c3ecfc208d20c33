"""Lazy camera frames: from an HDF5 dataset chunk by chunk, or from a video by streaming.

Nothing here holds more than a few frames at a time, so checking a long camera costs the same
memory as checking a short one. Opening and decoding errors surface as :class:`OSError` naming
the file, raised from ``iter_frames`` (never when the source is built).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from av.container import InputContainer


def _native(block: np.ndarray) -> np.ndarray:
    """Big-endian data (some HDF5 writers produce it) converted to the machine's byte order."""
    if block.dtype.byteorder not in ("=", "|") and not block.dtype.isnative:
        return block.astype(block.dtype.newbyteorder("="))
    return block


@dataclass
class H5Frames:
    """Frames of ``dataset_path`` in ``path``, read ``chunk_frames`` at a time.

    The file is opened only while iterating, and only one block of frames is in memory at once.
    """

    path: Path
    dataset_path: str
    chunk_frames: int = 16

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.chunk_frames < 1:
            raise ValueError(f"chunk_frames must be at least 1, not {self.chunk_frames}")

    def iter_frames(self) -> Iterator[np.ndarray]:
        import h5py

        try:
            f = h5py.File(self.path, "r", locking=False)
        except OSError as exc:
            raise OSError(f"{self.path}: the HDF5 file cannot be opened ({exc})") from None
        with f:
            ds = f.get(self.dataset_path)
            if not isinstance(ds, h5py.Dataset) or ds.ndim < 1:
                raise OSError(f"{self.describe()}: no frames dataset at this path")
            n = ds.shape[0]
            for i in range(0, n, self.chunk_frames):
                try:
                    block = ds[i:i + self.chunk_frames]
                except (OSError, RuntimeError, ValueError, TypeError) as exc:
                    raise OSError(f"{self.describe()}: frames {i}.."
                                  f"{min(i + self.chunk_frames, n) - 1} cannot be read ({exc})"
                                  ) from None
                yield from _native(block)

    def describe(self) -> str:
        return f"{self.path}:{self.dataset_path}"


def _plain_video(path: Path | str) -> Path:
    """``path`` when it is a regular file; a symbolic link is never opened, even if it was
    swapped in after the reader checked the recording."""
    path = Path(path)
    if path.is_symlink():
        raise OSError(f"{path}: the video is a symbolic link; it is not opened")
    if not path.is_file():
        raise OSError(f"{path}: the video file does not exist")
    return path


def decode_video(path: Path, grey: bool = False, start: int = 0,
                 count: int | None = None) -> Iterator[np.ndarray]:
    """Frames ``start .. start+count`` of a video, RGB (or grey), one at a time.

    OpenCV decodes first; when it cannot decode the stream at all (AV1 without a decoder in
    OpenCV's build, as LeRobot writes by default), PyAV's bundled FFmpeg takes over.
    """
    import cv2

    path = _plain_video(path)
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
            while ok and frame is not None and (count is None or n < count):
                yield cv2.cvtColor(frame, conv)
                n += 1
                ok, frame = cap.read()
        finally:
            cap.release()
        return
    cap.release()
    yield from _decode_pyav(path, grey, start, count)


def _open_pyav(path: Path) -> InputContainer:
    """A PyAV container for ``path``; PyAV's own errors become one :class:`OSError`."""
    import av

    try:
        return av.open(str(path))
    except Exception as exc:  # PyAV raises its own error types
        raise OSError(f"{path}: the video cannot be opened ({exc})") from None


def _decode_pyav(path: Path, grey: bool, start: int, count: int | None) -> Iterator[np.ndarray]:
    import av

    container = _open_pyav(path)
    fmt = "gray" if grey else "rgb24"
    n = 0
    try:
        if not container.streams.video:
            raise OSError(f"{path}: the file holds no video stream")
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
    """Frames of a video file, decoded one at a time, as RGB ``[H, W, 3]`` uint8."""

    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    def iter_frames(self) -> Iterator[np.ndarray]:
        return decode_video(self.path)

    def iter_grey(self) -> Iterator[np.ndarray]:
        """The same frames as 8-bit grey, converted straight from the decoder's output."""
        return decode_video(self.path, grey=True)

    def describe(self) -> str:
        return str(self.path)


def probe_video(path: Path | str) -> tuple[int, int, int, float]:
    """Frame count, width, height and fps from the container header (no frame is decoded).

    The count is what the container declares (0 when it declares none).
    """
    import cv2

    path = _plain_video(path)
    cap = cv2.VideoCapture(str(path))
    try:
        if cap.isOpened():
            return (max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0),
                    int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                    int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), float(cap.get(cv2.CAP_PROP_FPS)))
    finally:
        cap.release()
    return _probe_pyav(path)


def _probe_pyav(path: Path) -> tuple[int, int, int, float]:
    container = _open_pyav(path)
    try:
        if not container.streams.video:
            raise OSError(f"{path}: the file holds no video stream")
        st = container.streams.video[0]
        rate = st.average_rate or st.base_rate
        return (int(st.frames or 0), int(st.codec_context.width), int(st.codec_context.height),
                float(rate) if rate else 0.0)
    finally:
        container.close()
