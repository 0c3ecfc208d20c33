"""LeRobot dataset format v3.0, written directly (LeRobot itself is not needed to write it).

Layout: ``meta/info.json``, ``meta/tasks.parquet``, ``meta/episodes/chunk-000/file-000.parquet``
(per-episode indices, video offsets, stats, and ``robot_uid`` / ``episode_uid`` / ``split``),
``meta/stats.json``, ``data/chunk-CCC/file-FFF.parquet`` and, per camera, concatenated videos
``videos/observation.images.<camera>/chunk-CCC/file-FFF.mp4``. A data or video file is closed
and the next one started once it passes ``data_files_size_in_mb`` / ``video_files_size_in_mb``,
never in the middle of an episode. Episodes are ordered by split, so each split is the
contiguous range of episode indices that v3.0's ``splits`` expects.

Feature mapping: the first ``joint_position`` stream is ``observation.state``, the first
``action`` stream is ``action``, every other stream is ``observation.<stream>``, and camera
``<c>`` is ``observation.images.<c>``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.export.card import dataset_card
from pipelines.export.frames_io import FramesReader, as_matrix, video_frames
from pipelines.export.model import EpisodeSlice, ExportError
from pipelines.export.video import VideoFile, even_size, pick_codec
from pipelines.store import PublishedVersion

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
CHUNKS_SIZE = 1000
DATA_FILES_SIZE_MB = 100
VIDEO_FILES_SIZE_MB = 500
INDEX_FEATURES = {"timestamp": "float32", "frame_index": "int64", "episode_index": "int64",
                  "index": "int64", "task_index": "int64"}
#: Image statistics are estimated from every n-th frame, downscaled (as LeRobot samples too).
IMAGE_SAMPLE_EVERY = 5
IMAGE_SAMPLE_STRIDE = 4


def feature_map(manifest: dict) -> dict[str, str]:
    """Published stream name -> LeRobot feature key."""
    streams = manifest["features"]["streams"]
    state = next((n for n, s in streams.items() if s.get("kind") == "joint_position"), None)
    action = next((n for n, s in streams.items() if s.get("kind") == "action"), None)
    if state is None or action is None:
        raise ExportError(f"dataset '{manifest['name']}' has no "
                          f"{'joint_position' if state is None else 'action'} stream, which a "
                          "LeRobot export needs for observation.state and action")
    out: dict[str, str] = {}
    for name in streams:
        key = {state: "observation.state", action: "action"}.get(name, f"observation.{name}")
        out[name] = key.replace("/", "_")
    return out


def _stats(x: np.ndarray) -> dict[str, Any]:
    x = x.astype(np.float64)
    return {"min": x.min(axis=0).tolist(), "max": x.max(axis=0).tolist(),
            "mean": x.mean(axis=0).tolist(), "std": x.std(axis=0).tolist(),
            "count": [int(x.shape[0])]}


def _image_stats(samples: list[np.ndarray]) -> dict[str, Any]:
    """Per-channel stats in [0, 1], shaped ``[3, 1, 1]`` as LeRobot keeps them."""
    per = np.concatenate([s.reshape(-1, 3) for s in samples]).astype(np.float64) / 255.0

    def c(v: np.ndarray) -> list:
        return [[[float(a)]] for a in v]

    return {"min": c(per.min(axis=0)), "max": c(per.max(axis=0)), "mean": c(per.mean(axis=0)),
            "std": c(per.std(axis=0)), "count": [len(samples)]}


def _aggregate(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Dataset stats from per-episode stats (pooled mean and variance)."""
    n = np.array([p["count"][0] for p in parts], dtype=np.float64)
    mean = np.array([p["mean"] for p in parts], dtype=np.float64)
    std = np.array([p["std"] for p in parts], dtype=np.float64)
    w = n.reshape((-1,) + (1,) * (mean.ndim - 1)) / n.sum()
    total_mean = (w * mean).sum(axis=0)
    var = (w * (std ** 2 + (mean - total_mean) ** 2)).sum(axis=0)
    return {"min": np.min([p["min"] for p in parts], axis=0).tolist(),
            "max": np.max([p["max"] for p in parts], axis=0).tolist(),
            "mean": total_mean.tolist(), "std": np.sqrt(var).tolist(),
            "count": [int(n.sum())]}


