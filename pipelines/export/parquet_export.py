"""Plain Parquet export: one folder per split with a frames and an episodes table, and a card."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.export.core import EpisodeSlice
from pipelines.export.frames_io import episode_table


def write_parquet(vdir: Path, manifest: dict, slices: list[EpisodeSlice], out: Path,
                  fps: float, on_progress=None, command: str = "") -> int:
    fps_src = float(manifest["fps"])
    episodes = pa.Table.from_pylist([]) if not slices else \
        pq.read_table(vdir / "episodes.parquet")
    by_split: dict[str, list[EpisodeSlice]] = {}
    for s in slices:
        by_split.setdefault(s.split, []).append(s)
    total = 0
    done = 0
    kv = {b"embodiq.dataset": manifest["name"].encode(),
          b"embodiq.version": str(manifest["version"]).encode()}
    for split, group in by_split.items():
        d = out / split
        d.mkdir(parents=True)
        writer = None
        lengths = {}
        for s in group:
            if on_progress:
                on_progress(s.row["source_name"] or s.uid, done, len(slices))
            t = episode_table(vdir, s, fps_src, fps)
            if writer is None:
                writer = pq.ParquetWriter(d / "frames.parquet",
                                          t.schema.with_metadata(kv), compression="zstd")
            writer.write_table(t.cast(writer.schema))
            lengths[s.uid] = t.num_rows
            total += t.num_rows
            done += 1
        if writer is not None:
            writer.close()
        uids = [s.uid for s in group]
        mask = pa.array([u in set(uids) for u in episodes.column("episode_uid").to_pylist()])
        ep = episodes.filter(mask)
        ep = ep.set_column(ep.schema.get_field_index("n_frames"), "n_frames",
                           pa.array([lengths[u] for u in ep.column("episode_uid").to_pylist()],
                                    type=pa.int64()))
        ep = ep.set_column(ep.schema.get_field_index("fps"), "fps",
                           pa.array([fps] * ep.num_rows, type=pa.float64()))
        ep = ep.append_column("split", pa.array([split] * ep.num_rows))
        pq.write_table(ep.replace_schema_metadata({
            **kv, b"embodiq.episode_uids": json.dumps(uids).encode()}), d / "episodes.parquet")
    (out / "README.md").write_text(card(manifest, slices, total, fps, command))
    return total


def card(manifest: dict, slices: list[EpisodeSlice], frames: int, fps: float,
         command: str) -> str:
    splits = Counter(s.split for s in slices)
    tasks = Counter(s.row["task"] for s in slices)
    robots = Counter(f"{s.row['robot_model']} ({s.row['robot_uid']})" for s in slices)
    grades = Counter(s.row["grade"] for s in slices)

    def table(title: str, c: Counter) -> str:
        rows = "\n".join(f"| {k} | {v} |" for k, v in c.most_common())
        return f"| {title} | episodes |\n|---|---|\n{rows}\n"

    return (
        f"# {manifest['name']} v{manifest['version']:04d} — training export\n\n"
        f"{len(slices)} episodes, {frames} frames at {fps:g} fps, exported from version "
        f"{manifest['version']} (quality profile `{manifest['profile']['name']}`).\n\n"
        f"Made with:\n\n```\n{command or '(the Python API)'}\n```\n\n"
        f"## Splits\n\n{table('split', splits)}\n## Tasks\n\n{table('task', tasks)}\n"
        f"## Robots\n\n{table('robot (uid)', robots)}\n## Grades\n\n{table('grade', grades)}\n"
        "## Layout\n\n`<split>/frames.parquet` holds one row per frame (`episode_uid`, "
        "`frame_index`, `timestamp_ns`, one list column per stream); "
        "`<split>/episodes.parquet` one row per episode with its metadata, grade and uids.\n"
    )
