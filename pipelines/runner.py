"""Run the Dagster definitions in-process against the store's persistent instance.

``embodiq ingest`` and ``embodiq demo`` go through here, so their runs, materializations and
asset-check results are recorded in ``<store>/dagster`` and show in the UI afterwards
(``make ui``). Recordings are found, registered and processed on a pool of worker processes
under a watchdog; Dagster runs take them in batches.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.instance_config import instance_yaml
from pipelines.processing import (
    DEFAULT_TIMEOUT_S,
    Assessment,
    RecordingOutcome,
    SourceRecord,
    default_workers,
    discover_guarded,
    quarantine_dir_for,
    register_guarded,
    registry_problem,
    utc_now,
)
from pipelines.processing.pool import REPORT_MODULES, preload_also, workers_problem
from pipelines.sources import Unrecognised
from pipelines.store import (
    PublishedVersion,
    Store,
    StoreError,
    atomic_write_bytes,
    check_name,
    file_lock,
)
from schemas.recording import sha256_file

if TYPE_CHECKING:
    import dagster as dg


def instance_for(store: Store) -> dg.DagsterInstance:
    """The store's persistent Dagster instance (created on first use).

    Opening it creates and stamps its SQLite databases when they are new; two processes doing
    that at once can stamp one database twice, which breaks every later run ("more than one
    head"). So it is opened under a lock in the store: the first opener creates, the others wait
    and then find the databases ready.
    """
    home = store.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    with file_lock(store.instance_lock):
        cfg = home / "dagster.yaml"
        # SQLite in the store, or PostgreSQL when EMBODIQ_POSTGRES_URL is set (the URL itself
        # stays in the environment): the file follows the configuration of this process
        want = instance_yaml(home)
        if not cfg.is_file() or cfg.read_text() != want:
            atomic_write_bytes(cfg, want.encode())
        import dagster as dg

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
    #: How often the recording was read in its run (the pipeline reads it once).
    reads: int = 0
    #: The first error finding's check id, for a recording that failed the gate.
    reason: str | None = None
    #: True when the recording passed its own gate but a dataset check failed it at publish.
    failed_at_publish: bool = False


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
    #: Ingest runs started (one per batch of recordings).
    runs: int = 0
    #: Why ingest runs failed, if any did.
    run_errors: list[str] = field(default_factory=list)

    @property
    def run_failed(self) -> bool:
        return (any(not o.run_ok for o in self.outcomes) or self.publish_error is not None
                or bool(self.run_errors))


def quarantine_unrecognised(store: Store, bad: Unrecognised, dataset: str) -> str | None:
    """A file no adapter reads is still kept: copied to quarantine with the reason, in the
    same layout as a rejected recording (one findings record per dataset)."""
    p = bad.path
    if p.is_symlink():  # never read through a link: the target may be anything, anywhere
        return _quarantine_link(store, bad, dataset)
    if not p.is_file():
        return None
    sha = sha256_file(p)
    qdir = quarantine_dir_for(store, {str(p): sha})
    dst = store.contained(qdir / p.name)
    if not (dst.is_file() and sha256_file(dst) == sha):
        store.put_file(p, dst)
    store.write_json(store.quarantine_record(qdir, dataset, None), {
        "source": str(p), "source_name": p.name, "source_sha256": sha, "files": {str(p): sha},
        "dataset": dataset, "quarantined_at": utc_now(), "grade": "F",
        "findings": [bad.finding().to_dict()]})
    return str(qdir)


def _quarantine_link(store: Store, bad: Unrecognised, dataset: str) -> str:
    """A symbolic link given as a recording: its record is kept, its target never read."""
    import hashlib
    import os

    from schemas.findings import Finding, Severity

    p = bad.path
    target = os.readlink(p)
    key = hashlib.sha256(f"symlink:{p}->{target}".encode()).hexdigest()
    qdir = quarantine_dir_for(store, {str(p): key})
    unsafe = Finding("schema.unsafe", Severity.ERROR,
                     f"{p.name} is a symbolic link to {target!r}; embodiq never reads through a "
                     "link, so its target was neither read nor copied")
    store.write_json(store.quarantine_record(qdir, dataset, None), {
        "source": str(p), "source_name": p.name, "link_target": target, "files": {},
        "not_copied": {str(p): "a symbolic link: its target is never read or copied"},
        "dataset": dataset, "quarantined_at": utc_now(), "grade": "F",
        "findings": [unsafe.to_dict(), bad.finding().to_dict()]})
    return str(qdir)


def _first_error(result: dg.ExecuteInProcessResult | dg.JobExecutionResult) -> str | None:
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            err = getattr(ev.event_specific_data, "error", None)
            while err is not None and getattr(err, "cause", None) is not None:
                err = err.cause  # the user's error, not Dagster's wrapper around it
            msg = getattr(err, "message", None) or str(ev.message)
            return f"{ev.step_key}: {msg.strip().splitlines()[0]}" if msg else "step failed"
    return None


def _failed_at_publish(store: Store, summary: IngestSummary, version: PublishedVersion,
                       manifest: dict, by_key: dict[str, SourceRecord]) -> None:
    """Episodes that passed the gate but that a dataset check failed when publishing (a
    duplicate) are failures like any other: their outcome says so, with their quarantine."""
    eps = version.episodes(["episode_uid", "grade", "passed"]).to_pylist()
    published = {r["episode_uid"]: r for r in eps}
    where = {s["episode_uid"]: s["quarantine"] for s in manifest.get("sources", [])
             if s.get("quarantine")}
    why: dict[str, str] = {}
    for f in version.findings(["episode_uid", "check_id", "severity"]).to_pylist():
        if f["severity"] == "error" and f["check_id"].startswith("dataset."):
            why.setdefault(f["episode_uid"], f["check_id"])
    for o in summary.outcomes:
        row = published.get(o.episode_uid)
        if o.passed and row is not None and row["passed"] is False:
            o.passed, o.grade, o.failed_at_publish = False, row["grade"], True
            o.reason = why.get(o.episode_uid, "a dataset check")
            o.quarantined_to = str(store.quarantine_path(where[o.episode_uid])
                                   if o.episode_uid in where
                                   else quarantine_dir_for(store, by_key[o.key].files))


def batches(keys: list[str], order: Sequence[str], size: int) -> list[list[str]]:
    """``keys`` cut into runs of at most ``size`` partitions, each a contiguous range of
    ``order`` (the instance's partition order), so a range run takes exactly these keys."""
    pos = {k: i for i, k in enumerate(order)}
    ranked = sorted(set(keys), key=lambda k: pos[k])
    out: list[list[str]] = []
    for k in ranked:
        cur = out[-1] if out else None
        if cur is not None and len(cur) < size and pos[k] == pos[cur[-1]] + 1:
            cur.append(k)
        else:
            out.append([k])
    return out


#: Console logging of in-process runs: Dagster's event lines stay in the instance (the UI)
#: unless asked for.
_QUIET_RUN = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _run_config(verbose: bool) -> dict:
    return {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}} if verbose else _QUIET_RUN


@dataclass
class _Orchestration:
    """The store's Dagster instance and the ingest's definitions, ready to run."""

    instance: Any
    defs: Any


def _orchestration(store: Store, profile: str, fps: float | None, write_report: bool,
                   workers: int, timeout: float) -> _Orchestration:
    from pipelines.definitions import build_definitions

    defs = build_definitions(store.url, profile, fps, write_report, workers, timeout)
    return _Orchestration(instance_for(store), defs)


def ingest(store: Store, paths: Iterable[Path], dataset: str, *, profile: str = "default",
           fps: float | None = None, layout: str | None = None, mapping: Path | None = None,
           write_report: bool = True,
           on_progress: Callable[[str, int, int], None] | None = None,
           on_outcome: Callable[[EpisodeOutcome], None] | None = None,
           workers: int | None = None, timeout: float = DEFAULT_TIMEOUT_S,
           batch_size: int | None = None, verbose: bool = False,
           executor: str | None = None, chunk_size: int | None = None) -> IngestSummary:
    """Register, validate, judge, quarantine or curate, then publish — through Dagster.

    Recordings go through Dagster in batches of ``batch_size`` per run, each batch spread over
    ``workers`` processes (default: one per core); a recording whose worker runs longer than
    ``timeout`` seconds is stopped and quarantined as unreadable. With ``executor="celery"``
    (the default when ``EMBODIQ_CELERY_BROKER`` is set) each run's recordings are processed in
    chunks of ``chunk_size`` by Celery workers instead (:mod:`pipelines.executors`). Results do
    not depend on the executor, the batch size or the number of workers.
    """
    check_name(dataset)
    from pipelines.executor_settings import check_executor

    distributed = check_executor(executor) == "celery"
    if mapping is not None:  # a bad mapping is a usage error, before any recording is read
        from pipelines.mapping import find_mapping, load_mapping

        mapping = find_mapping(mapping)  # a shipped name is recorded as the file it names
        load_mapping(mapping)
    if batch_size is not None and batch_size < 1:
        raise ValueError("batch size must be at least 1")
    if workers is not None and (why := workers_problem(workers, "workers")) is not None:
        raise ValueError(why)
    store.ensure()
    if (problem := registry_problem(store)) is not None:
        raise StoreError(f"{problem}; no recording was read")
    workers = workers or default_workers()
    if write_report:  # the report's figures are drawn on the workers: matplotlib loaded once
        preload_also(REPORT_MODULES)
    summary = IngestSummary(dataset=dataset)
    # Dagster is loaded, and the store's instance opened, while the workers find and register
    # the recordings (this process mostly waits on them meanwhile): that is a second or two of
    # every ingest's start-up taken off its critical path
    with ThreadPoolExecutor(1, thread_name_prefix="embodiq-orchestration") as background:
        prepared = background.submit(_orchestration, store, profile, fps, write_report,
                                     workers, timeout)
        if on_progress:
            on_progress("finding recordings", 0, 0)
        refs, unknown = discover_guarded(paths, layout=layout, workers=workers,
                                         timeout=timeout)
        if on_progress:
            on_progress("registering", 0, len(refs))
        records, unreadable = register_guarded(store, refs, dataset, mapping, workers=workers,
                                               timeout=timeout)
        for bad in [*unknown, *unreadable]:
            summary.unrecognised.append((str(bad.path),
                                         quarantine_unrecognised(store, bad, dataset) or ""))
        orchestration = prepared.result()
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )
    from dagster._core.utils import make_new_run_id

    from pipelines.assets import BATCH_SIZE, outcomes_to
    from pipelines.sensors import INGEST_JOB, PUBLISH_JOB

    if batch_size is None:
        from pipelines.executors import DISTRIBUTED_BATCH_SIZE

        batch_size = DISTRIBUTED_BATCH_SIZE if distributed else BATCH_SIZE
    instance, defs = orchestration.instance, orchestration.defs
    # the instance is closed when the ingest ends: its SQLite connections (kept open for
    # the run) are released and their write-ahead logs folded back into the databases
    try:
        keys = list(dict.fromkeys(r.key for r in records))
        if keys:
            instance.add_dynamic_partitions("recordings", keys)
        job: dg.JobDefinition = defs.resolve_job_def(INGEST_JOB)
        by_key = {r.key: r for r in records}
        done: dict[str, EpisodeOutcome] = {}
        run_id = ""

        def record(o: RecordingOutcome) -> None:
            if o.key not in by_key or o.key in done:
                return
            done[o.key] = _episode_outcome(store, by_key[o.key], o, run_id, None)
            if on_progress:
                on_progress(o.name, len(done), len(keys))
            if on_outcome:
                on_outcome(done[o.key])

        order = instance.get_dynamic_partitions("recordings") if keys else []
        if on_progress:
            on_progress("checking", 0, len(keys))
        if keys and write_report:  # ready for the report by the time the version is published
            import_in_background("pipelines.report")
        with outcomes_to(record):
            for batch in batches(keys, order, batch_size):
                tags = {"embodiq/dataset": dataset, ASSET_PARTITION_RANGE_START_TAG: batch[0],
                        ASSET_PARTITION_RANGE_END_TAG: batch[-1]}
                if distributed:  # the recordings' outcomes come from the run's events
                    from pipelines.executors import run_batch

                    run_id, err, outcomes = run_batch(
                        instance, store_root=str(store.root), quality_profile=profile, fps=fps,
                        write_report=write_report, timeout_s=timeout, chunk_size=chunk_size,
                        tags=tags, run_config=_run_config(verbose))
                    for o in outcomes:
                        record(o)
                else:
                    run_id = make_new_run_id()
                    result = job.execute_in_process(
                        instance=instance, raise_on_error=False, run_id=run_id,
                        run_config=_run_config(verbose), tags=tags)
                    err = None if result.success else (_first_error(result) or "run failed")
                summary.runs += 1
                if err:
                    summary.run_errors.append(err)
                for key in batch:
                    if key not in done:  # the run stopped before this recording was processed
                        done[key] = _episode_outcome(store, by_key[key], None, run_id, err)
                        if on_outcome:
                            on_outcome(done[key])
        summary.outcomes = [done[k] for k in keys]
        if on_progress:
            on_progress("publishing", len(keys), len(keys))
        if keys:
            instance.add_dynamic_partitions("datasets", [dataset])
            pub = defs.resolve_job_def(PUBLISH_JOB)
            result = pub.execute_in_process(partition_key=dataset, instance=instance,
                                            raise_on_error=False, run_config=_run_config(verbose))
            if result.success:
                mats = result.asset_materializations_for_node("published_dataset")
                # the version this run published (another ingest may have moved LATEST since)
                mv = mats[-1].metadata["version"].value if mats else None
                v = mv if isinstance(mv, int) else store.latest_version(dataset)
                summary.version = v
                published = store.version(dataset, v)
                summary.version_path = str(published.dir)
                man = published.manifest()
                summary.counts = man["counts"]
                _failed_at_publish(store, summary, published, man, by_key)
                summary.new_version = bool(mats and mats[-1].metadata["new_version"].value)
                if mats and "report" in mats[-1].metadata:
                    summary.report_path = str(mats[-1].metadata["report"].value)
            else:
                summary.publish_error = _first_error(result) or "publish failed"
    finally:
        instance.dispose()
    return summary


