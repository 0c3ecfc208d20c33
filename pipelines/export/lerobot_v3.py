"""LeRobot dataset format v3.0, written directly (LeRobot itself is not needed to write it).

Layout: ``meta/info.json``, ``meta/tasks.parquet``, ``meta/episodes/chunk-000/file-000.parquet``
(per-episode indices, video offsets, stats, and embodiq's ``robot_uid`` / ``episode_uid``),
``meta/stats.json``, ``data/chunk-000/file-000.parquet`` and one concatenated video per camera
``videos/observation.images.<camera>/chunk-000/file-000.mp4``. Episodes are ordered by split, so
each split is a contiguous range of episode indices as v3.0's ``splits`` expects.

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

from pipelines.export.core import EpisodeSlice, ExportError
from pipelines.export.frames_io import as_matrix, episode_table, video_frames

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
INDEX_FEATURES = {"timestamp": "float32", "frame_index": "int64", "episode_index": "int64",
                  "index": "int64", "task_index": "int64"}
IMAGE_SAMPLE_EVERY = 10


def feature_map(manifest: dict) -> dict[str, str]:
    """Published stream name -> LeRobot feature key."""
    streams = manifest["features"]["streams"]
    out: dict[str, str] = {}
    state = next((n for n, s in streams.items() if s.get("kind") == "joint_position"), None)
    action = next((n for n, s in streams.items() if s.get("kind") == "action"), None)
    for name in streams:
        if name == state:
            out[name] = "observation.state"
        elif name == action:
            out[name] = "action"
        else:
            out[name] = f"observation.{name}"
    if "observation.state" not in out.values() or "action" not in out.values():
        raise ExportError("a LeRobot export needs a joint_position and an action stream")
    return out


def _stats(x: np.ndarray) -> dict[str, Any]:
    x = x.astype(np.float64)
    return {"min": x.min(axis=0).tolist(), "max": x.max(axis=0).tolist(),
            "mean": x.mean(axis=0).tolist(), "std": x.std(axis=0).tolist(),
            "count": [int(x.shape[0])]}


def _image_stats(samples: list[np.ndarray]) -> dict[str, Any]:
    x = np.stack(samples).astype(np.float64) / 255.0  # [k, h, w, 3]
    per = x.reshape(-1, 3)

    def c(v):
        return [[[float(a)]] for a in v]

    return {"min": c(per.min(axis=0)), "max": c(per.max(axis=0)), "mean": c(per.mean(axis=0)),
            "std": c(per.std(axis=0)), "count": [len(samples)]}


def _aggregate(parts: list[dict[str, Any]]) -> dict[str, Any]:
    n = np.array([p["count"][0] for p in parts], dtype=np.float64)
    mean = np.array([p["mean"] for p in parts], dtype=np.float64)
    std = np.array([p["std"] for p in parts], dtype=np.float64)
    shape = (-1,) + (1,) * (mean.ndim - 1)
    w = n.reshape(shape) / n.sum()
    total_mean = (w * mean).sum(axis=0)
    var = (w * (std ** 2 + (mean - total_mean) ** 2)).sum(axis=0)
    return {"min": np.min([p["min"] for p in parts], axis=0).tolist(),
            "max": np.max([p["max"] for p in parts], axis=0).tolist(),
            "mean": total_mean.tolist(), "std": np.sqrt(var).tolist(),
            "count": [int(n.sum())]}


def _tasks_table(tasks: list[str]) -> pa.Table:
    """``meta/tasks.parquet`` as LeRobot reads it: task_index indexed by the task text."""
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


def write_lerobot(vdir: Path, manifest: dict, slices: list[EpisodeSlice], out: Path,
                  fps: float, on_progress=None, command: str = "") -> int:
    import cv2

    fps_src = float(manifest["fps"])
    fmap = feature_map(manifest)
    streams = manifest["features"]["streams"]
    cameras = {c: info for c, info in manifest["features"]["cameras"].items()
               if all(c in (s.row["cameras"] or []) for s in slices)}
    tasks = list(dict.fromkeys(s.row["task"] for s in slices))
    task_index = {t: i for i, t in enumerate(tasks)}

    data_dir = out / "data" / "chunk-000"
    data_dir.mkdir(parents=True)
    writers = {}
    for cam, info in cameras.items():
        p = out / "videos" / f"observation.images.{cam}" / "chunk-000" / "file-000.mp4"
        p.parent.mkdir(parents=True)
        w = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                            (int(info["width"]), int(info["height"])))
        if not w.isOpened():
            raise ExportError(f"{p}: OpenCV cannot write an MPEG-4 video here")
        writers[cam] = w

    ep_rows: list[dict[str, Any]] = []
    all_stats: dict[str, list[dict[str, Any]]] = {}
    index0 = 0
    data_writer = None
    dims: dict[str, int] = {}
    try:
        for ei, s in enumerate(slices):
            if on_progress:
                on_progress(s.row["source_name"] or s.uid, ei, len(slices))
            t = episode_table(vdir, s, fps_src, fps)
            n = t.num_rows
            cols: dict[str, pa.Array] = {}
            ep_stats: dict[str, dict[str, Any]] = {}
            for name, key in fmap.items():
                if name not in t.column_names:
                    raise ExportError(f"episode {s.uid} lacks stream '{name}'; export episodes "
                                      "of one robot model at a time (--where)")
                m = as_matrix(t.column(name))
                if dims.setdefault(key, m.shape[1]) != m.shape[1]:
                    raise ExportError(f"stream '{name}' has {m.shape[1]} columns in episode "
                                      f"{s.uid} but {dims[key]} before; export one robot model "
                                      "at a time (--where \"robot_model = '…'\")")
                cols[key] = pa.FixedSizeListArray.from_arrays(pa.array(m.reshape(-1)),
                                                              m.shape[1])
                ep_stats[key] = _stats(m)
            idx = {
                "timestamp": (np.arange(n) / fps).astype(np.float32),
                "frame_index": np.arange(n, dtype=np.int64),
                "episode_index": np.full(n, ei, dtype=np.int64),
                "index": np.arange(index0, index0 + n, dtype=np.int64),
                "task_index": np.full(n, task_index[s.row["task"]], dtype=np.int64),
            }
            for k, v in idx.items():
                cols[k] = pa.array(v)
                ep_stats[k] = _stats(v.reshape(-1, 1))
            table = pa.table(cols)
            if data_writer is None:
                data_writer = pq.ParquetWriter(data_dir / "file-000.parquet", table.schema)
            data_writer.write_table(table)
            from_ts = index0 / fps
            row: dict[str, Any] = {
                "episode_index": ei, "data/chunk_index": 0, "data/file_index": 0,
                "dataset_from_index": index0, "dataset_to_index": index0 + n,
            }
            for cam in cameras:
                samples = []
                for k, frame in enumerate(video_frames(vdir, s, cam, fps_src, fps)):
                    writers[cam].write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                    if k % IMAGE_SAMPLE_EVERY == 0:
                        samples.append(frame[::8, ::8])
                key = f"observation.images.{cam}"
                row.update({f"videos/{key}/chunk_index": 0, f"videos/{key}/file_index": 0,
                            f"videos/{key}/from_timestamp": from_ts,
                            f"videos/{key}/to_timestamp": from_ts + n / fps})
                ep_stats[key] = _image_stats(samples)
            row.update({"tasks": [s.row["task"]], "length": n, "meta/episodes/chunk_index": 0,
                        "meta/episodes/file_index": 0, "robot_uid": s.row["robot_uid"],
                        "episode_uid": s.uid, "split": s.split})
            for key, st in ep_stats.items():
                for stat, val in st.items():
                    row[f"stats/{key}/{stat}"] = val
                all_stats.setdefault(key, []).append(st)
            ep_rows.append(row)
            index0 += n
    finally:
        if data_writer is not None:
            data_writer.close()
        for w in writers.values():
            w.release()

    ep_dir = out / "meta" / "episodes" / "chunk-000"
    ep_dir.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(ep_rows), ep_dir / "file-000.parquet")
    pq.write_table(_tasks_table(tasks), out / "meta" / "tasks.parquet")
    stats = {k: _aggregate(v) for k, v in all_stats.items()}
    (out / "meta" / "stats.json").write_text(json.dumps(stats, indent=2))

    features: dict[str, Any] = {}
    for name, key in fmap.items():
        features[key] = {"dtype": "float32", "shape": [dims[key]],
                         "names": list(streams[name].get("names") or []) or None}
    for cam, info in cameras.items():
        h, w = int(info["height"]), int(info["width"])
        features[f"observation.images.{cam}"] = {
            "dtype": "video", "shape": [h, w, 3], "names": ["height", "width", "channels"],
            "info": {"video.height": h, "video.width": w, "video.codec": "mpeg4",
                     "video.pix_fmt": "yuv420p", "video.is_depth_map": bool(info.get("depth")),
                     "video.fps": fps, "video.channels": 3, "has_audio": False}}
    for k, dtype in INDEX_FEATURES.items():
        features[k] = {"dtype": dtype, "shape": [1], "names": None}
    splits: dict[str, str] = {}
    for i, s in enumerate(slices):
        lo = int(splits[s.split].split(":")[0]) if s.split in splits else i
        splits[s.split] = f"{lo}:{i + 1}"
    robot_types = sorted({s.row["robot_model"] for s in slices})
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot_types[0] if len(robot_types) == 1 else "mixed",
        "total_episodes": len(slices), "total_frames": index0, "total_tasks": len(tasks),
        "chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 500,
        "fps": fps, "splits": splits, "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if cameras else None, "features": features,
        "embodiq": {"dataset": manifest["name"], "version": manifest["version"],
                    "profile": manifest["profile"], "command": command},
    }
    (out / "meta" / "info.json").write_text(json.dumps(info, indent=2))
    return index0
