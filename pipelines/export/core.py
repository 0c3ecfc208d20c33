"""``export_dataset``: select, split and write one published version as a training set.

The formats live in their own modules; this one resolves the version, plans the episode slices,
and stages the output in a temporary folder renamed into place, so a failed export never
leaves a half-written training set where a previous one was.
"""

from __future__ import annotations

import math
import shlex
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from pipelines.export.model import ExportError, ExportSummary
from pipelines.export.select import (
    DEFAULT_WHERE,
    SPAN_COLUMNS,
    active_spans,
    check_where,
    plan_slices,
)
from pipelines.out_paths import overlap, real_path, registered_sources
from pipelines.store import Store, staged_dir

FORMATS = ("lerobot", "parquet")
Progress = Callable[[str, int, int], None]


def export_command(name: str, fmt: str, out: Path, *, version: int, where: str | None,
                   split: str, group_by: str | None, seed: int, fps: float | None,
                   trim_idle: bool, store: Path | None) -> str:
    """The ``embodiq export`` command line that makes this very export (version pinned)."""
    args = ["embodiq", "export", name, "--version", str(version), "--format", fmt,
            "--out", str(out), "--where", where or DEFAULT_WHERE, "--split", split,
            "--seed", str(seed)]
    if group_by:
        args += ["--group-by", group_by]
    if fps is not None:
        args += ["--fps", f"{fps:g}"]
    if trim_idle:
        args.append("--trim-idle")
    if store is not None:
        args += ["--store", str(store)]
    return shlex.join(args)


def check_out_is_apart(out: Path, store: Store, vdir: Path) -> None:
    """Refuse an ``--out`` that is, holds or lies inside the store, the version exported or a
    source recording; with ``--force`` it would be replaced, that is deleted."""
    kept = [("the published version", vdir, True), ("the store", store.root, True)]
    kept += [("the source recording", p, True) for p in registered_sources(store)]
    if (where := overlap(out, kept)) is not None:
        raise ExportError(f"--out {where}; an export never writes there, choose a folder "
                          "outside the store and the sources")


def _check_target(out: Path, force: bool) -> None:
    try:  # Parquet and LeRobot's metadata name their files as text
        str(out).encode("utf-8")
    except UnicodeEncodeError:
        shown = str(out).encode("utf-8", "backslashreplace").decode()
        raise ExportError(f"--out {shown}: the export's path must be UTF-8 text; choose "
                          "another folder") from None
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ExportError(f"--out {out} exists and is not empty; choose another folder or "
                          "pass --force to replace it")


def export_dataset(store: Store, name: str, fmt: str, out: Path | str, *,
                   version: int | None = None, where: str | None = None,
                   split: str = "train=1.0", group_by: str | None = None, seed: int = 0,
                   fps: float | None = None, trim_idle: bool = False, force: bool = False,
                   on_progress: Progress | None = None) -> ExportSummary:
    """Export ``version`` (default LATEST) of dataset ``name`` to the folder ``out``.

    ``fmt`` is ``"lerobot"`` (LeRobot v3.0) or ``"parquet"``; ``where`` a SQL filter over
    ``episodes.parquet`` (default ``passed``); ``split`` fractions such as
    ``"train=0.9,val=0.1"``. Raises :class:`ExportError` (or ``StoreError`` for an unknown
    dataset or version) with a one-sentence message.
    """
    from pipelines.export.lerobot_v3 import write_lerobot
    from pipelines.export.parquet_export import write_parquet

    writers = {"lerobot": write_lerobot, "parquet": write_parquet}
    if fmt not in writers:
        raise ExportError(f"--format '{fmt}' is not known (use {' or '.join(FORMATS)})")
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ExportError(f"--fps {fps:g} must be a positive number of frames per second")
    pv = store.version(name, version)
    check_where(where or DEFAULT_WHERE, pv.episodes_path)
    check_out_is_apart(Path(out), store, pv.dir)
    out = real_path(out)
    _check_target(out, force)
    try:
        manifest = pv.manifest()
    except (OSError, ValueError) as exc:
        raise ExportError(f"{pv.manifest_path} cannot be read ({exc})") from None
    episodes_path = pv.episodes_path
    episodes = pv.read_frame(episodes_path)
    spans = (active_spans(pv.read_frame(pv.findings_path, SPAN_COLUMNS))
             if trim_idle and store.is_file(pv.findings_path) else None)
    slices = plan_slices(episodes, episodes_path, where=where, split=split, seed=seed,
                         group_by=group_by, spans=spans)
    fps_out = float(fps) if fps is not None else float(manifest["fps"])
    command = export_command(name, fmt, out, version=int(manifest["version"]), where=where,
                             split=split, group_by=group_by, seed=seed, fps=fps,
                             trim_idle=trim_idle,
                             store=store.root)
    with staged_dir(out) as tmp:
        frames = writers[fmt](pv, manifest, slices, tmp, fps_out, on_progress=on_progress,
                              command=command)
    counts = Counter(s.split for s in slices)
    return ExportSummary(out=out, fmt=fmt, dataset=manifest["name"],
                         version=int(manifest["version"]), episodes=len(slices),
                         frames=frames, fps=fps_out, splits=dict(counts), command=command)