def import_in_background(module: str) -> threading.Thread:
    """Import ``module`` on a daemon thread, while this process mostly waits on its workers,
    so it is loaded when it is needed. An import error is ignored here: the real import, where
    the module is used, raises it again."""

    def run() -> None:
        with contextlib.suppress(Exception):
            importlib.import_module(module)

    thread = threading.Thread(target=run, name=f"import {module}", daemon=True)
    thread.start()
    return thread


def _episode_outcome(store: Store, rec: SourceRecord, o: RecordingOutcome | None, run_id: str,
                     run_error: str | None) -> EpisodeOutcome:
    """A recording's line in the summary: from its outcome, else from its staged report."""
    a = o.assessment if o is not None else None
    if a is None and o is None:
        report = store.read_staged_report(rec.dataset, rec.episode_uid)
        a = Assessment.from_dict(report) if report is not None else None
    error = (o.error if o is not None else None) or run_error
    if a is None and error is None:
        error = "no quality report was written"
    first = next((f.check_id for f in (a.findings if a else [])
                  if f.severity.value == "error"), None)
    return EpisodeOutcome(
        rec.key, rec.display_name, rec.episode_uid, a.grade if a else None,
        a.passed if a else None, run_id, error is None, o.quarantined_to if o else None,
        error, o.reads if o else 0, first)


__all__ = ["IngestSummary", "ingest", "instance_for"]
