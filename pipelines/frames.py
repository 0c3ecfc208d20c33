"""Put every stream and camera of an episode on one clock: the frames table and its videos.

The grid starts where the last stream or camera starts and ends where the first one ends, so
every row has data from every source; row ``k`` sits at ``t0 + k / fps``. The grid may hold at
most :data:`~schemas.limits.MAX_FRAMES_PER_SAMPLE` rows per sample of the densest source inside
that span: a clock finer than the data repeats samples, it must not build a long episode out of a
handful of them (20 samples 10^5 s apart would otherwise become 3,000,000 frames at 30 fps).

Resampling, recorded per stream in the manifest with the largest alignment error it leaves:

- ``linear``: measured continuous signals (joint positions, velocities, efforts, IMU,
  force/torque, tactile) are interpolated linearly between the two neighbouring samples;
- ``nearest``: commands and discrete or rotation-valued signals (actions, grippers, end-effector
  poses, ``other``) and camera frames take the nearest sample in time, so no value is invented.

A camera's video is re-encoded only when re-timing changes it: a sidecar already on the clock
is copied or remuxed as it is (:mod:`pipelines.video_copy`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.episode import Camera, Episode, Stream
from schemas.limits import FLOAT32_MAX, MAX_FRAMES_PER_SAMPLE, beyond_float32

#: The dataset clock of a dataset's first ingest when ``--fps`` is not given, frames per second.
DEFAULT_FPS = 30.0

LINEAR_KINDS = frozenset({"joint_position", "joint_velocity", "joint_effort", "imu",
                          "force_torque", "tactile"})


@dataclass
class Grid:
    t0_ns: int
    fps: float
    n: int

    @property
    def times_ns(self) -> np.ndarray:
        return self.t0_ns + np.round(np.arange(self.n) * (1e9 / self.fps)).astype(np.int64)


@dataclass
class ResampleInfo:
    method: str
    max_error_ns: int


@dataclass
class FramesResult:
    grid: Grid
    table: pa.Table
    resampling: dict[str, ResampleInfo] = field(default_factory=dict)


class NotCuratable(ValueError):
    """A passed episode the frames table cannot hold faithfully: quarantined with the reason."""

    def __init__(self, message: str, stream: str | None = None) -> None:
        super().__init__(message)
        self.stream = stream


class SparseSources(NotCuratable):
    """The dataset clock would need far more frames than the episode has samples."""


class BeyondFloat32(NotCuratable):
    """Finite values the frames table's float32 columns would turn into infinities."""


def _clocks(episode: Episode) -> list[np.ndarray]:
    return [s.timestamps for s in episode.streams.values() if s.n_samples] + \
        [c.timestamps for c in episode.cameras.values() if c.n_frames]


def make_grid(episode: Episode, fps: float) -> Grid | None:
    """The common grid, or None when the sources share no time span.

    Raises :class:`SparseSources` when the grid would hold more than ``MAX_FRAMES_PER_SAMPLE``
    rows per sample of the densest source inside the span (checked before anything is built).
    """
    clocks = _clocks(episode)
    if not clocks:
        return None
    t0 = max(int(ts[0]) for ts in clocks)
    t1 = min(int(ts[-1]) for ts in clocks)
    if t1 < t0:
        return None
    n = int(math.floor((t1 - t0) * fps / 1e9 + 1e-9)) + 1
    densest = max(int(np.searchsorted(ts, t1, side="right") - np.searchsorted(ts, t0))
                  for ts in clocks)
    if n > MAX_FRAMES_PER_SAMPLE * max(densest, 1):
        raise SparseSources(
            f"the dataset clock ({fps:g} fps) would need {n:,} frames for the "
            f"{(t1 - t0) / 1e9:,.1f} s its sources share, but its densest source has only "
            f"{densest:,} sample(s) there; curation builds at most {MAX_FRAMES_PER_SAMPLE} "
            "frames per sample present, so this episode is not curated")
    return Grid(t0, fps, n)


def nearest_indices(ts: np.ndarray, grid_ns: np.ndarray) -> np.ndarray:
    """Index of the sample nearest in time to each grid point (ties go to the earlier one)."""
    right = np.searchsorted(ts, grid_ns, side="left").clip(1, len(ts) - 1) if len(ts) > 1 \
        else np.zeros(len(grid_ns), dtype=np.int64)
    if len(ts) <= 1:
        return right
    left = right - 1
    pick_left = (grid_ns - ts[left]) <= (ts[right] - grid_ns)
    return np.where(pick_left, left, right)


