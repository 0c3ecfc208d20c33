"""Run the Dagster definitions in-process against the store's persistent instance.

``embodiq ingest`` and ``embodiq demo`` go through here, so their runs, materializations and
asset-check results are recorded in ``<store>/dagster`` and show in the UI afterwards
(``make ui``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from pipelines.definitions import build_definitions
from pipelines.processing import SourceRecord, read_report, register_source, utc_now
from pipelines.publish import PublishError
from pipelines.sensors import INGEST_JOB, PUBLISH_JOB
from pipelines.sources import Unrecognised, discover
from pipelines.store import Store, atomic_copy, atomic_write_json, check_name
from schemas.recording import sha256_file

_DAGSTER_YAML = """\
# The orchestrator's state for this store (runs, events, schedules), local SQLite.
# For several machines, point storage at Postgres and use a Kubernetes run launcher.
telemetry:
  enabled: false
"""


def instance_for(store: Store) -> dg.DagsterInstance:
    """The store's persistent Dagster instance (created on first use)."""
    home = store.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.is_file():
        cfg.write_text(_DAGSTER_YAML)
    return dg.DagsterInstance.from_config(str(home))


@dataclass
class EpisodeOutcome:
    key: str
    source_name: str
    episode_uid: str
    grade: str | None
    passed: bool | None
    run_id: str
    run_ok: bool
    quarantined_to: str | None = None
    error: str | None = None


@dataclass
class IngestSummary:
    dataset: str
    outcomes: list[EpisodeOutcome] = field(default_factory=list)
    unrecognised: list[tuple[str, str]] = field(default_factory=list)  # (path, quarantine dir)
    version: int | None = None
    version_path: str | None = None
    report_path: str | None = None
    new_version: bool = False
    publish_error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def run_failed(self) -> bool:
        return any(not o.run_ok for o in self.outcomes) or self.publish_error is not None


def quarantine_unrecognised(store: Store, bad: Unrecognised) -> str | None:
    """A file no adapter reads is still kept: copied to quarantine with the reason."""
    p = bad.path
    if not p.is_file():
        return None
    sha = sha256_file(p)
    qdir = store.quarantine_path(sha)
    atomic_copy(p, store.contained(qdir / p.name))
    atomic_write_json(store.contained(qdir / "findings.json"), {
        "source": str(p), "source_sha256": sha, "quarantined_at": utc_now(),
        "grade": "F", "findings": [bad.finding().to_dict()]})
    return str(qdir)


def _first_error(result: dg.ExecuteInProcessResult) -> str | None:
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            err = getattr(ev.event_specific_data, "error", None)
            while err is not None and getattr(err, "cause", None) is not None:
                err = err.cause  # the user's error, not Dagster's wrapper around it
            msg = getattr(err, "message", None) or str(ev.message)
            return f"{ev.step_key}: {msg.strip().splitlines()[0]}" if msg else "step failed"
    return None


def ingest(store: Store, paths: Iterable[Path], dataset: str, *, profile: str = "default",
           fps: float | None = None, layout: str | None = None, mapping: Path | None = None,
           write_report: bool = True,
           on_progress: Callable[[str, int, int], None] | None = None) -> IngestSummary:
    """Register, validate, judge, quarantine or curate, then publish — through Dagster."""
    check_name(dataset)
    if mapping is not None:  # a bad mapping is a usage error, before any recording is read
        from pipelines.mapping import find_mapping, load_mapping

        mapping = find_mapping(mapping)  # a shipped name is recorded as the file it names
        load_mapping(mapping)
    store.ensure()
    refs, unknown = discover(paths, layout=layout)
    summary = IngestSummary(dataset=dataset)
    for bad in unknown:
        summary.unrecognised.append((str(bad.path), quarantine_unrecognised(store, bad) or ""))
    records: list[SourceRecord] = []
    for i, ref in enumerate(refs):
        if on_progress:
            on_progress(f"registering {ref.display_name}", i, len(refs))
        records.append(register_source(store, ref, dataset, mapping))
    instance = instance_for(store)
    defs = build_definitions(str(store.root), profile, fps, write_report)
    keys = list(dict.fromkeys(r.key for r in records))
    if keys:
        instance.add_dynamic_partitions("recordings", keys)
    job = defs.resolve_job_def(INGEST_JOB)
    by_key = {r.key: r for r in records}
    for i, key in enumerate(keys):
        rec = by_key[key]
        if on_progress:
            on_progress(f"checking {rec.display_name}", i, len(keys))
        result = job.execute_in_process(partition_key=key, instance=instance,
                                        raise_on_error=False, tags={"embodiq/dataset": dataset})
        report = store.staging_episode_dir(dataset, rec.episode_uid) / "report.json"
        a = read_report(report) if report.is_file() else None
        qdir = None
        if a is not None and not a.passed:
            qdir = str(store.quarantine_path(rec.primary_sha256))
        # a failing blocking gate is the expected outcome for a bad recording, not a run error
        err = _first_error(result)
        run_ok = a is not None and (a.passed is False or err is None)
        summary.outcomes.append(EpisodeOutcome(
            key, rec.display_name, rec.episode_uid, a.grade if a else None,
            a.passed if a else None, result.run_id, run_ok, qdir, None if run_ok else err))
    if on_progress:
        on_progress("publishing", len(keys), len(keys))
    if keys:
        instance.add_dynamic_partitions("datasets", [dataset])
        pub = defs.resolve_job_def(PUBLISH_JOB)
        result = pub.execute_in_process(partition_key=dataset, instance=instance,
                                        raise_on_error=False)
        if result.success:
            v = store.latest_version(dataset)
            summary.version = v
            vdir = store.version_dir(dataset, v)
            summary.version_path = str(vdir)
            man = json.loads((vdir / "manifest.json").read_text())
            summary.counts = man["counts"]
            mats = result.asset_materializations_for_node("published_dataset")
            summary.new_version = bool(mats and mats[-1].metadata["new_version"].value)
            if mats and "report" in mats[-1].metadata:
                summary.report_path = str(mats[-1].metadata["report"].value)
        else:
            summary.publish_error = _first_error(result) or "publish failed"
    return summary


__all__ = ["IngestSummary", "PublishError", "ingest", "instance_for"]
