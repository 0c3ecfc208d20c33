"""Per-frame video figures, and the grey frames they are taken on.

Every video check works on grey levels, so frames are reduced to a grey plane once, scaled down
to at most :data:`BLUR_MAX_WIDTH` pixels wide (never up), and the figures (mean luma, change
from the previous frame overall and in its most changed block, Laplacian variance) are taken in
one fused pass over that plane (:func:`frame_figures`: each pixel is read once, instead of once
per OpenCV call). A compressed
video is the common case and the costly one: its decoder already holds the luma plane, so
:func:`iter_grey_planes` hands that plane over as is (no colour conversion at all) together with
the affine map from its code values to full-range grey levels, and the figures are mapped
instead of the pixels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from numba import njit

from schemas.episode import FrameSource
from schemas.frame_sources import VideoFrames

if TYPE_CHECKING:
    from av import VideoFrame

#: Sharpness is measured on frames at most this wide (scaled down, never up).
BLUR_MAX_WIDTH = 640
#: Side of the square blocks whose change tells a frozen frame from a moving one.
BLOCK_PX = 16
#: Limited ("TV") range luma: code 16 is black and 235 white.
_TV_BLACK, _TV_GAIN = 16.0, 255.0 / 219.0
#: 8-bit formats whose first plane is the luma plane.
_LUMA_FIRST = ("yuv420p", "yuv422p", "yuv444p", "yuv440p", "yuv411p", "yuv410p", "yuvj420p",
               "yuvj422p", "yuvj444p", "yuvj440p", "yuvj411p", "nv12", "nv21", "gray")


@dataclass(frozen=True)
class GreyPlane:
    """A grey frame with the map to grey levels: ``level = (pixel - offset) * gain``."""

    pixels: np.ndarray  # [H, W] uint8 (or uint16 for depth)
    offset: float = 0.0
    gain: float = 1.0


class FrameDecodeError(Exception):
    """Frames could not be decoded; ``decoded`` counts those that were."""

    def __init__(self, message: str, decoded: int) -> None:
        super().__init__(message)
        self.decoded = decoded


def to_grey(frame: np.ndarray) -> np.ndarray:
    """RGB (or already single-channel) frame to one channel, no copy when already grey."""
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[:, :, 0]
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def mean_level(grey: np.ndarray) -> float:
    return float(cv2.mean(grey)[0])


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two same-sized grey frames (inf when the sizes differ)."""
    if a.shape != b.shape:
        return float("inf")
    return float(cv2.norm(a, b, cv2.NORM_L1)) / a.size


def blur_input(grey: np.ndarray, max_width: int = BLUR_MAX_WIDTH) -> np.ndarray:
    """The frame sharpness is measured on: scaled down to ``max_width`` (area average), never
    up, so the figure means the same for every camera resolution."""
    h, w = grey.shape[:2]
    if w <= max_width:
        return grey
    new_h = max(round(h * max_width / w), 1)
    return cv2.resize(grey, (max_width, new_h), interpolation=cv2.INTER_AREA)


