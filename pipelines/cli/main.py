"""``embodiq``: demo, ingest, check — plus every command module in this package."""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipelines.cli.common import (
    PlainErrorsGroup,
    QuietOpt,
    StoreOpt,
    check_fps,
    check_workers,
    err,
    fail,
    load_mapping_option,
    open_store,
    out,
    progress,
    shown,
    write_json,
)

app = typer.Typer(
    name="embodiq", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    cls=PlainErrorsGroup,
    help="Turn raw robot recordings into training data you can trust: validate, grade, "
         "stamp and publish.")

GRADE_STYLE = {"A": "green", "B": "yellow", "C": "dark_orange", "F": "bold red"}

DEFAULT_TIMEOUT = 300.0
WorkersOpt = Annotated[int | None, typer.Option(
    min=1, help="Worker processes reading recordings in parallel (default: one per core; "
                "at most 8 per core).")]
TimeoutOpt = Annotated[float, typer.Option(
    min=1.0, help="Seconds one recording may take in its worker (layout detection and "
                  "reading included) before it is stopped and reported as unreadable.")]
VerboseOpt = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Also print Dagster's run events (they are always kept in the "
                            "store's Dagster instance, visible in the UI).")]


def _quiet_libraries() -> None:
    logging.getLogger("dagster").setLevel(logging.ERROR)
    for name in ("dagster", "alembic", "numba"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore")


def _verbose_libraries() -> None:
    logging.getLogger("dagster").setLevel(logging.DEBUG)


def _outcome_text(o) -> str:
    if not o.run_ok:
        return f"[red]run failed: {shown(o.error or '')}[/]"
    if o.passed:
        return "passed"
    return f"quarantined ({shown(o.reason or 'failed the gate')})"


def _print_outcome(o) -> None:
    """One line per recording as its run finishes it."""
    style = GRADE_STYLE.get(o.grade or "F", "")
    out.print(f"{shown(o.source_name)}  [{style}]{o.grade or '?'}[/]  {_outcome_text(o)}",
              highlight=False, soft_wrap=True)


# ------------------------------------------------------------------------------- check
@app.command()
def check(
    paths: Annotated[list[Path], typer.Argument(help="Recording files or folders.")],
    profile: Annotated[str, typer.Option(help="Quality profile: a name or a .toml path.")] =
    "default",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    layout: Annotated[str | None, typer.Option(help="Force a source layout.")] = None,
    mapping: Annotated[Path | None, typer.Option(
        help="Mapping for other layouts: a .toml file or a shipped name.")] = None,
    fps: Annotated[float | None, typer.Option(help=(
        "The dataset clock ingest would use, 1 to 1000 (default 30): an episode whose samples "
        "are too few for it fails here as ingest would refuse it."))] = None,
    workers: WorkersOpt = None,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    worst: Annotated[int, typer.Option(
        min=0, help="How many of the worst episodes to rank (and, for LeRobot datasets, the "
                    "lerobot-edit-dataset command that drops them).")] = 10,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """The quality gate alone: grade recordings, publish nothing. Exit 0 all pass, 1 any fails."""
    from pipelines.processing.pool import preload_also

    preload_also((), start=True)  # the workers' imports start now, beside this process's own
    from pipelines.processing import (
        RecordingTask,
        dataset_findings,
        discover_guarded,
        robot_dirs,
        run_recordings,
    )
    from schemas.quality_profile import QualityProfileError, load_quality_profile

    check_fps(fps)
    check_workers(workers)
    try:
        prof = load_quality_profile(profile)
    except QualityProfileError as exc:
        raise fail(str(exc), 2) from None
    mapping_dict = None
    if mapping is not None:
        from pipelines.mapping import load_mapping

        try:
            mapping_dict = load_mapping(mapping)
        except (ValueError, OSError) as exc:
            raise fail(str(exc), 2) from None
    try:
        refs, unknown = discover_guarded(paths, layout=layout, workers=workers,
                                         timeout=timeout)
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    robots = robot_dirs(open_store(store))
    tasks = [RecordingTask(ref=ref, profile=prof, robots_dirs=robots, mapping=mapping_dict,
                           fps=fps) for ref in refs]
    # each outcome becomes its entry and digest as it arrives, and the assessment is dropped:
    # thousands of episodes never sit in memory twice
    entries: list = [None] * len(tasks)
    by_task: list = [None] * len(tasks)
    names: dict[tuple, list] = {}  # one list per distinct set of channel names, shared
    with progress(not quiet and not as_json, "checking") as update:
        update("", 0, len(tasks))
        for n, (i, o) in enumerate(run_recordings(tasks, workers=workers, timeout=timeout), 1):
            a, ref = o.assessment, refs[i]
            assert a is not None  # a check always comes back with a verdict, stopped or not
            if a.digest:
                for st in a.digest.get("streams", {}).values():
                    st["names"] = names.setdefault(tuple(st["names"]), st["names"])
            by_task[i] = a.digest or None
            entries[i] = {
                "source": str(ref.path) + (f"#{ref.episode_key}" if ref.episode_key else ""),
                "episode_uid": a.episode_uid or None, "grade": a.grade, "passed": a.passed,
                "quality_score": a.quality_score,
                "findings": [f.to_dict() for f in a.findings]}
            update(o.name, n, len(tasks))
    digests = [d for d in by_task if d is not None]
    del by_task
    for bad in unknown:
        entries.append({"source": str(bad.path), "episode_uid": None, "grade": "F",
                        "passed": False, "quality_score": 0.0,
                        "findings": [bad.finding().to_dict()]})
    ds = dataset_findings(digests, prof, workers=workers)
    doc: dict[str, Any] = {"episodes": entries, "dataset_findings": [
        {**f.to_dict(), "episode_uids": list(f.episode_uids or ())} for f in ds]}
    from pipelines.ranking import lerobot_delete_commands, rank_episodes

    doc["ranking"] = rank_episodes(entries, doc["dataset_findings"], limit=worst)
    layouts = {str(ref.path) + (f"#{ref.episode_key}" if ref.episode_key else ""): ref.layout
               for ref in refs}
    doc["lerobot_commands"] = lerobot_delete_commands(doc["ranking"], layouts)
    if as_json:  # one episode per line
        write_json(doc)
    else:
        _print_check(doc, quiet)
    if not entries:
        raise fail("no recordings found in the given paths", 2)
    raise typer.Exit(0 if all(e["passed"] for e in entries) else 1)


def _print_check(doc: dict, quiet: bool) -> None:
    table = Table(title="quality gate", show_lines=False)
    for col in ("source", "grade", "score", "errors", "warnings", "first problem"):
        table.add_column(col, overflow="fold")
    for e in doc["episodes"]:
        errs = [f for f in e["findings"] if f["severity"] == "error"]
        warns = [f for f in e["findings"] if f["severity"] == "warning"]
        first = (errs or warns or [{}])[0]
        style = GRADE_STYLE.get(e["grade"], "")
        table.add_row(shown(Path(e["source"]).name), f"[{style}]{e['grade']}[/]",
                      f"{e['quality_score']:.0f}", str(len(errs)), str(len(warns)),
                      shown(f"{first.get('check_id', '')}: {first.get('message', '')}")
                      if first else "")
    out.print(table)
    if not quiet:
        for e in doc["episodes"]:
            for f in e["findings"]:
                if f["severity"] in ("error", "warning"):
                    out.print(f"  {shown(Path(e['source']).name)}  \\[{f['severity']}] "
                              f"{f['check_id']}: {shown(f['message'])}", highlight=False)
        for f in doc["dataset_findings"]:
            if f["severity"] != "info":
                out.print(f"  dataset \\[{f['severity']}] {f['check_id']}: "
                          f"{shown(f['message'])}", highlight=False)
    n_fail = sum(1 for e in doc["episodes"] if not e["passed"])
    out.print(f"{len(doc['episodes'])} episode(s), {n_fail} failed the gate.")
    if doc.get("ranking") and not quiet:
        out.print("worst episodes (failed first, then by score; dataset warnings count):")
        for r in doc["ranking"]:
            style = GRADE_STYLE.get(r["grade"], "")
            name = r["source"].rsplit("/", 1)[-1]
            out.print(f"  {r['rank']:>2}. [{style}]{r['grade']}[/] {r['quality_score']:5.1f}  "
                      f"{shown(name)}  {shown(', '.join(r['reasons']))}", highlight=False,
                      soft_wrap=True)
        for cmd in doc.get("lerobot_commands", []):
            out.print("to drop them from the LeRobot dataset (a new dataset beside it; LeRobot "
                      "v3.0):", highlight=False)
            out.print(f"  {shown(cmd)}", highlight=False, soft_wrap=True)


# ------------------------------------------------------------------------------ ingest
def _start_workers_for_report() -> None:
    """Start the workers' fork server now, with the report's drawing code among what it
    loads: it imports all that while this process imports Dagster."""
    from pipelines.processing.pool import REPORT_MODULES, preload_also

    preload_also(REPORT_MODULES, start=True)


def _print_ingest(summary, quarantine: Path, quiet: bool) -> None:
    """The result; each recording's line was printed as its run finished it."""
    if not quiet:
        for path, qdir in summary.unrecognised:
            out.print(f"{shown(Path(path).name)}  [bold red]F[/]  " + (
                "quarantined (unreadable or not a recording)" if qdir else "not found"),
                highlight=False, soft_wrap=True)
        for o in summary.outcomes:
            if o.failed_at_publish:  # its line said "passed": the dataset check came later
                out.print(f"{shown(o.source_name)}  [bold red]F[/]  → quarantined at publish "
                          f"({shown(o.reason or 'a dataset check')})", highlight=False,
                          soft_wrap=True)
    if summary.version_path:
        c = summary.counts
        state = "new version" if summary.new_version else "unchanged, still"
        out.print(f"published {state} v{summary.version:04d} of '{summary.dataset}': "
                  f"{c.get('episodes', 0)} episodes ({c.get('passed', 0)} passed, "
                  f"{c.get('failed', 0)} quarantined), {c.get('frames', 0)} frames\n"
                  f"  dataset:    {shown(summary.version_path)}\n"
                  f"  quarantine: {shown(quarantine)}", highlight=False)
        if summary.report_path:
            out.print(f"  report:     {shown(summary.report_path)}", highlight=False)
    for e in dict.fromkeys(summary.run_errors):
        err.print(f"[red]run failed:[/] {shown(e)}", highlight=False)
    if summary.publish_error:
        err.print(f"[red]publish failed:[/] {shown(summary.publish_error, lines=True)}",
                  highlight=False)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Recording files or folders.")],
    dataset: Annotated[str, typer.Option(help="Dataset to publish into.")],
    profile: Annotated[str, typer.Option(help="Quality profile: a name or a .toml path.")] =
    "default",
    fps: Annotated[float | None, typer.Option(help="Clock of the frames table, 1 to 1000 "
                                              "(default: the dataset's, else 30).")] = None,
    layout: Annotated[str | None, typer.Option(help="Force a source layout.")] = None,
    mapping: Annotated[Path | None, typer.Option(
        help="Mapping for other layouts: a .toml file or a shipped name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Summary as JSON on stdout.")] = False,
    workers: WorkersOpt = None,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    executor: Annotated[str | None, typer.Option(
        help="in-process, or celery: each run's recordings processed in chunks by "
             "'embodiq worker' processes (default: celery when EMBODIQ_CELERY_BROKER is set).")
    ] = None,
    verbose: VerboseOpt = False,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Validate, stamp, quarantine and publish a new dataset version. Exit 0 when the run
    completed, whatever the grades."""
    from dataclasses import asdict

    _start_workers_for_report()
    from pipelines.runner import ingest as run_ingest
    from pipelines.store import StoreError
    from schemas.quality_profile import QualityProfileError, load_quality_profile

    _quiet_libraries()
    check_fps(fps)
    check_workers(workers)
    try:
        load_quality_profile(profile)
    except QualityProfileError as exc:
        raise fail(str(exc), 2) from None
    load_mapping_option(mapping)  # a bad --mapping is bad usage, as in check, not N failures
    if verbose:
        _verbose_libraries()
    st = open_store(store)
    try:
        with progress(not quiet and not as_json, "ingest") as update:
            summary = run_ingest(st, paths, dataset, profile=profile, fps=fps, layout=layout,
                                 mapping=mapping, on_progress=update, workers=workers,
                                 timeout=timeout, verbose=verbose, executor=executor,
                                 on_outcome=None if quiet or as_json else _print_outcome)
    except (StoreError, ValueError) as exc:
        raise fail(str(exc), 2) from None
    if as_json:
        sys.stdout.write(json.dumps(asdict(summary), indent=2, default=str) + "\n")
    else:
        _print_ingest(summary, st.quarantine_dir, quiet)
    if not summary.outcomes and not summary.unrecognised:
        raise fail("no recordings found in the given paths", 2)
    raise typer.Exit(1 if summary.run_failed else 0)


# -------------------------------------------------------------------------------- demo
@app.command()
def demo(store: StoreOpt = None, quiet: QuietOpt = False, workers: WorkersOpt = None,
         verbose: VerboseOpt = False) -> None:
    """Make synthetic recordings (some with planted defects) and run the whole pipeline."""
    check_workers(workers)
    _start_workers_for_report()
    from pipelines.demo import DATASET, run_demo

    _quiet_libraries()
    if verbose:
        _verbose_libraries()
    st = open_store(store)
    if not quiet:
        err.print(f"writing demo recordings to {st.inbox_dir / DATASET} and ingesting them "
                  "through Dagster…")
    with progress(not quiet, "demo") as update:
        summary = run_demo(st.root, on_progress=update, workers=workers, verbose=verbose,
                           on_outcome=None if quiet else _print_outcome)
    _print_ingest(summary, st.quarantine_dir, quiet)
    if not quiet:
        out.print("\nnext:\n"
                  f"  embodiq check {st.inbox_dir / DATASET} --json     # the gate alone\n"
                  f"  embodiq export demo --format lerobot --out demo-lerobot --store {st.root}\n"
                  f"  dagster UI:  make ui   (DAGSTER_HOME={st.dagster_home})", highlight=False)
    raise typer.Exit(1 if summary.run_failed else 0)


def _register_plugins() -> None:
    import pipelines.cli as pkg

    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if mod.name in ("main", "common"):
            continue
        module = importlib.import_module(f"pipelines.cli.{mod.name}")
        reg = getattr(module, "register", None)
        if callable(reg):
            reg(app)


_register_plugins()


def run() -> None:
    from robots.profile import ProfileError

    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except ProfileError as exc:  # a robot profile set that cannot be trusted: fix it first
        fail(str(exc), 2)
        sys.exit(2)
