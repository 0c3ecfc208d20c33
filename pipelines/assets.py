"""Dagster assets: recordings processed in batches, then one published version per dataset.

``quality_report`` (checked by ``quality_gate``) → ``curated_episode``, partitioned by
recording, are materialized together by one multi-asset:
a run takes a batch of recordings (``BackfillPolicy.multi_run``; backfills from the UI are cut
into runs of at most :data:`BATCH_SIZE` recordings) and spreads them over a pool of worker
processes. Each recording is read once, by :func:`pipelines.processing.process_recording`,
the same function ``embodiq check`` uses. Every recording gets its own materializations and
gate result, so the UI shows each one; a recording that fails the gate is an expected outcome:
its gate check fails, it is quarantined, ``curated_episode`` is not materialized for it, and
the run succeeds. ``published_dataset`` then publishes one version per dataset.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at runtime.

import contextlib
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from pipelines.processing import (
    Assessment,
    RecordingOutcome,
    RecordingTask,
    SourceRecord,
    load_source_record,
    registry_problem,
    robot_dirs,
    run_recordings,
)
from pipelines.publish import publish
from pipelines.resources import EmbodiqResource
from robots.registry_backends import registry_url
from schemas.findings import Finding

# Partitioned asset checks are a preview feature of Dagster; the gate relies on them knowingly.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")

recordings_partitions = dg.DynamicPartitionsDefinition(name="recordings")
datasets_partitions = dg.DynamicPartitionsDefinition(name="datasets")

#: Most recordings one ingest run takes (backfills launched from the UI are cut to this).
BATCH_SIZE = 64

REPORT = dg.AssetKey("quality_report")
CURATED = dg.AssetKey("curated_episode")
GATE = "quality_gate"

_listeners: list[Callable[[RecordingOutcome], None]] = []


@contextlib.contextmanager
def outcomes_to(listener: Callable[[RecordingOutcome], None]) -> Iterator[None]:
    """Call ``listener`` with each recording's outcome as an in-process run finishes it."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def _findings_table(findings: list[Finding]) -> dg.TableMetadataValue:
    return dg.MetadataValue.table(
        records=[dg.TableRecord({
            "check_id": f.check_id, "severity": f.severity.value, "stream": f.stream or "",
            "value": "" if f.value is None else f"{f.value:.6g}",
            "t_start_ns": "" if f.t_start_ns is None else str(f.t_start_ns),
            "message": f.message[:300]}) for f in findings[:200]],
        schema=dg.TableSchema(columns=[
            dg.TableColumn(c, "string") for c in
            ("check_id", "severity", "stream", "value", "t_start_ns", "message")]),
    )


def _counts_md(findings: list[Finding]) -> dict[str, dg.MetadataValue]:
    by = Counter(f"{f.check_id} ({f.severity.value})" for f in findings)
    return {"findings_by_check": dg.MetadataValue.json(dict(sorted(by.items())))}


def _events(rec: SourceRecord, o: RecordingOutcome) -> Iterator[object]:
    """One recording's materializations and gate result, each on its own partition.

    Few events per recording on purpose: each is a write to the instance's database.
    """
    a = o.assessment
    if a is None:
        return
    key = rec.key
    counts = a.counts()
    md: dict[str, Any] = {
        "grade": a.grade, "passed": a.passed, "quality_score": a.quality_score,
        "profile": a.profile_name, "errors": counts["error"], "warnings": counts["warning"],
        "infos": counts["info"], "findings": _findings_table(a.findings),
        **_counts_md(a.findings),
        # the source as read: what it is, where it lies, what was found in it
        "path": dg.MetadataValue.path(rec.path), "size_bytes": rec.size,
        "sha256": rec.primary_sha256, "layout": rec.layout, "dataset": rec.dataset,
        "episode_uid": rec.episode_uid, "robot_model": str(a.metadata.get("robot_model") or ""),
        "robot_uid": a.robot_uid or "", "duration_s": round(a.duration_s, 3),
        "streams": ", ".join(sorted(s["name"] for s in a.streams)),
        "cameras": ", ".join(sorted(c["name"] for c in a.cameras)), "reads": o.reads}
    if o.report_path:
        md["report"] = dg.MetadataValue.path(o.report_path)
    if o.quarantined_to:
        md["quarantined_to"] = dg.MetadataValue.path(o.quarantined_to)
    yield dg.AssetMaterialization(REPORT, partition=key, metadata=md)
    r = _gate_result(a)
    yield dg.AssetCheckEvaluation(
        asset_key=REPORT, check_name=GATE, passed=r.passed, partition=key, blocking=False,
        severity=r.severity, description=r.description, metadata=r.metadata)
    cur = o.curated
    if cur is not None:
        yield dg.AssetMaterialization(CURATED, partition=key, metadata={
            "n_frames": cur.n_frames, "fps": cur.fps, "cameras": ", ".join(cur.cameras),
            "staged_at": dg.MetadataValue.path(cur.path),
            "max_alignment_error_ms": round(max(
                (r["max_error_ns"] for r in cur.resampling.values()), default=0) / 1e6, 3)})


#: Staged by the same step as the report (the episode is read once), and reported by it for
#: each recording that passed the gate; declared on its own so that a batch plans one
#: materialization per recording, not two.
curated_episode = dg.AssetSpec(
    CURATED, deps=[REPORT], partitions_def=recordings_partitions, group_name="ingest",
    description="The passed episode on the dataset clock: frames table and re-timed videos, "
                "staged for publishing. Materialized by ingest_recordings runs for each "
                "recording that passed the gate; never for one that failed it.")


