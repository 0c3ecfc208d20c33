"""Video files of an export, encoded with PyAV in a codec LeRobot's decoders read.

H.264 (libx264) when the installed PyAV has it, else MPEG-4 part 2; pixel format yuv420p,
no B-frames and a short keyframe interval so random access by timestamp stays cheap. Frame ``k``
of a file gets presentation time ``k / fps`` exactly (time base ``1/fps``), which is what
LeRobot's timestamp tolerance (1e-4 s) relies on.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from pipelines.export.model import ExportError

if TYPE_CHECKING:
    from av.video.stream import VideoStream

PIX_FMT = "yuv420p"
GOP = 10


def pick_codec() -> tuple[str, str]:
    """(encoder name, codec name as recorded in ``info.json``)."""
    import av

    return ("libx264", "h264") if "libx264" in av.codecs_available else ("mpeg4", "mpeg4")


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even sizes; an odd last row or column is cropped."""
    return width - width % 2, height - height % 2


def rate_of(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001 * 1000)


class VideoFile:
    """One MP4 being written, frame by frame (RGB ``[h, w, 3]`` uint8)."""

    def __init__(self, path: Path, fps: float, width: int, height: int) -> None:
        import av

        self.path = path
        self.encoder, self.codec = pick_codec()
        self.width, self.height = even_size(width, height)
        if self.width <= 0 or self.height <= 0:
            raise ExportError(f"{path}: a {width}x{height} camera cannot be encoded")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(path), mode="w")
        rate = rate_of(fps)
        self._stream = cast("VideoStream", self._container.add_stream(self.encoder, rate=rate))
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = PIX_FMT
        self._stream.time_base = 1 / rate
        opts: dict[str, object] = {"g": str(GOP), "bf": "0"}
        if self.encoder == "libx264":
            opts.update({"crf": "20", "preset": "veryfast"})
        else:
            opts.update({"qscale": "3"})
        self._stream.options = opts
        self._time_base = 1 / rate
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        import av

        if rgb.shape[0] < self.height or rgb.shape[1] < self.width:
            raise ExportError(f"{self.path}: a {rgb.shape[1]}x{rgb.shape[0]} frame does not fit "
                              f"a {self.width}x{self.height} video")
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(rgb[: self.height, : self.width, :3]), format="rgb24")
        frame.pts = self.frames
        frame.time_base = self._time_base
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    @property
    def duration_s(self) -> float:
        return float(self.frames * self._time_base)

    def close(self) -> None:
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()

    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0
