"""LeRobot dataset folders as LeRobot writes them (v2.1 and v3.0 layouts, no videos), for
tests that need a real-shaped dataset of a given robot type, channel names and values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FPS = 30


SCALAR_FEATURES = {
    **{k: {"dtype": "int64", "shape": [1], "names": None}
       for k in ("frame_index", "episode_index", "index", "task_index")},
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
}


def _features(names: list[str]) -> dict:
    vec = {"dtype": "float32", "shape": [len(names)], "names": names}
    return {"observation.state": vec, "action": dict(vec), **SCALAR_FEATURES}


def episode_table(idx: int, start: int, state: np.ndarray, action: np.ndarray | None = None,
                  fps: float = FPS) -> pa.Table:
    """One episode's rows as LeRobot writes them (the action repeats the state unless given)."""
    vec = pa.list_(pa.float32(), state.shape[1])
    n = len(state)
    return pa.table({
        "observation.state": pa.array(list(state), type=vec),
        "action": pa.array(list(state if action is None else action), type=vec),
        "timestamp": pa.array(np.arange(n, dtype=np.float32) / fps),
        "frame_index": pa.array(np.arange(n)),
        "episode_index": pa.array(np.full(n, idx)),
        "index": pa.array(start + np.arange(n)),
        "task_index": pa.array(np.zeros(n, dtype=np.int64)),
    })


def write_v21(root: Path, robot_type: str, names: list[str], episodes: list[np.ndarray]) -> Path:
    """A LeRobot v2.1 folder as LeRobot writes it (one parquet per episode, no videos)."""
    (root / "meta").mkdir(parents=True)
    start = 0
    for i, state in enumerate(episodes):
        f = root / f"data/chunk-000/episode_{i:06d}.parquet"
        f.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(episode_table(i, start, state), f)
        start += len(state)
    info = {"codebase_version": "v2.1", "robot_type": robot_type, "fps": FPS,
            "total_episodes": len(episodes), "total_frames": start, "chunks_size": 1000,
            "splits": {"train": f"0:{len(episodes)}"},
            "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
            "video_path": None, "features": _features(names)}
    (root / "meta/info.json").write_text(json.dumps(info))
    (root / "meta/episodes.jsonl").write_text("".join(
        json.dumps({"episode_index": i, "tasks": ["pick the cube"], "length": len(s)}) + "\n"
        for i, s in enumerate(episodes)))
    (root / "meta/tasks.jsonl").write_text('{"task_index": 0, "task": "pick the cube"}\n')
    return root


def write_v30(root: Path, robot_type: str, names: list[str], episodes: list[np.ndarray]) -> Path:
    """A LeRobot v3.0 folder: every episode in one data file, episodes listed in parquet."""
    (root / "meta/episodes/chunk-000").mkdir(parents=True)
    tables, rows, start = [], [], 0
    for i, state in enumerate(episodes):
        tables.append(episode_table(i, start, state))
        rows.append({"episode_index": i, "tasks": ["pick the cube"], "length": len(state),
                     "data/chunk_index": 0, "data/file_index": 0,
                     "dataset_from_index": start, "dataset_to_index": start + len(state)})
        start += len(state)
    (root / "data/chunk-000").mkdir(parents=True)
    pq.write_table(pa.concat_tables(tables), root / "data/chunk-000/file-000.parquet")
    pq.write_table(pa.Table.from_pylist(rows), root / "meta/episodes/chunk-000/file-000.parquet")
    pq.write_table(pa.table({"task_index": [0], "task": ["pick the cube"]}),
                   root / "meta/tasks.parquet")
    info = {"codebase_version": "v3.0", "robot_type": robot_type, "fps": FPS,
            "total_episodes": len(episodes), "total_frames": start, "chunks_size": 1000,
            "splits": {"train": f"0:{len(episodes)}"},
            "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            "features": _features(names)}
    (root / "meta/info.json").write_text(json.dumps(info))
    return root
