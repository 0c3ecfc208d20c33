"""``embodiq export``: a published version as a training set (LeRobot v3.0 or plain Parquet)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.common import (
    QuietOpt,
    StoreOpt,
    check_fps,
    describe_os_error,
    fail,
    open_store,
    os_error_exit_code,
    out,
    progress,
    shown,
)


def export(
    name: Annotated[str, typer.Argument(help="Published dataset name.")],
    fmt: Annotated[str, typer.Option("--format", help="lerobot (LeRobot v3.0) or parquet.")],
    dest: Annotated[Path, typer.Option("--out", help="Folder to create (must be new or empty).")],
    version: Annotated[int | None, typer.Option(help="Version (default: LATEST).")] = None,
    where: Annotated[str | None, typer.Option(
        help="SQL filter over episodes.parquet columns, e.g. \"grade IN ('A','B')\" or "
             "\"passed AND duration_s > 5\" (default: passed; failed episodes have no "
             "frames; at most 2000 characters, 100 operators, 16 nested parentheses).")] = None,
    split: Annotated[str, typer.Option(
        help="Fractions by episode, e.g. train=0.9,val=0.1 or train=0.8,val=0.1,test=0.1.")]
    = "train=1.0",
    group_by: Annotated[str | None, typer.Option(
        help="Keep every episode of a group in one split (operator_id, scene, site, task…).")]
    = None,
    seed: Annotated[int, typer.Option(help="Seed of the split assignment.")] = 0,
    fps: Annotated[float | None, typer.Option(
        help="Resample to this rate, 1 to 1000 (linear for joint-space streams, nearest for "
             "actions and video).")] = None,
    trim_idle: Annotated[bool, typer.Option(
        "--trim-idle", help="Cut idle heads and tails (motion.idle findings).")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace a non-empty --out (never the store, nor a folder holding or "
                        "inside the store or a source recording).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Summary as JSON on stdout.")] = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Export a published version for training, with deterministic splits by episode."""
    from pipelines.export import ExportError, export_dataset
    from pipelines.store import StoreError

    check_fps(fps)
    st = open_store(store)
    try:
        with progress(not quiet and not as_json, "export") as update:
            summary = export_dataset(st, name, fmt, dest, version=version, where=where,
                                     split=split, group_by=group_by, seed=seed, fps=fps,
                                     trim_idle=trim_idle, force=force, on_progress=update)
    except (ExportError, StoreError) as exc:
        raise fail(str(exc), 2) from None
    except OSError as exc:
        if not exc.filename:
            exc.filename = str(dest)
        raise fail(describe_os_error(exc), os_error_exit_code(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(summary.to_dict()) + "\n")
    else:
        splits = ", ".join(f"{k} {v}" for k, v in summary.splits.items())
        out.print(f"exported {summary.episodes} episodes ({splits}), {summary.frames} frames at "
                  f"{summary.fps:g} fps from {summary.dataset} v{summary.version} as "
                  f"{summary.fmt} to {shown(summary.out)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
