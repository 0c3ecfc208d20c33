"""``embodiq export``: a published version as a training set (LeRobot v3.0 or plain Parquet)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.common import QuietOpt, StoreOpt, fail, open_store, out, progress


def export(
    name: Annotated[str, typer.Argument(help="Published dataset name.")],
    fmt: Annotated[str, typer.Option("--format", help="lerobot or parquet.")],
    dest: Annotated[Path, typer.Option("--out", help="Folder to create.")],
    version: Annotated[int | None, typer.Option(help="Version (default: LATEST).")] = None,
    where: Annotated[str | None, typer.Option(
        help="SQL filter over episodes.parquet columns, e.g. \"grade IN ('A','B')\" "
             "(only episodes that passed the gate are exported).")] = None,
    split: Annotated[str, typer.Option(help="Fractions by episode, e.g. train=0.9,val=0.1.")]
    = "train=1.0",
    group_by: Annotated[str | None, typer.Option(
        help="Keep every episode of a group in one split (operator_id, scene, site…).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split assignment.")] = 0,
    fps: Annotated[float | None, typer.Option(help="Resample to this rate.")] = None,
    trim_idle: Annotated[bool, typer.Option(help="Cut idle heads and tails.")] = False,
    force: Annotated[bool, typer.Option(help="Replace a non-empty --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Summary as JSON.")] = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Export a published version for training, with deterministic splits by episode."""
    from pipelines.export import ExportError, export_dataset
    from pipelines.store import StoreError

    st = open_store(store)
    try:
        with progress(not quiet and not as_json, "export") as update:
            summary = export_dataset(st, name, fmt, dest, version=version, where=where,
                                     split=split, group_by=group_by, seed=seed, fps=fps,
                                     trim_idle=trim_idle, force=force, on_progress=update)
    except (ExportError, StoreError) as exc:
        raise fail(str(exc), 2) from None
    if as_json:
        sys.stdout.write(json.dumps({"out": str(summary.out), "format": summary.fmt,
                                     "episodes": summary.episodes, "frames": summary.frames,
                                     "splits": summary.splits}) + "\n")
    else:
        splits = ", ".join(f"{k} {v}" for k, v in summary.splits.items())
        out.print(f"exported {summary.episodes} episodes ({splits}), {summary.frames} frames "
                  f"as {summary.fmt} to {summary.out}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
