"""The dataset card (``README.md``) of an export: counts, tasks, robots, grades, the command."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pipelines.export.model import EpisodeSlice

_LAYOUT = {
    "parquet": (
        "`<split>/frames.parquet` holds one row per frame: `episode_uid`, `frame_index` (from 0 "
        "in each episode), `timestamp_ns` (from the episode start) and one fixed-size list "
        "column per stream. `<split>/episodes.parquet` holds one row per episode with its "
        "metadata, grade, `robot_uid`, `episode_uid` and `split`. `export.json` records the "
        "source version and the export's parameters."),
    "lerobot": (
        "A LeRobot dataset, format v3.0: `meta/info.json` (features, fps, splits as episode "
        "index ranges), `meta/episodes/` (per-episode indices, video offsets, stats, "
        "`robot_uid`, `episode_uid`, `split`), `meta/tasks.parquet`, `meta/stats.json`, "
        "`data/` and `videos/`. Load it with "
        "`LeRobotDataset(repo_id, root=<this folder>)`."),
}


def _table(title: str, counts: Counter, total: Counter | None = None) -> str:
    head = f"| {title} | episodes |" + (" frames |" if total is not None else "")
    sep = "|---|---:|" + ("---:|" if total is not None else "")
    rows = [f"| {k} | {v} |" + (f" {total[k]} |" if total is not None else "")
            for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))]
    return "\n".join([head, sep, *rows]) + "\n"


def dataset_card(manifest: dict[str, Any], slices: list[EpisodeSlice], frames: int, fps: float,
                 command: str, fmt: str, frames_per_split: dict[str, int] | None = None) -> str:
    splits = Counter(s.split for s in slices)
    tasks = Counter(s.row["task"] or "(none)" for s in slices)
    robots = Counter(f"{s.row['robot_model']} `{s.row['robot_uid']}`" for s in slices)
    grades = Counter(s.row["grade"] for s in slices)
    operators = Counter(s.row.get("operator_id") or "(none)" for s in slices)
    profile = (manifest.get("profile") or {}).get("name", "?")
    return (
        f"# {manifest['name']} v{int(manifest['version']):04d}: training export\n\n"
        f"{len(slices)} episodes, {frames} frames at {fps:g} fps, exported as "
        f"{'LeRobot v3.0' if fmt == 'lerobot' else 'plain Parquet'} from version "
        f"{manifest['version']} of dataset `{manifest['name']}` (quality profile `{profile}`). "
        "Only episodes that passed the quality gate are included.\n\n"
        f"Made with:\n\n```bash\n{command}\n```\n\n"
        f"## Splits\n\n{_table('split', splits, Counter(frames_per_split) if frames_per_split else None)}\n"  # noqa: E501
        f"## Tasks\n\n{_table('task', tasks)}\n"
        f"## Robots\n\n{_table('robot model `robot_uid`', robots)}\n"
        f"## Grades\n\n{_table('grade', grades)}\n"
        f"## Operators\n\n{_table('operator', operators)}\n"
        f"## Layout\n\n{_LAYOUT[fmt]}\n"
    )
