"""Write recording format 1.0: one HDF5 file per episode, sidecar videos beside it.

The writer is used by the demo generator and test fixtures, and by anyone converting their own
data. It writes to a temporary name and renames, so a reader never sees half a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from schemas.episode import Camera, Episode

FORMAT = "embodiq.recording"
FORMAT_VERSION = "1.0"
_str = h5py.string_dtype("utf-8")


def _set_str(attrs: h5py.AttributeManager, key: str, value: str) -> None:
    attrs.create(key, value, dtype=_str)


def write_video(path: Path | str, frames: Iterable[np.ndarray], fps: float, width: int,
                height: int,
                fourcc: str = "mp4v") -> int:
    """Encode RGB frames to a video file with OpenCV; returns the number of frames written."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*fourcc), float(fps),
                             (int(width), int(height)))
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot open a '{fourcc}' video writer")
    n = 0
    done = False
    try:
        for frame in frames:
            if frame.ndim == 2:  # depth or grey: store as grey video
                frame = np.repeat((frame >> 8).astype(np.uint8)[..., None]
                                  if frame.dtype == np.uint16 else frame[..., None], 3, axis=2)
            writer.write(np.ascontiguousarray(frame[..., ::-1]))
            n += 1
        done = True
    finally:
        writer.release()
        if not done:
            tmp.unlink(missing_ok=True)
    os.replace(tmp, path)
    return n


def _write_camera(f: h5py.File, cam: Camera, folder: Path, chunk_frames: int) -> None:
    g = f.create_group(f"cameras/{cam.name}")
    g.create_dataset("timestamps", data=np.asarray(cam.timestamps, dtype=np.int64))
    _set_str(g.attrs, "encoding", cam.encoding)
    g.attrs["rate_hz"] = float(cam.rate_hz)
    g.attrs["width"] = int(cam.width)
    g.attrs["height"] = int(cam.height)
    if cam.mount:
        _set_str(g.attrs, "mount", cam.mount)
    if cam.intrinsics is not None:
        g.attrs["intrinsics"] = np.asarray(cam.intrinsics, dtype=np.float64)
    if cam.extrinsics is not None:
        g.attrs["extrinsics"] = np.asarray(cam.extrinsics, dtype=np.float64)
    if cam.frames is None:
        return
    if cam.encoding == "video":
        name = cam.video_path.name if cam.video_path else f"{cam.name}.mp4"
        write_video(folder / name, cam.frames.iter_frames(), cam.rate_hz, cam.width, cam.height)
        _set_str(g.attrs, "video", name)
        return
    n = cam.n_frames
    shape: tuple[int, ...]
    dtype: type[np.unsignedinteger[Any]]
    if cam.encoding == "depth16":
        shape, dtype = (n, cam.height, cam.width), np.uint16
    else:
        shape, dtype = (n, cam.height, cam.width, 3), np.uint8
    ds = g.create_dataset("frames", shape=shape, dtype=dtype,
                          chunks=(1, *shape[1:]) if n else None)
    buf: list[np.ndarray] = []
    i = 0
    for frame in cam.frames.iter_frames():
        if i + len(buf) >= n:
            break
        buf.append(frame)
        if len(buf) == chunk_frames:
            ds[i:i + len(buf)] = np.stack(buf)
            i += len(buf)
            buf.clear()
    if buf:
        ds[i:i + len(buf)] = np.stack(buf)


def write_recording(episode: Episode, path: Path | str, *, chunk_frames: int = 16) -> Path:
    """Write ``episode`` as a format 1.0 recording at ``path`` (sidecars in the same folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        _write_file(episode, tmp, path.parent, chunk_frames)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave a half-written file behind
        raise
    return path


def _write_file(episode: Episode, tmp: Path, folder: Path, chunk_frames: int) -> None:
    md = episode.metadata
    with h5py.File(tmp, "w") as f:
        _set_str(f.attrs, "format", FORMAT)
        _set_str(f.attrs, "format_version", FORMAT_VERSION)
        for key in ("robot_model", "robot_serial", "operator_id", "collection_mode", "task",
                    "site", "started_at", "robot_uid", "task_id", "scene"):
            val = getattr(md, key)
            if val is not None:
                _set_str(f.attrs, key, str(val))
        if md.success is not None:
            f.attrs["success"] = np.int64(1 if md.success else 0)
        for key, val in md.extra.items():
            if isinstance(val, str):
                _set_str(f.attrs, key, val)
            else:
                f.attrs[key] = val
        for s in episode.streams.values():
            g = f.create_group(f"streams/{s.name}")
            g.create_dataset("timestamps", data=np.asarray(s.timestamps, dtype=np.int64))
            g.create_dataset("values", data=np.asarray(s.values))
            _set_str(g.attrs, "kind", s.kind)
            g.attrs.create("names", list(s.names), dtype=_str)
            _set_str(g.attrs, "unit", s.unit)
            g.attrs["rate_hz"] = float(s.rate_hz)
            if s.space is not None:
                _set_str(g.attrs, "space", s.space)
        for cam in episode.cameras.values():
            _write_camera(f, cam, folder, chunk_frames)
        if episode.events:
            dt = np.dtype([("t_start", np.int64), ("t_end", np.int64), ("label", _str)])
            arr = np.array([(e.t_start, e.t_end, e.label) for e in episode.events], dtype=dt)
            f.create_dataset("events", data=arr)