def _tasks_table(tasks: list[str]) -> pa.Table:
    """``meta/tasks.parquet`` as LeRobot reads it: ``task_index`` indexed by the task text."""
    pandas_meta = {
        "index_columns": ["__index_level_0__"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode",
                            "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
             "numpy_type": "int64", "metadata": None},
            {"name": None, "field_name": "__index_level_0__", "pandas_type": "unicode",
             "numpy_type": "object", "metadata": None}],
        "attributes": {}, "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.0"}
    t = pa.table({"task_index": pa.array(range(len(tasks)), type=pa.int64()),
                  "__index_level_0__": pa.array(tasks, type=pa.string())})
    return t.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})


class _Files:
    """Chunk/file indices of one kind of file, advanced when the current file is full."""

    def __init__(self, limit_mb: float) -> None:
        self.limit = limit_mb * 1024 * 1024
        self.chunk, self.file = 0, 0

    def advance(self) -> None:
        self.file += 1
        if self.file == CHUNKS_SIZE:
            self.chunk, self.file = self.chunk + 1, 0


class _DataFiles(_Files):
    def __init__(self, root: Path, limit_mb: float) -> None:
        super().__init__(limit_mb)
        self.root = root
        self.writer: pq.ParquetWriter | None = None
        self.path: Path | None = None

    def write(self, table: pa.Table) -> tuple[int, int]:
        """Write one episode; returns the (chunk, file) it went into."""
        if self.writer is not None and self.path is not None \
                and self.path.stat().st_size >= self.limit:
            self.writer.close()
            self.writer = None
            self.advance()
        if self.writer is None:
            self.path = self.root / DATA_PATH.format(chunk_index=self.chunk,
                                                     file_index=self.file)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table)
        return self.chunk, self.file

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class _VideoFiles(_Files):
    def __init__(self, root: Path, key: str, fps: float, width: int, height: int,
                 limit_mb: float) -> None:
        super().__init__(limit_mb)
        self.root, self.key, self.fps, self.size = root, key, fps, (width, height)
        self.video: VideoFile | None = None

    def start_episode(self) -> tuple[int, int, float]:
        """(chunk, file, from_timestamp) for the next episode."""
        if self.video is not None and self.video.size_bytes() >= self.limit:
            self.video.close()
            self.video = None
            self.advance()
        if self.video is None:
            path = self.root / VIDEO_PATH.format(video_key=self.key, chunk_index=self.chunk,
                                                 file_index=self.file)
            self.video = VideoFile(path, self.fps, *self.size)
        return self.chunk, self.file, self.video.duration_s

    @property
    def current(self) -> VideoFile:
        """The file the current episode goes into (after :meth:`start_episode`)."""
        if self.video is None:
            raise ExportError(f"video '{self.key}': no episode was started")
        return self.video

    def close(self) -> None:
        if self.video is not None:
            self.video.close()


def _common_cameras(manifest: dict, slices: list[EpisodeSlice]) -> dict[str, dict]:
    cams = manifest["features"].get("cameras") or {}
    missing = {c: s for c in cams for s in slices if c not in (s.row.get("cameras") or [])}
    return {c: info for c, info in cams.items() if c not in missing}