def resample_stream(s: Stream, grid_ns: np.ndarray) -> tuple[np.ndarray, ResampleInfo]:
    ts = s.timestamps
    vals = np.asarray(s.values, dtype=np.float64)
    near = nearest_indices(ts, grid_ns)
    err = int(np.max(np.abs(ts[near] - grid_ns))) if len(grid_ns) else 0
    if s.kind in LINEAR_KINDS and len(ts) > 1:
        right = np.searchsorted(ts, grid_ns, side="left").clip(1, len(ts) - 1)
        left = right - 1
        span = (ts[right] - ts[left]).astype(np.float64)
        w = np.where(span > 0, (grid_ns - ts[left]) / np.where(span > 0, span, 1.0), 0.0)
        w = np.clip(w, 0.0, 1.0)[:, None]
        out = vals[left] * (1.0 - w) + vals[right] * w
        return _float32(s.name, out), ResampleInfo("linear", err)
    return _float32(s.name, vals[near]), ResampleInfo("nearest", err)


def _float32(name: str, vals: np.ndarray) -> np.ndarray:
    """``vals`` as the frames table stores them; raises :class:`BeyondFloat32` rather than
    publish an infinity for a finite value past ±3.4e38 (a corrupt file's 1e200). The reader
    already refuses such values; this is the backstop for episodes built by other means."""
    if (where := beyond_float32(vals)) is not None:
        row, col, value = where
        n = int(np.count_nonzero(np.isfinite(vals) & (np.abs(vals) > FLOAT32_MAX)))
        raise BeyondFloat32(
            f"{name}: {n} value(s) on the dataset clock lie beyond ±3.4e38, the range of the "
            f"published frames table's float32 columns, such as {value:.4g} (frame {row}, "
            f"column {col}); this episode is not curated", stream=name)
    return vals.astype(np.float32)


def frames_table(episode: Episode, episode_uid: str, fps: float) -> FramesResult | None:
    """The episode's rows of the frames table (None when its sources share no time span)."""
    grid = make_grid(episode, fps)
    if grid is None:
        return None
    g = grid.times_ns
    cols: dict[str, pa.Array] = {
        "episode_uid": pa.array([episode_uid] * grid.n, type=pa.string()),
        "frame_index": pa.array(np.arange(grid.n, dtype=np.int64)),
        "timestamp_ns": pa.array(g - grid.t0_ns),
    }
    info: dict[str, ResampleInfo] = {}
    for name in sorted(episode.streams):
        s = episode.streams[name]
        vals, info[name] = resample_stream(s, g)
        d = vals.shape[1]
        cols[name] = pa.FixedSizeListArray.from_arrays(pa.array(vals.reshape(-1)), d)
    for name, cam in episode.cameras.items():
        idx = nearest_indices(cam.timestamps, g)
        info[f"camera:{name}"] = ResampleInfo(
            "nearest", int(np.max(np.abs(cam.timestamps[idx] - g))) if grid.n else 0)
    return FramesResult(grid, pa.table(cols), info)


def resampled_frames(cam: Camera, grid: Grid) -> Iterator[np.ndarray]:
    """Stream ``cam``'s frames re-timed to ``grid`` (nearest frame), holding one at a time."""
    idx = nearest_indices(cam.timestamps, grid.times_ns)
    if cam.frames is None:
        return
    it = cam.frames.iter_frames()
    cur_i, cur = -1, None
    for want in idx:
        while cur_i < want:
            try:
                cur = next(it)
            except StopIteration:
                return  # fewer decoded frames than timestamps: stop, the caller counts
            cur_i += 1
        assert cur is not None  # the loop above ran: every index wanted is >= 0
        yield cur


def depth_to_grey(frame: np.ndarray) -> np.ndarray:
    """Depth in mm to an 8-bit grey picture (1 grey level = 16 mm, clipped at ~4 m)."""
    g = np.clip(frame // 16, 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def write_camera_video(cam: Camera, grid: Grid, path: Path) -> int:
    """``cam`` re-timed to ``grid`` as MP4 at ``path``; returns frames written.

    A sidecar video already on the clock (frame ``k`` is row ``k``'s nearest, one to one) is
    copied or remuxed as it is (:mod:`pipelines.video_copy`); any other is re-timed and
    encoded."""
    from pipelines.video_copy import publish_without_encoding
    from schemas.recording_writer import write_video

    mode, n = publish_without_encoding(cam, grid.times_ns, grid.fps, path)
    if mode != "encode":
        return n
    frames = resampled_frames(cam, grid)
    if cam.is_depth:
        frames = (depth_to_grey(f) for f in frames)
    return write_video(path, frames, grid.fps, cam.width, cam.height)


def write_table(table: pa.Table, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write a Parquet file atomically, with embodiq's key-value metadata."""
    if metadata:
        meta = dict(table.schema.metadata or {})
        meta.update({k.encode(): v.encode() for k, v in metadata.items()})
        table = table.replace_schema_metadata(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)
