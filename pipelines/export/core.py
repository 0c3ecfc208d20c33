"""Selecting, splitting and writing an export; the formats live in their own modules."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.export.splits import SplitError, assign, parse_splits
from pipelines.store import Store, staged_dir


class ExportError(ValueError):
    """The export cannot be made as asked; the message says why in one sentence."""


@dataclass
class EpisodeSlice:
    """One selected episode, with the frame range kept (``--trim-idle``) and its split."""

    row: dict
    split: str
    start: int
    stop: int  # exclusive, in the published frames' indices

    @property
    def uid(self) -> str:
        return self.row["episode_uid"]


@dataclass
class ExportSummary:
    out: Path
    fmt: str
    episodes: int
    frames: int
    splits: dict[str, int] = field(default_factory=dict)
    command: str = ""


def _select(episodes: pl.DataFrame, where: str | None) -> pl.DataFrame:
    """Episodes matching ``where`` among those that passed the gate (only they have frames)."""
    try:
        chosen = episodes.filter(pl.sql_expr(where)) if where else episodes
    except Exception as exc:  # polars raises several types for bad SQL
        raise ExportError(f"--where '{where}' is not a valid filter over episodes.parquet "
                          f"columns ({str(exc).splitlines()[0]})") from None
    return chosen.filter(pl.col("passed"))


def _active_spans(vdir: Path) -> dict[str, tuple[int, int]]:
    f = pl.read_parquet(vdir / "findings.parquet")
    idle = f.filter(pl.col("check_id") == "motion.idle")
    return {r["episode_uid"]: (r["t_start_ns"], r["t_end_ns"])
            for r in idle.iter_rows(named=True) if r["episode_uid"]}


def plan_slices(vdir: Path, where: str | None, split_text: str, seed: int,
                group_by: str | None, trim_idle: bool) -> list[EpisodeSlice]:
    episodes = pl.read_parquet(vdir / "episodes.parquet")
    if group_by and group_by not in episodes.columns:
        raise ExportError(f"--group-by '{group_by}' is not a column of episodes.parquet "
                          f"(columns: {', '.join(episodes.columns)})")
    try:
        splits = parse_splits(split_text)
    except SplitError as exc:
        raise ExportError(str(exc)) from None
    chosen = _select(episodes, where)
    if chosen.height == 0:
        raise ExportError(f"--where '{where or 'passed'}' selects no episode that passed "
                          "the gate")
    spans = _active_spans(vdir) if trim_idle else {}
    out = []
    for row in chosen.iter_rows(named=True):
        key = str(row[group_by]) if group_by else row["episode_uid"]
        start, stop = 0, int(row["n_frames"])
        if row["episode_uid"] in spans and row["t0_ns"] is not None:
            a, b = spans[row["episode_uid"]]
            fps = row["fps"]
            start = max(int(np.floor((a - row["t0_ns"]) * fps / 1e9)), 0)
            stop = min(int(np.ceil((b - row["t0_ns"]) * fps / 1e9)) + 1, stop)
            if stop - start < 2:
                start, stop = 0, int(row["n_frames"])
        out.append(EpisodeSlice(row, assign(key, splits, seed), start, stop))
    order = {name: i for i, (name, _) in enumerate(splits)}
    out.sort(key=lambda s: (order[s.split], s.row["started_at"] or 0, s.uid))
    return out


def resample_index(n_src: int, fps_src: float, fps_dst: float) -> np.ndarray:
    """Source frame for each destination frame (nearest in time)."""
    if fps_dst == fps_src:
        return np.arange(n_src)
    n_dst = int(np.floor((n_src - 1) * fps_dst / fps_src + 1e-9)) + 1
    return np.minimum(np.round(np.arange(n_dst) * fps_src / fps_dst).astype(np.int64), n_src - 1)


def export_dataset(store: Store, name: str, fmt: str, out: Path, *, version: int | None = None,
                   where: str | None = None, split: str = "train=1.0", group_by: str | None = None,
                   seed: int = 0, fps: float | None = None, trim_idle: bool = False,
                   force: bool = False,
                   on_progress: Callable[[str, int, int], None] | None = None) -> ExportSummary:
    """Export version ``version`` (default LATEST) of dataset ``name`` to ``out``."""
    from pipelines.export.lerobot_v3 import write_lerobot
    from pipelines.export.parquet_export import write_parquet

    writers = {"lerobot": write_lerobot, "parquet": write_parquet}
    if fmt not in writers:
        raise ExportError(f"unknown format '{fmt}' (use lerobot or parquet)")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise ExportError(f"{out} exists and is not empty; choose another --out or pass --force")
    vdir = store.version_dir(name, version)
    manifest = json.loads((vdir / "manifest.json").read_text())
    if fps is not None and fps <= 0:
        raise ExportError("--fps must be a positive number")
    slices = plan_slices(vdir, where, split, seed, group_by, trim_idle)
    command = "embodiq " + " ".join(shlex.quote(a) for a in sys.argv[1:]) \
        if sys.argv and "embodiq" in Path(sys.argv[0]).name else ""
    with staged_dir(out) as tmp:
        frames = writers[fmt](vdir, manifest, slices, tmp, fps or float(manifest["fps"]),
                              on_progress=on_progress, command=command)
    if out.exists() and force:
        shutil.rmtree(out.with_name(f".{out.name}.old"), ignore_errors=True)
    counts: dict[str, int] = {}
    for s in slices:
        counts[s.split] = counts.get(s.split, 0) + 1
    return ExportSummary(out, fmt, len(slices), frames, counts, command)