def write_lerobot(version: PublishedVersion, manifest: dict, slices: list[EpisodeSlice],
                  out: Path,
                  fps: float, on_progress=None, command: str = "") -> int:
    """Write the slices as a LeRobot v3.0 dataset into ``out``; returns the frame count."""
    fps_src = float(manifest["fps"])
    streams = manifest["features"]["streams"]
    fmap = feature_map(manifest)
    kinds = {n: s.get("kind") for n, s in streams.items()}
    cameras = _common_cameras(manifest, slices)
    tasks = list(dict.fromkeys(s.row["task"] or "" for s in slices))
    task_index = {t: i for i, t in enumerate(tasks)}
    reader = FramesReader(version, kinds)

    data = _DataFiles(out, DATA_FILES_SIZE_MB)
    videos = {cam: _VideoFiles(out, f"observation.images.{cam}", fps,
                               int(info["width"]), int(info["height"]), VIDEO_FILES_SIZE_MB)
              for cam, info in cameras.items()}
    ep_rows: list[dict[str, Any]] = []
    all_stats: dict[str, list[dict[str, Any]]] = {}
    dims: dict[str, int] = {}
    index0 = 0
    try:
        for ei, s in enumerate(slices):
            if on_progress:
                on_progress(s.label, ei, len(slices))
            t = reader.episode(s, fps_src, fps)
            n = t.num_rows
            cols: dict[str, pa.Array] = {}
            ep_stats: dict[str, dict[str, Any]] = {}
            for name, key in fmap.items():
                col = t.column(name) if name in t.column_names else None
                if col is None or col.null_count == n:
                    raise ExportError(f"episode {s.uid} ({s.label}) has no '{name}' stream; "
                                      "export episodes that share their streams, e.g. one robot "
                                      "model at a time (--where \"robot_model = '…' AND "
                                      "passed\")")
                m = as_matrix(col)
                if dims.setdefault(key, m.shape[1]) != m.shape[1]:
                    raise ExportError(f"stream '{name}' has {m.shape[1]} columns in episode "
                                      f"{s.uid} but {dims[key]} in earlier ones; export one "
                                      "robot model at a time (--where \"robot_model = '…' AND "
                                      "passed\")")
                cols[key] = pa.FixedSizeListArray.from_arrays(
                    pa.array(m.reshape(-1), type=pa.float32()), m.shape[1])
                ep_stats[key] = _stats(m)
            idx = {
                "timestamp": (np.arange(n) / fps).astype(np.float32),
                "frame_index": np.arange(n, dtype=np.int64),
                "episode_index": np.full(n, ei, dtype=np.int64),
                "index": np.arange(index0, index0 + n, dtype=np.int64),
                "task_index": np.full(n, task_index[s.row["task"] or ""], dtype=np.int64),
            }
            for k, v in idx.items():
                cols[k] = pa.array(v)
                ep_stats[k] = _stats(v.reshape(-1, 1))
            chunk, file = data.write(pa.table(cols))
            row: dict[str, Any] = {
                "episode_index": ei, "data/chunk_index": chunk, "data/file_index": file,
                "dataset_from_index": index0, "dataset_to_index": index0 + n,
            }
            for cam, files in videos.items():
                vchunk, vfile, from_ts = files.start_episode()
                samples, fi = [], -1
                for fi, frame in enumerate(video_frames(version, s, cam, fps_src, fps)):
                    files.current.write(frame)
                    if fi % IMAGE_SAMPLE_EVERY == 0:
                        samples.append(frame[::IMAGE_SAMPLE_STRIDE, ::IMAGE_SAMPLE_STRIDE, :3])
                if fi + 1 != n:
                    raise ExportError(f"camera '{cam}' of episode {s.uid} has {fi + 1} frames "
                                      f"where the frames table has {n}")
                key = files.key
                row.update({f"videos/{key}/chunk_index": vchunk,
                            f"videos/{key}/file_index": vfile,
                            f"videos/{key}/from_timestamp": from_ts,
                            f"videos/{key}/to_timestamp": files.current.duration_s})
                ep_stats[key] = _image_stats(samples)
            row.update({"tasks": [s.row["task"] or ""], "length": n,
                        "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
            for key, st in ep_stats.items():
                for stat, val in st.items():
                    row[f"stats/{key}/{stat}"] = val
                all_stats.setdefault(key, []).append(st)
            row.update({"robot_uid": s.row["robot_uid"], "episode_uid": s.uid,
                        "split": s.split, "robot_model": s.row["robot_model"],
                        "grade": s.row["grade"], "quality_score": s.row["quality_score"]})
            ep_rows.append(row)
            index0 += n
    finally:
        data.close()
        for files in videos.values():
            files.close()
    if on_progress:
        on_progress("metadata", len(slices), len(slices))

    meta = out / "meta"
    (meta / "episodes" / "chunk-000").mkdir(parents=True)
    stamp = {b"embodiq.dataset": manifest["name"].encode(),
             b"embodiq.version": str(manifest["version"]).encode(),
             b"embodiq.episode_uids": json.dumps([s.uid for s in slices]).encode(),
             b"embodiq.robot_uids": json.dumps(sorted({s.row["robot_uid"] for s in slices
                                                       if s.row["robot_uid"]})).encode()}
    episodes = pa.Table.from_pylist(ep_rows)
    pq.write_table(episodes.replace_schema_metadata(stamp),
                   meta / "episodes" / "chunk-000" / "file-000.parquet")
    pq.write_table(_tasks_table(tasks), meta / "tasks.parquet")
    stats = {k: _aggregate(v) for k, v in all_stats.items()}
    (meta / "stats.json").write_text(json.dumps(stats, indent=2))
    info = _info(manifest, slices, fmap, dims, cameras, tasks, index0, fps, command)
    (meta / "info.json").write_text(json.dumps(info, indent=2))
    (out / "README.md").write_text(dataset_card(manifest, slices, index0, fps, command,
                                                "lerobot"))
    return index0


def _info(manifest: dict, slices: list[EpisodeSlice], fmap: dict[str, str],
          dims: dict[str, int], cameras: dict[str, dict], tasks: list[str], frames: int,
          fps: float, command: str) -> dict[str, Any]:
    streams = manifest["features"]["streams"]
    features: dict[str, Any] = {}
    for name, key in fmap.items():
        names = list(streams[name].get("names") or [])
        features[key] = {"dtype": "float32", "shape": [dims[key]],
                         "names": names if len(names) == dims[key] else None}
    _, codec = pick_codec()
    for cam, cinfo in cameras.items():
        w, h = even_size(int(cinfo["width"]), int(cinfo["height"]))
        features[f"observation.images.{cam}"] = {
            "dtype": "video", "shape": [h, w, 3], "names": ["height", "width", "channels"],
            "info": {"video.height": h, "video.width": w, "video.codec": codec,
                     "video.pix_fmt": "yuv420p", "video.is_depth_map": bool(cinfo.get("depth")),
                     "video.fps": fps, "video.channels": 3, "has_audio": False}}
    for k, dtype in INDEX_FEATURES.items():
        features[k] = {"dtype": dtype, "shape": [1], "names": None}
    splits: dict[str, list[int]] = {}
    for i, s in enumerate(slices):
        splits.setdefault(s.split, [i, i + 1])[1] = i + 1
    robot_types = sorted({s.row["robot_model"] or "unknown" for s in slices})
    return {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot_types[0] if len(robot_types) == 1 else "+".join(robot_types),
        "total_episodes": len(slices), "total_frames": frames, "total_tasks": len(tasks),
        "chunks_size": CHUNKS_SIZE, "data_files_size_in_mb": DATA_FILES_SIZE_MB,
        "video_files_size_in_mb": VIDEO_FILES_SIZE_MB, "fps": fps,
        "splits": {k: f"{a}:{b}" for k, (a, b) in splits.items()},
        "data_path": DATA_PATH, "video_path": VIDEO_PATH if cameras else None,
        "features": features,
        "embodiq": {"dataset": manifest["name"], "version": manifest["version"],
                    "profile": manifest.get("profile"), "command": command,
                    "streams": {key: name for name, key in fmap.items()}},
    }
