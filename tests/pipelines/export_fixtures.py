"""Published versions for the export tests.

``demo_version``: the real demo dataset published by the pipeline (``pipelines.demo.run_demo``),
made once per test session. ``write_version``: a small version written by hand per the published
layout, for odd cases the demo does not have (idle spans, other rates, mixed robots). Its values
encode where they come from: ``joint_pos[k] = t_k * (j + 1) / 10`` (linear in time), ``action[k]
= k + 1000 j`` (the published frame index) and camera frame ``k`` is a flat grey of
``frame_grey(k)``, so a test can tell which published frame an exported one is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.store import Store

_DEMO: dict[str, Store] = {}


def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The store holding the published ``demo`` dataset (built on first use)."""
    if "store" not in _DEMO:
        from pipelines.demo import run_demo

        root = tmp_path_factory.mktemp("export-demo-store")
        summary = run_demo(root)
        assert summary.version == 1 and summary.counts["passed"] >= 4
        _DEMO["store"] = Store(root)
    return _DEMO["store"]


def frame_grey(k: int) -> int:
    return 20 + (k * 10) % 220


@dataclass
class HandEpisode:
    uid: str
    n_frames: int = 40
    passed: bool = True
    grade: str = "A"
    task: str = "pick up the cup"
    operator_id: str = "op_01"
    robot_model: str = "unitree-h1"
    robot_uid: str = "CNUNTRH100010000000H1A0000001"
    dof: int = 3
    idle_span_frames: tuple[int, int] | None = None  # active span as published frame indices
    cameras: tuple[str, ...] = ()
    streams: tuple[str, ...] = ("joint_pos", "action")
    started: int = 0  # minutes after a fixed time
    extra: dict = field(default_factory=dict)


T0_NS = 1_700_000_000_000_000_000
W, H = 32, 24


def write_version(store: Store, name: str, episodes: list[HandEpisode], fps: float = 20.0,
                  version: int = 1) -> Path:
    """Write ``datasets/<name>/v<version>/`` with the given episodes and point LATEST at it."""
    import cv2

    vdir = store.dataset_dir(name) / store.version_name(version)
    (vdir / "frames").mkdir(parents=True)
    dof = max(e.dof for e in episodes)
    rows, findings, frames = [], [], []
    base = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    for e in episodes:
        n = e.n_frames if e.passed else 0
        rows.append({
            "episode_uid": e.uid, "robot_uid": e.robot_uid, "robot_model": e.robot_model,
            "robot_serial": "S1", "operator_id": e.operator_id, "collection_mode": "teleop",
            "task": e.task, "task_id": e.task.replace(" ", "_"), "site": "lab-1",
            "scene": "kitchen", "started_at": base + timedelta(minutes=e.started),
            "success": True, "duration_s": (e.n_frames - 1) / fps, "n_frames": n, "fps": fps,
            "grade": e.grade, "quality_score": 97.0 if e.passed else 20.0, "passed": e.passed,
            "source_sha256": "0" * 64, "source_name": f"{e.uid}.h5", "layout": "embodiq",
            "ingested_at": base, "profile": "default", "t0_ns": T0_NS,
            "cameras": list(e.cameras) if e.passed else [], "n_findings_error": 0,
            "n_findings_warning": 0, "n_findings_info": 0, **e.extra})
        if e.idle_span_frames and e.passed:
            a, b = e.idle_span_frames
            findings.append({
                "episode_uid": e.uid, "check_id": "motion.idle", "severity": "info",
                "stream": "joint_pos", "value": 0.3, "threshold": 0.5,
                "t_start_ns": T0_NS + round(a * 1e9 / fps),
                "t_end_ns": T0_NS + round(b * 1e9 / fps), "message": "idle", "episode_uids": None})
        if not e.passed:
            continue
        k = np.arange(n)
        t = k / fps
        cols = {"episode_uid": pa.array([e.uid] * n), "frame_index": pa.array(k),
                "timestamp_ns": pa.array(np.round(k * 1e9 / fps).astype(np.int64))}
        pos = (t[:, None] * (np.arange(e.dof) + 1) / 10).astype(np.float32)
        act = (k[:, None] + 1000 * np.arange(e.dof)).astype(np.float32)
        for s, m in (("joint_pos", pos), ("action", act)):
            if s in e.streams:
                cols[s] = pa.FixedSizeListArray.from_arrays(pa.array(m.reshape(-1)), e.dof)
            else:
                cols[s] = pa.nulls(n, pa.list_(pa.float32(), dof))
        frames.append(pa.table(cols))
        for cam in e.cameras:
            p = vdir / "videos" / e.uid / f"{cam}.mp4"
            p.parent.mkdir(parents=True, exist_ok=True)
            w = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"mp4v"), fps, (W, H))
            for i in range(n):
                w.write(np.full((H, W, 3), frame_grey(i), np.uint8))
            w.release()
    schema = frames[0].schema
    pq.write_table(pa.concat_tables([f.cast(schema) for f in frames]),
                   vdir / "frames" / "part-00000.parquet")
    pq.write_table(pa.Table.from_pylist(rows), vdir / "episodes.parquet")
    fschema = pa.schema([("episode_uid", pa.string()), ("check_id", pa.string()),
                         ("severity", pa.string()), ("stream", pa.string()),
                         ("value", pa.float64()), ("threshold", pa.float64()),
                         ("t_start_ns", pa.int64()), ("t_end_ns", pa.int64()),
                         ("message", pa.string()), ("episode_uids", pa.list_(pa.string()))])
    pq.write_table(pa.Table.from_pylist(findings, schema=fschema), vdir / "findings.parquet")
    names = [f"j{i}" for i in range(dof)]
    cams = sorted({c for e in episodes for c in e.cameras})
    manifest = {
        "format": "embodiq.dataset", "format_version": "1.0", "name": name, "version": version,
        "created_at": base.isoformat(), "parent_version": None,
        "profile": {"name": "default", "digest": "0" * 64},
        "counts": {"episodes": len(episodes), "passed": sum(e.passed for e in episodes),
                   "failed": sum(not e.passed for e in episodes),
                   "frames": sum(e.n_frames for e in episodes if e.passed)},
        "fps": fps,
        "features": {
            "streams": {
                "action": {"kind": "action", "unit": "rad", "names": names, "dim": dof,
                           "space": "joint_position"},
                "joint_pos": {"kind": "joint_position", "unit": "rad", "names": names,
                              "dim": dof, "space": None}},
            "cameras": {c: {"width": W, "height": H, "encoding": "rgb8", "depth": False}
                        for c in cams}},
        "resampling": {}, "files": [], "sources": []}
    (vdir / "manifest.json").write_text(json.dumps(manifest))
    store.set_latest(name, version)
    return vdir