def laplacian_variance(grey: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian (borders reflected), the usual focus measure.

    From the sum and the sum of squares of the 16-bit Laplacian, which is exact for 8-bit input
    and cheaper than a separate mean/deviation pass."""
    lap = cv2.Laplacian(grey, cv2.CV_16S)
    n = lap.size
    mean = cv2.sumElems(lap)[0] / n
    return max(float(cv2.norm(lap, cv2.NORM_L2SQR)) / n - mean * mean, 0.0)


#: Columns summed in 32-bit integers before being added to the 64-bit totals: a squared
#: 8-bit Laplacian is at most 1020², and 2048 of those stay below 2³¹.
_CHUNK = 2048


@njit(cache=True, nogil=True, inline="always")
def _span_sums(up: np.ndarray, left: np.ndarray, mid: np.ndarray, right: np.ndarray,
               dn: np.ndarray, pr: np.ndarray, col: np.ndarray
               ) -> tuple[np.int32, np.int32, np.int32, np.int32]:
    """Sums over one run of interior pixels (``left`` and ``right``: the same run shifted by
    one column): grey level, absolute change from ``pr`` and the 4-neighbour Laplacian and
    its square, in 32-bit integers; each pixel's change is also added to its column's total
    in ``col``. Every index starts at 0, so the loop vectorises."""
    a = np.int32(0)
    b = np.int32(0)
    c = np.int32(0)
    e = np.int32(0)
    for x in range(mid.shape[0]):
        v = np.int32(mid[x])
        a += v
        ch = abs(v - np.int32(pr[x]))
        b += ch
        col[x] += ch
        lap = (np.int32(up[x]) + np.int32(dn[x]) + np.int32(left[x]) + np.int32(right[x])
               - 4 * v)
        c += lap
        e += lap * lap
    return a, b, c, e


def block_edges(n: int, block: int) -> tuple[int, int]:
    """How a side of ``n`` pixels is cut into blocks of ``block``: the number of blocks and
    the size of the last one. Blocks are laid from the top-left corner; the 1 to
    ``block - 1`` pixels left over at the end join the last block (so it spans up to
    ``2 * block - 1``) rather than forming a thin block of their own, whose mean would rest on
    a few pixels where codec noise weighs most. A side shorter than ``block`` is one block."""
    nb = max(n // block, 1)
    return nb, n - (nb - 1) * block


@njit(cache=True, nogil=True)
def _figures(g: np.ndarray, prev: np.ndarray, block: int
             ) -> tuple[float, float, float, float]:
    """Mean, mean absolute change from ``prev``, the largest mean absolute change of a block
    (see :func:`block_edges`) and the Laplacian variance of ``g``.

    The change is summed per column over the rows of the current block row (one row of
    32-bit totals, each at most (2 * block - 1) * 255), and the columns are summed into blocks
    when the block row's last pixel row is done, so the per-pixel work stays in the vectorised
    run (summing 16-pixel runs one block at a time took twice as long)."""
    h, w = g.shape
    nbx = max(w // block, 1)
    nby = max(h // block, 1)
    col = np.zeros(w, np.int32)
    s = np.int64(0)
    d = np.int64(0)
    sl = np.int64(0)
    sl2 = np.int64(0)
    worst = 0.0
    for y in range(h):
        row = g[y]
        pr = prev[y]
        # borders reflected without repeating the edge (OpenCV's default, BORDER_REFLECT_101)
        up = g[y - 1] if y > 0 else g[min(1, h - 1)]
        dn = g[y + 1] if y < h - 1 else g[max(h - 2, 0)]
        for x0 in range(1, w - 1, _CHUNK):
            x1 = min(x0 + _CHUNK, w - 1)
            a, b, c, e = _span_sums(up[x0:x1], row[x0 - 1:x1 - 1], row[x0:x1],
                                    row[x0 + 1:x1 + 1], dn[x0:x1], pr[x0:x1], col[x0:x1])
            s += a
            d += b
            sl += c
            sl2 += e
        for k in range(2 if w > 1 else 1):  # the first and last columns
            x = 0 if k == 0 else w - 1
            v = np.int64(row[x])
            left = row[x - 1] if x > 0 else row[min(1, w - 1)]
            right = row[x + 1] if x < w - 1 else row[max(w - 2, 0)]
            lap = np.int64(up[x]) + np.int64(dn[x]) + np.int64(left) + np.int64(right) - 4 * v
            ch = abs(v - np.int64(pr[x]))
            s += v
            d += ch
            sl += lap
            sl2 += lap * lap
            col[x] += ch
        by = y // block
        if (by < nby - 1 and y == (by + 1) * block - 1) or y == h - 1:  # a block row is done
            rows = block if y < h - 1 else h - (nby - 1) * block
            for bx in range(nbx):
                x0 = bx * block
                x1 = x0 + block if bx < nbx - 1 else w
                t = np.int64(0)
                for x in range(x0, x1):
                    t += col[x]
                    col[x] = 0
                m = t / (rows * (x1 - x0))
                if m > worst:
                    worst = m
    n = h * w
    mean_lap = sl / n
    return s / n, d / n, worst, max(sl2 / n - mean_lap * mean_lap, 0.0)


def frame_figures(grey: np.ndarray, prev: np.ndarray | None = None,
                  block: int = BLOCK_PX) -> tuple[float, float, float, float]:
    """Mean grey level, mean absolute difference from ``prev``, the largest mean absolute
    difference of one ``block`` × ``block`` block (both inf without ``prev``, or when the sizes
    differ; blocks as in :func:`block_edges`) and Laplacian variance of an 8-bit grey frame, in
    one pass.

    The same figures as :func:`mean_level`, :func:`mean_abs_diff`,
    :func:`block_max_abs_diff` and :func:`laplacian_variance`, exactly, for about the cost of
    the Laplacian alone."""
    if grey.ndim != 2 or grey.dtype != np.uint8 or grey.size == 0:
        raise ValueError(f"frame_figures needs a non-empty 8-bit grey frame, not "
                         f"{grey.dtype}{list(grey.shape)}")
    if block < 1:
        raise ValueError(f"frame_figures needs a block of at least one pixel, not {block}")
    same = prev is not None and prev.shape == grey.shape and prev.dtype == grey.dtype
    g = np.ascontiguousarray(grey)  # a decoder's plane may have padded rows
    p = np.ascontiguousarray(prev) if same else g
    mean, diff, worst, lap = _figures(g, p, block)
    if not same:
        return float(mean), float("inf"), float("inf"), float(lap)
    return float(mean), float(diff), float(worst), float(lap)


@njit(cache=True, nogil=True)
def _block_max(a: np.ndarray, b: np.ndarray, block: int) -> float:
    h, w = a.shape
    nbx = max(w // block, 1)
    nby = max(h // block, 1)
    worst = 0.0
    for by in range(nby):
        y0 = by * block
        y1 = y0 + block if by < nby - 1 else h
        for bx in range(nbx):
            x0 = bx * block
            x1 = x0 + block if bx < nbx - 1 else w
            t = np.int64(0)
            for y in range(y0, y1):
                for x in range(x0, x1):
                    t += abs(np.int64(a[y, x]) - np.int64(b[y, x]))
            m = t / ((y1 - y0) * (x1 - x0))
            if m > worst:
                worst = m
    return worst


def block_max_abs_diff(a: np.ndarray, b: np.ndarray, block: int = BLOCK_PX) -> float:
    """The largest mean absolute difference of one block of two same-sized frames (blocks as
    in :func:`block_edges`; inf when the sizes differ). Any integer depth: depth frames use
    it on their 16-bit values."""
    if a.shape != b.shape or a.ndim != 2 or a.size == 0:
        return float("inf")
    if block < 1:
        raise ValueError(f"block_max_abs_diff needs a block of at least one pixel, not {block}")
    return float(_block_max(np.ascontiguousarray(a), np.ascontiguousarray(b), block))


def _plane_view(frame: VideoFrame) -> np.ndarray:
    """The decoder's luma plane as a [H, W] view (rows may be padded; no copy)."""
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(frame.height, plane.line_size)
    return rows[:, :frame.width]


def _decode_luma(path: Path) -> Iterator[GreyPlane]:
    import av

    try:
        container = av.open(str(path))
    except Exception as exc:  # PyAV raises its own error types (and OSError)
        raise FrameDecodeError(f"{path}: the video cannot be opened ({exc})", 0) from None
    n = 0
    try:
        if not container.streams.video:
            raise FrameDecodeError(f"{path}: the file holds no video stream", 0)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            fmt = frame.format.name
            if fmt in _LUMA_FIRST:
                full = fmt.startswith("yuvj") or fmt == "gray" or int(frame.color_range) == 2
                offset, gain = (0.0, 1.0) if full else (_TV_BLACK, _TV_GAIN)
                yield GreyPlane(_plane_view(frame), offset, gain)
            else:  # high bit depth or packed formats: let FFmpeg convert
                yield GreyPlane(frame.to_ndarray(format="gray"))
            n += 1
    except FrameDecodeError:
        raise
    except Exception as exc:  # a corrupt packet raises mid-stream
        raise FrameDecodeError(f"{path}: decoding failed at frame {n} ({exc})", n) from None
    finally:
        container.close()
    if n == 0:
        raise FrameDecodeError(f"{path}: no frame could be decoded", 0)


def iter_grey_planes(source: FrameSource, depth: bool = False) -> Iterator[GreyPlane]:
    """The frames of ``source`` as grey planes, one at a time, in order.

    A video file is decoded straight to its luma plane; other sources go through their
    ``iter_frames`` (depth frames stay 16-bit). Any failure is re-raised as
    :class:`FrameDecodeError` carrying how many frames were decoded before it."""
    if isinstance(source, VideoFrames) and not depth:
        try:
            yield from _decode_luma(Path(source.path))
            return
        except FrameDecodeError as exc:
            if exc.decoded:
                raise
            first_error = exc  # not a single frame: let the source's own decoder try
    else:
        first_error = None
    n = 0
    try:
        for frame in source.iter_frames():
            yield GreyPlane(to_grey(frame))
            n += 1
    except Exception as exc:  # readers and decoders raise many types; all mean "unreadable"
        if first_error is not None and n == 0:
            raise first_error from None
        raise FrameDecodeError(f"{source.describe()}: reading failed at frame {n} ({exc})",
                               n) from None