def _gate_result(a: Assessment) -> dg.AssetCheckResult:
    errors = [f for f in a.findings if f.severity.value == "error"]
    return dg.AssetCheckResult(
        passed=a.passed, severity=dg.AssetCheckSeverity.ERROR,
        description=(f"grade {a.grade}, score {a.quality_score}" if a.passed else
                     f"grade F: {len(errors)} error(s), first: {errors[0].message}; "
                     "quarantined, not curated"),
        metadata={"grade": a.grade, "quality_score": a.quality_score,
                  "error_checks": dg.MetadataValue.json(sorted({f.check_id for f in errors}))})


@dg.multi_asset(
    name="ingest_recordings", group_name="ingest",
    partitions_def=recordings_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=BATCH_SIZE),
    specs=[
        dg.AssetSpec(REPORT, skippable=True, description=(
            "The registered recording (files verified against their sha256) read once and "
            "checked against the data-collection schema, its robot uid resolved or issued, "
            "every quality check run, graded and scored; a failing recording is quarantined "
            "with its findings.")),
    ],
)
def ingest_recordings(context: AssetExecutionContext, embodiq: EmbodiqResource):
    """Process the run's recordings (a batch of partitions) on the worker pool."""
    yield from ingest_keys(context, embodiq, context.partition_keys)


def ingest_keys(context: dg.OpExecutionContext | AssetExecutionContext,
                embodiq: EmbodiqResource, keys: list[str],
                workers: int | None = None) -> Iterator[object]:
    """Process ``keys`` on ``workers`` pool processes (default: the resource's), yielding each
    one's events; raise a failure naming the first recording that could not be processed. The
    in-process asset calls it for its whole batch, a distributed run for each chunk
    (:mod:`pipelines.executors`)."""
    store = embodiq.store
    if (problem := registry_problem(store)) is not None:  # the recordings stay unprocessed
        raise dg.Failure(description=f"{problem}; no recording was read")
    profile = embodiq.profile()
    robots = robot_dirs(store)
    tasks: list[RecordingTask] = []
    recs: list[SourceRecord] = []  # tasks[i] processes recs[i]
    errors: list[str] = []
    fps: dict[str, float] = {}
    for key in keys:
        try:
            rec = load_source_record(store, key)
        except FileNotFoundError as exc:
            errors.append(str(exc))
            continue
        if rec.dataset not in fps:
            fps[rec.dataset] = embodiq.dataset_fps(rec.dataset)
        recs.append(rec)
        tasks.append(RecordingTask(
            ref=rec.ref, profile=profile, robots_dirs=robots,
            mapping=embodiq.mapping_for(rec.mapping), rec=rec, store_root=store.url,
            fps=fps[rec.dataset], run_id=context.run.run_id,
            registry=registry_url() or str(store.registry_path)))
    workers = workers or embodiq.worker_count()
    context.log.info(f"processing {len(tasks)} recording(s) on {workers} worker(s)")
    for i, o in run_recordings(tasks, workers=workers,
                               timeout=embodiq.timeout_s):
        yield from _events(recs[i], o)
        if o.curated is not None:
            embodiq.fix_dataset_fps(recs[i].dataset, o.curated.fps)
        if o.error:
            errors.append(o.error)
            context.log.error(o.error)
        for listener in list(_listeners):
            listener(o)
    if errors:
        raise dg.Failure(description=f"{len(errors)} recording(s) could not be processed; "
                                     f"first: {errors[0]}")


@dg.asset_check(asset=REPORT, name=GATE, blocking=False, partitions_def=recordings_partitions,
                description="The quality gate: an episode with any error finding (grade F) is "
                            "quarantined, and neither curated nor published as passed. Each "
                            "ingest run reports it per recording; run on its own, it reads the "
                            "stored report again.")
def quality_gate(context: dg.AssetCheckExecutionContext,
                 embodiq: EmbodiqResource) -> dg.AssetCheckResult:
    store = embodiq.store
    rec = load_source_record(store, context.op_execution_context.partition_key)
    report = store.read_staged_report(rec.dataset, rec.episode_uid)
    if report is None:
        raise dg.Failure(description=f"{rec.display_name} has no quality report yet; "
                                     "materialize quality_report first")
    return _gate_result(Assessment.from_dict(report))


@dg.asset(partitions_def=datasets_partitions, group_name="publish",
          deps=[dg.AssetDep(CURATED, partition_mapping=dg.AllPartitionMapping())],
          description="An immutable published version of a dataset (manifest, episodes, "
                      "findings, frames, videos); LATEST names the newest.")
def published_dataset(context: AssetExecutionContext,
                      embodiq: EmbodiqResource) -> dg.MaterializeResult:
    name = context.partition_key
    res = publish(embodiq.store, name, embodiq.profile(), embodiq.dataset_fps(name),
                  run_id=context.run.run_id)
    grades = Counter(embodiq.store.read_episodes_table(name, res.version, ["grade"])
                     .column("grade").to_pylist())
    report = embodiq.store.report_html(name, res.version)
    if embodiq.write_report and (res.created or not report.is_file()):
        from pipelines.report import build_report

        # its figures are drawn on the ingest's worker pool (the same number of workers)
        build_report(report, store=embodiq.store, name=name, version=res.version,
                     max_episodes=10, workers=embodiq.worker_count())
    return dg.MaterializeResult(metadata={
        "version": res.version, "new_version": res.created,
        **({"report": dg.MetadataValue.path(str(report))} if report.is_file() else {}),
        "path": dg.MetadataValue.path(str(res.path)), "episodes": res.episodes,
        "passed": res.passed, "failed": res.failed, "frames": res.frames,
        "grades": dg.MetadataValue.json(dict(sorted(grades.items()))),
        "dataset_findings": len(res.dataset_findings),
        "quarantine": dg.MetadataValue.path(str(embodiq.store.quarantine_dir))})


asset_checks = [quality_gate]
