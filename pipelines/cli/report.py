"""``embodiq report``: a self-contained HTML quality report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.common import QuietOpt, StoreOpt, fail, open_store, out, progress, shown
from pipelines.store import Store


def report(
    targets: Annotated[list[str], typer.Argument(
        help="A published dataset name, or recording files and folders.")],
    dest: Annotated[Path, typer.Option("--out", help="HTML file to write.")] =
    Path("report.html"),
    version: Annotated[int | None, typer.Option(help="Dataset version (default LATEST).")] =
    None,
    max_episodes: Annotated[int, typer.Option(
        help="Episodes plotted in detail, failing and lowest-scoring first; the rest are "
             "listed with their findings.")] = 20,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Write a self-contained HTML quality report (opens offline): episodes by grade, the
    checks that fail most, and each episode's trajectories with every finding marked where it
    happens."""
    from pipelines.processing.pool import REPORT_MODULES, preload_also

    st = open_store(store)
    is_dataset = (len(targets) == 1 and not Path(targets[0]).exists()
                  and targets[0] in st.dataset_names())
    # the workers load matplotlib while this process reads the data; a published dataset's
    # workers only draw figures, so they skip the reading and checking code
    preload_also(REPORT_MODULES, start=True, only=is_dataset)
    from pipelines.report import build_report
    from pipelines.store import StoreError

    if not is_dataset and not any(Path(t).exists() for t in targets):
        raise fail(f"'{' '.join(targets)}' is neither a published dataset in {st.datasets_dir} "
                   "nor a recording file or folder", 2)
    _check_out(dest, st, [] if is_dataset else [Path(t) for t in targets])
    try:
        with progress(not quiet, "report") as update:
            path = build_report(dest, store=st, name=targets[0] if is_dataset else None,
                                version=version,
                                paths=None if is_dataset else [Path(t) for t in targets],
                                max_episodes=max_episodes, on_progress=update)
    except StoreError as exc:
        raise fail(str(exc), 2) from None
    except OSError as exc:
        raise fail(f"{exc.filename or dest}: the report could not be written or read "
                   f"({exc.strerror or exc})", 1) from None
    out.print(f"report written to {shown(path)}", highlight=False)


def _check_out(dest: Path, st: Store, inputs: list[Path]) -> None:
    """Refuse an ``--out`` in the store (a published version's manifest, its report, the
    registry) or over a recording the report reads or the store registered: the report
    replaces its file. A report beside the recordings, in their folder, is welcome."""
    from pipelines.out_paths import overlap, registered_sources

    kept = [("the store", st.root, True)]
    kept += [("the recording", p, False) for p in [*inputs, *registered_sources(st)]]
    if (where := overlap(dest, kept)) is not None:
        raise fail(f"--out {where}; a report never writes there, choose a file outside the "
                   "store and the recordings", 2)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
