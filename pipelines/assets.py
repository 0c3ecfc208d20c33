"""Dagster assets: one partition per recording, then one published version per dataset.

``raw_recording`` → ``validated_episode`` → ``quality_report`` ⟶ (blocking ``quality_gate``)
⟶ ``curated_episode`` → ``published_dataset``. A recording that fails the gate is quarantined
by ``quality_report`` (nothing is lost) and never reaches ``curated_episode``.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at runtime.

import warnings
from collections import Counter
from dataclasses import dataclass

import dagster as dg
from dagster import AssetExecutionContext

from pipelines.processing import (
    Assessment,
    SourceRecord,
    curate,
    judge,
    load_source_record,
    quarantine,
    validate_source,
    verify_unchanged,
    write_report,
)
from pipelines.publish import publish
from pipelines.resources import EmbodiqResource
from schemas.findings import Finding

# Partitioned asset checks are a preview feature of Dagster; the gate relies on them knowingly.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")

recordings_partitions = dg.DynamicPartitionsDefinition(name="recordings")
datasets_partitions = dg.DynamicPartitionsDefinition(name="datasets")


@dataclass
class ValidatedEpisode:
    episode_uid: str
    readable: bool
    robot_model: str | None
    robot_uid: str | None
    structural_findings: list[Finding]


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


@dg.asset(partitions_def=recordings_partitions, group_name="ingest",
          description="A registered source recording: its files, size and sha256.")
def raw_recording(context: AssetExecutionContext, embodiq: EmbodiqResource) -> SourceRecord:
    rec = load_source_record(embodiq.store, context.partition_key)
    problems = verify_unchanged(rec)
    if problems:
        raise dg.Failure(
            description=f"{rec.display_name}: {'; '.join(problems)} — register it again",
            metadata={"path": rec.path})
    context.add_output_metadata({
        "path": dg.MetadataValue.path(rec.path), "size_bytes": rec.size,
        "sha256": rec.primary_sha256, "layout": rec.layout, "dataset": rec.dataset,
        "episode_uid": rec.episode_uid, "files": dg.MetadataValue.json(rec.files)})
    return rec


@dg.asset(partitions_def=recordings_partitions, group_name="ingest",
          description="The recording read and checked against the data-collection schema, "
                      "with its robot uid resolved or issued.")
def validated_episode(context: AssetExecutionContext, embodiq: EmbodiqResource,
                      raw_recording: SourceRecord) -> ValidatedEpisode:
    rec = raw_recording
    v = validate_source(rec.ref, embodiq.catalog(), embodiq.registry(), context.run.run_id,
                        embodiq.mapping_for(rec.mapping))
    ep = v.episode
    out = ValidatedEpisode(rec.episode_uid, ep is not None,
                           ep.metadata.robot_model if ep else None, v.robot_uid, v.findings)
    context.add_output_metadata({
        "readable": out.readable, "robot_model": out.robot_model or "",
        "robot_uid": out.robot_uid or "", "structural_findings": len(v.findings),
        "streams": ", ".join(sorted(ep.streams)) if ep else "",
        "cameras": ", ".join(sorted(ep.cameras)) if ep else "",
        "duration_s": round(ep.duration_s, 3) if ep else 0.0,
        "findings": _findings_table(v.findings), **_counts_md(v.findings)})
    return out


@dg.asset(partitions_def=recordings_partitions, group_name="ingest",
          description="Every quality check on the episode, its grade and score; a failing "
                      "recording is quarantined here with its findings.")
def quality_report(context: AssetExecutionContext, embodiq: EmbodiqResource,
                   raw_recording: SourceRecord, validated_episode: ValidatedEpisode
                   ) -> Assessment:
    rec = raw_recording
    profile = embodiq.profile()
    v = validate_source(rec.ref, embodiq.catalog(), embodiq.registry(), context.run.run_id,
                        embodiq.mapping_for(rec.mapping))
    a = judge(v, profile, episode_uid=rec.episode_uid, source_name=rec.display_name,
              source_path=rec.path, source_sha256=rec.primary_sha256, layout=rec.layout)
    report_path = write_report(embodiq.store, rec.dataset, a)
    md: dict[str, object] = {
        "grade": a.grade, "passed": a.passed, "quality_score": a.quality_score,
        "profile": a.profile_name, "report": dg.MetadataValue.path(str(report_path)),
        "errors": a.counts()["error"], "warnings": a.counts()["warning"],
        "infos": a.counts()["info"], "findings": _findings_table(a.findings),
        **_counts_md(a.findings)}
    if not a.passed:
        qdir = quarantine(embodiq.store, rec, a)
        md["quarantined_to"] = dg.MetadataValue.path(str(qdir))
        context.log.warning(f"{rec.display_name} failed the gate (grade F): quarantined to {qdir}")
    context.add_output_metadata(md)
    return a


@dg.asset_check(asset=quality_report, blocking=True, name="quality_gate",
                partitions_def=recordings_partitions,
                description="The quality gate: an episode with any error finding (grade F) "
                            "is blocked from curation and publishing.")
def quality_gate(quality_report: Assessment) -> dg.AssetCheckResult:
    a = quality_report
    errors = [f for f in a.findings if f.severity.value == "error"]
    return dg.AssetCheckResult(
        passed=a.passed, severity=dg.AssetCheckSeverity.ERROR,
        description=(f"grade {a.grade}, score {a.quality_score}" if a.passed else
                     f"grade F: {len(errors)} error(s), first: {errors[0].message}"),
        metadata={"grade": a.grade, "quality_score": a.quality_score,
                  "error_checks": dg.MetadataValue.json(sorted({f.check_id for f in errors}))})


@dg.asset(partitions_def=recordings_partitions, group_name="ingest",
          description="The passed episode on the dataset clock: frames table and re-timed "
                      "videos, staged for publishing.")
def curated_episode(context: AssetExecutionContext, embodiq: EmbodiqResource,
                    raw_recording: SourceRecord, quality_report: Assessment) -> dict:
    rec = raw_recording
    fps = embodiq.dataset_fps(rec.dataset)
    v = validate_source(rec.ref, embodiq.catalog(), None, None, embodiq.mapping_for(rec.mapping))
    if v.episode is None:
        raise dg.Failure(description=f"{rec.display_name}: could not be read again for curation")
    cur = curate(embodiq.store, rec.dataset, v.episode, rec.episode_uid, fps)
    if cur is None:
        raise dg.Failure(description=f"{rec.display_name}: its streams and cameras share no "
                                     "common time span, so no frame can be built")
    embodiq.fix_dataset_fps(rec.dataset, fps)
    context.add_output_metadata({
        "n_frames": cur.n_frames, "fps": cur.fps, "cameras": ", ".join(cur.cameras),
        "staged_at": dg.MetadataValue.path(cur.path),
        "max_alignment_error_ms": round(max(
            (r["max_error_ns"] for r in cur.resampling.values()), default=0) / 1e6, 3)})
    return {"episode_uid": cur.episode_uid, "n_frames": cur.n_frames, "path": cur.path}


@dg.asset(partitions_def=datasets_partitions, group_name="publish",
          deps=[dg.AssetDep(curated_episode, partition_mapping=dg.AllPartitionMapping())],
          description="An immutable published version of a dataset (manifest, episodes, "
                      "findings, frames, videos); LATEST names the newest.")
def published_dataset(context: AssetExecutionContext,
                      embodiq: EmbodiqResource) -> dg.MaterializeResult:
    name = context.partition_key
    res = publish(embodiq.store, name, embodiq.profile(), embodiq.dataset_fps(name),
                  run_id=context.run.run_id)
    grades = Counter()
    import pyarrow.parquet as pq

    ep = pq.read_table(res.path / "episodes.parquet", columns=["grade"]).column("grade")
    grades.update(ep.to_pylist())
    report = embodiq.store.reports_dir / name / f"{embodiq.store.version_name(res.version)}.html"
    if embodiq.write_report and (res.created or not report.is_file()):
        from pipelines.report import build_report

        build_report(report, store=embodiq.store, name=name, version=res.version,
                     max_episodes=10)
    return dg.MaterializeResult(metadata={
        "version": res.version, "new_version": res.created,
        **({"report": dg.MetadataValue.path(str(report))} if report.is_file() else {}),
        "path": dg.MetadataValue.path(str(res.path)), "episodes": res.episodes,
        "passed": res.passed, "failed": res.failed, "frames": res.frames,
        "grades": dg.MetadataValue.json(dict(sorted(grades.items()))),
        "dataset_findings": len(res.dataset_findings),
        "quarantine": dg.MetadataValue.path(str(embodiq.store.quarantine_dir))})


ingest_assets = [raw_recording, validated_episode, quality_report, curated_episode]
