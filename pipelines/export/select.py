"""Choosing the episodes of an export, their splits, their order and (optionally) their active span.

Selection is a SQL boolean expression over ``episodes.parquet`` evaluated by polars. Only episodes
that passed the gate have frames, so a selection that includes a failed episode is refused rather
than silently shrunk: the researcher learns that the filter does not mean what they thought.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

from pipelines.export.model import EpisodeSlice, ExportError
from pipelines.export.splits import SplitError, assign, parse_splits

DEFAULT_WHERE = "passed"
#: Fewer frames than this left after trimming means the active span is not usable; keep all.
MIN_TRIMMED_FRAMES = 2


def select_episodes(episodes: pl.DataFrame, where: str | None, source: Path) -> pl.DataFrame:
    """Rows of ``episodes`` matching ``where`` (default ``passed``); all must have passed."""
    expr = where if where and where.strip() else DEFAULT_WHERE
    try:
        chosen = episodes.filter(pl.sql_expr(expr))
    except Exception as exc:  # polars raises several types for bad SQL, unknown columns, types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"--where \"{expr}\" is not a valid filter over the columns of "
                          f"{source} ({reason})") from None
    failed = chosen.filter(~pl.col("passed").fill_null(False))
    if failed.height:
        names = [r["source_name"] or r["episode_uid"] for r in failed.head(3).iter_rows(named=True)]
        more = f" and {failed.height - 3} more" if failed.height > 3 else ""
        raise ExportError(
            f"--where \"{expr}\" selects {failed.height} episode(s) of {source} that failed the "
            f"quality gate ({', '.join(names)}{more}); failed episodes have no frames to export, "
            f"add \"AND passed\" to the filter")
    if chosen.height == 0:
        raise ExportError(f"--where \"{expr}\" selects no episode of {source}")
    return chosen


def active_spans(findings_path: Path) -> dict[str, tuple[int, int]]:
    """episode_uid -> the active span (recording clock, ns) of its ``motion.idle`` finding."""
    if not findings_path.is_file():
        return {}
    f = pl.read_parquet(findings_path, columns=["episode_uid", "check_id", "t_start_ns",
                                                 "t_end_ns"])
    idle = f.filter((pl.col("check_id") == "motion.idle") & pl.col("episode_uid").is_not_null()
                    & pl.col("t_start_ns").is_not_null() & pl.col("t_end_ns").is_not_null())
    return {r["episode_uid"]: (int(r["t_start_ns"]), int(r["t_end_ns"]))
            for r in idle.iter_rows(named=True)}


def trimmed_range(n_frames: int, fps: float, t0_ns: int | None,
                  span: tuple[int, int] | None) -> tuple[int, int]:
    """Published frame range ``[start, stop)`` covering the active span (whole episode if none).

    The span is on the recording's clock; ``t0_ns`` (the time of frame 0) brings it onto the
    frames table. The range is rounded outwards so the active motion is never cut.
    """
    if span is None or t0_ns is None or n_frames <= 0:
        return 0, n_frames
    a, b = span
    start = max(math.floor((a - t0_ns) * fps / 1e9 + 1e-9), 0)
    stop = min(math.ceil((b - t0_ns) * fps / 1e9 - 1e-9) + 1, n_frames)
    if stop - start < MIN_TRIMMED_FRAMES:
        return 0, n_frames
    return start, stop


def plan_slices(episodes: pl.DataFrame, source: Path, *, where: str | None, split: str,
                seed: int, group_by: str | None,
                spans: dict[str, tuple[int, int]] | None = None) -> list[EpisodeSlice]:
    """The selected episodes with their split and kept range, ordered split by split.

    Within a split, episodes are ordered by start time then uid, so an export is reproducible
    and, in LeRobot, each split is one contiguous range of episode indices.
    """
    if group_by and group_by not in episodes.columns:
        raise ExportError(f"--group-by '{group_by}' is not a column of {source} "
                          f"(columns: {', '.join(episodes.columns)})")
    try:
        fractions = parse_splits(split)
    except SplitError as exc:
        raise ExportError(f"--split: {exc}") from None
    chosen = select_episodes(episodes, where, source)
    slices = []
    for row in chosen.iter_rows(named=True):
        key = row["episode_uid"] if not group_by else \
            ("" if row[group_by] is None else str(row[group_by]))
        start, stop = trimmed_range(int(row["n_frames"]), float(row["fps"]), row["t0_ns"],
                                    (spans or {}).get(row["episode_uid"]))
        slices.append(EpisodeSlice(row, assign(key, fractions, seed), start, stop))
    order = {name: i for i, (name, _) in enumerate(fractions)}
    slices.sort(key=lambda s: (order[s.split], str(s.row.get("started_at") or ""), s.uid))
    empty = [s for s in slices if s.stop <= s.start]
    if empty:
        raise ExportError(f"episode {empty[0].uid} of {source} passed but has no frames in the "
                          "published frames table")
    return slices
