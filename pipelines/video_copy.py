"""Publish a camera's video without re-encoding it when its frames already sit on the clock.

A sidecar video whose frame ``k`` is the frame nearest in time to row ``k`` of the episode's
frames table, for every row, is exactly what re-timing would produce; re-encoding it would
only cost time and add a generation of codec loss. Such a video is published as it is:

- **copied** byte for byte when it already is an MP4 holding that one video stream and no
  frame beyond the last row;
- **remuxed** (packets copied into a new MP4 container, nothing decoded or encoded) when it is
  another container, an MP4 with other streams besides (audio, data), or has frames after the
  last row (the camera stopped after another source did): those trailing packets are left
  out, which is only done when the packets are in presentation order (no frame reordering),
  so no kept frame refers to a dropped one.

Everything else (another rate, dropped frames, a camera that starts before the clock, a frame
count other than its timestamps', a codec MP4 cannot hold, a size other than the declared one)
is re-timed and re-encoded by :func:`pipelines.frames.write_camera_video`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from pipelines.frames import nearest_indices
from pipelines.store import atomic_copy, atomic_path
from schemas.episode import Camera
from schemas.frame_sources import VideoFrames

#: Codecs an MP4 holds and our readers decode (OpenCV, or PyAV's FFmpeg as the fallback).
MP4_CODECS = frozenset({"h264", "hevc", "mpeg4", "av1", "vp9"})
#: The largest distance between a frame's timestamp and its row's, in periods of the clock.
#: Nearest-frame re-timing never picks a frame further than this from its row either.
MAX_ERROR_PERIODS = 0.5

Mode = Literal["copy", "remux", "encode"]


@dataclass(frozen=True)
class StreamProbe:
    """What the container says about a video file, read without decoding a frame."""

    is_mp4: bool
    n_streams: int
    codec: str
    width: int
    height: int
    n_packets: int
    #: Packets come in presentation order (no B-frame reordering).
    in_order: bool


def on_clock(cam: Camera, grid_ns: np.ndarray, fps: float) -> bool:
    """Whether frame ``k`` of ``cam`` is row ``k``'s nearest frame for every row ``k`` (so
    frames ``0 .. n-1`` are used once each, in order; frames after the last row may remain),
    each within :data:`MAX_ERROR_PERIODS` of its row."""
    n = len(grid_ns)
    if n == 0 or cam.n_frames < n:
        return False
    ts = np.asarray(cam.timestamps, dtype=np.int64)
    if not np.array_equal(nearest_indices(ts, grid_ns), np.arange(n)):
        return False
    return bool(np.max(np.abs(ts[:n] - grid_ns)) <= MAX_ERROR_PERIODS * 1e9 / fps)


def probe_stream(path: Path) -> StreamProbe | None:
    """The container's view of ``path`` (None when it cannot be opened or holds no video).

    Packets are counted by demuxing only: one packet is one frame in the containers we
    accept, and a damaged file that demuxes short is re-encoded instead."""
    import av

    try:
        container = av.open(str(path))
    except Exception:  # PyAV raises its own error types (and OSError)
        return None
    try:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        n, in_order, last = 0, True, None
        for packet in container.demux(stream):
            if not packet.size:
                continue
            n += 1
            if packet.pts is None or (last is not None and packet.pts <= last):
                in_order = False
            last = packet.pts
        ctx = stream.codec_context
        # the codec's own name ("av1"), not the decoder FFmpeg picked for it ("libdav1d")
        codec = getattr(ctx.codec, "canonical_name", None) or ctx.name
        return StreamProbe("mp4" in container.format.name.split(","), len(container.streams),
                           codec, int(ctx.width), int(ctx.height), n, in_order)
    except Exception:  # a damaged packet: let re-encoding decide what can be published
        return None
    finally:
        container.close()


def publish_mode(cam: Camera, grid_ns: np.ndarray, fps: float) -> Mode:
    """How ``cam``'s video is published on the clock ``grid_ns``: copy, remux or encode."""
    if type(cam.frames) is not VideoFrames or cam.is_depth:  # whole sidecar files only
        return "encode"
    path = Path(cam.frames.path)
    if not path.is_file() or not on_clock(cam, grid_ns, fps):
        return "encode"
    probe = probe_stream(path)
    if (probe is None or probe.codec not in MP4_CODECS or probe.n_packets != cam.n_frames
            or (probe.width, probe.height) != (cam.width, cam.height)):
        return "encode"  # frame k of the file must be timestamp k, at the declared size
    trailing = cam.n_frames > len(grid_ns)
    if trailing:
        return "remux" if probe.in_order else "encode"
    if probe.is_mp4 and probe.n_streams == 1 and path.suffix.lower() == ".mp4":
        return "copy"
    return "remux"


def copy_video(src: Path, dst: Path) -> None:
    """``src`` byte for byte at ``dst``, atomically. The bytes only: the published file gets
    the store's own permissions and times, not the source's (often read-only)."""
    atomic_copy(src, dst, metadata=False)


def remux_video(src: Path, dst: Path, limit: int | None = None) -> int:
    """The first video stream of ``src`` into an MP4 at ``dst``, packets copied as they are
    (no decode, no encode), atomically: all of them, or the first ``limit``. Returns the
    number of packets (frames) written."""
    import av

    n = 0
    with atomic_path(dst, suffix=dst.suffix) as tmp, av.open(str(src)) as inp, \
            av.open(str(tmp), "w", format="mp4") as out:
        ins = inp.streams.video[0]
        # the codec parameters copied as they are, as FFmpeg's stream copy does: no encoder
        # is looked up (there is none for a decoder-only codec such as libdav1d)
        outs = out.add_stream_from_template(ins, opaque=True)
        for packet in inp.demux(ins):
            if not packet.size:  # the demuxer's final empty packet
                continue
            if limit is not None and n >= limit:
                break
            packet.stream = outs
            out.mux(packet)
            n += 1
    return n


def publish_without_encoding(cam: Camera, grid_ns: np.ndarray, fps: float,
                             path: Path) -> tuple[Mode, int]:
    """Copy or remux ``cam``'s video to ``path`` when :func:`publish_mode` allows; returns the
    mode and the frames written (0 with mode ``"encode"``: nothing was written)."""
    mode = publish_mode(cam, grid_ns, fps)
    src = cam.frames
    if not isinstance(src, VideoFrames):  # publish_mode encodes all but sidecar files
        return "encode", 0
    if mode == "copy":
        copy_video(Path(src.path), path)
        return mode, len(grid_ns)
    if mode == "remux":
        try:
            n = remux_video(Path(src.path), path, limit=len(grid_ns))
        except Exception:  # PyAV's errors vary; a stream MP4 refuses is simply re-encoded
            n = -1
        if n == len(grid_ns):
            return mode, n
        path.unlink(missing_ok=True)
    return "encode", 0
