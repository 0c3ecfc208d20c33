"""Plain Parquet export: one folder per split with a frames and an episodes table, and a card."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.export.card import dataset_card
from pipelines.export.frames_io import FramesReader
from pipelines.export.model import EpisodeSlice
from pipelines.store import PublishedVersion

#: A split's frames go to ``frames.parquet``, or to ``frames-NNNNN.parquet`` parts past this size.
PART_SIZE_MB = 512


class _PartWriter:
    """Frames of one split, in one file or (when large) numbered parts."""

    def __init__(self, folder: Path, kv: dict[bytes, bytes]) -> None:
        self.folder, self.kv = folder, kv
        self.writer: pq.ParquetWriter | None = None
        self.paths: list[Path] = []

    def write(self, t: pa.Table) -> None:
        if self.writer is not None and self.paths[-1].stat().st_size >= PART_SIZE_MB * 2**20:
            self.writer.close()
            self.writer = None
        if self.writer is None:
            self.paths.append(self.folder / f"frames-{len(self.paths):05d}.parquet")
            self.writer = pq.ParquetWriter(self.paths[-1], t.schema.with_metadata(self.kv),
                                           compression="zstd")
        self.writer.write_table(t.cast(self.writer.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if len(self.paths) == 1:  # the usual case gets the plain name
            self.paths[0].rename(self.folder / "frames.parquet")


def write_parquet(version: PublishedVersion, manifest: dict, slices: list[EpisodeSlice],
                  out: Path,
                  fps: float, on_progress=None, command: str = "") -> int:
    """Write the slices split by split into ``out``; returns the frame count."""
    fps_src = float(manifest["fps"])
    kinds = {n: s.get("kind") for n, s in manifest["features"]["streams"].items()}
    reader = FramesReader(version, kinds)
    episodes = version.episodes()
    by_split: dict[str, list[EpisodeSlice]] = {}
    for s in slices:
        by_split.setdefault(s.split, []).append(s)
    kv = {b"embodiq.dataset": manifest["name"].encode(),
          b"embodiq.version": str(manifest["version"]).encode()}
    total, done = 0, 0
    per_split: dict[str, int] = {}
    for split, group in by_split.items():
        folder = out / split
        folder.mkdir(parents=True)
        parts = _PartWriter(folder, kv)
        lengths: dict[str, int] = {}
        try:
            for s in group:
                if on_progress:
                    on_progress(s.label, done, len(slices))
                t = reader.episode(s, fps_src, fps)
                parts.write(t)
                lengths[s.uid] = t.num_rows
                done += 1
        finally:
            parts.close()
        per_split[split] = sum(lengths.values())
        total += per_split[split]
        _write_episodes(episodes, group, lengths, split, fps, folder, kv)
    (out / "export.json").write_text(json.dumps({
        "format": "embodiq.export", "export_format": "parquet",
        "dataset": manifest["name"], "version": manifest["version"],
        "profile": manifest.get("profile"), "fps": fps, "frames": total,
        "splits": {k: {"episodes": len(v), "frames": per_split[k]}
                   for k, v in by_split.items()},
        "streams": manifest["features"]["streams"], "command": command}, indent=2))
    (out / "README.md").write_text(dataset_card(manifest, slices, total, fps, command,
                                                "parquet", per_split))
    return total


def _write_episodes(episodes: pa.Table, group: list[EpisodeSlice], lengths: dict[str, int],
                    split: str, fps: float, folder: Path, kv: dict[bytes, bytes]) -> None:
    """The split's rows of ``episodes.parquet`` in export order, with exported counts."""
    uids = [s.uid for s in group]
    where = {u: i for i, u in enumerate(episodes.column("episode_uid").to_pylist())}
    ep = episodes.take(pa.array([where[u] for u in uids], type=pa.int64()))
    slices = {s.uid: s for s in group}
    n = ep.num_rows

    def put(t: pa.Table, name: str, arr: pa.Array) -> pa.Table:
        i = t.schema.get_field_index(name)
        return t.set_column(i, name, arr) if i >= 0 else t.append_column(name, arr)

    ep = put(ep, "n_frames", pa.array([lengths[u] for u in uids], type=pa.int64()))
    ep = put(ep, "fps", pa.array([fps] * n, type=pa.float64()))
    ep = put(ep, "duration_s", pa.array([lengths[u] / fps for u in uids], type=pa.float64()))
    ep = put(ep, "source_frame_start", pa.array([slices[u].start for u in uids], pa.int64()))
    ep = put(ep, "source_frame_stop", pa.array([slices[u].stop for u in uids], pa.int64()))
    ep = put(ep, "split", pa.array([split] * n, type=pa.string()))
    robots = sorted({slices[u].row["robot_uid"] for u in uids if slices[u].row["robot_uid"]})
    pq.write_table(ep.replace_schema_metadata({
        **kv, b"embodiq.episode_uids": json.dumps(uids).encode(),
        b"embodiq.robot_uids": json.dumps(robots).encode()}), folder / "episodes.parquet")
