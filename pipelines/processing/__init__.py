"""Per-recording work as plain functions: register, validate, judge, quarantine, curate.

Dagster assets and the ``embodiq check`` command call the same functions. Each is stateless
and idempotent: its inputs are the source files (identified by their sha256) and the store, so
it can run on any machine and be retried safely.

:func:`process_recording` is the one path a recording takes, read once: read → schema and uid
→ checks → grade → report → quarantine or curate. :func:`run_recordings` runs it over many
recordings on a pool of worker processes with a watchdog, so one file that hangs the HDF5
library costs one worker, never the batch.

One module per step: :mod:`~pipelines.processing.registration`,
:mod:`~pipelines.processing.reading`, :mod:`~pipelines.processing.assessment` (validation and
judgement), :mod:`~pipelines.processing.outcomes` (report, quarantine, curation),
:mod:`~pipelines.processing.recording` (one recording, in a worker),
:mod:`~pipelines.processing.pool` (the worker pool) and
:mod:`~pipelines.processing.discovery` (discovery and registration under the watchdog).
The quality report itself, :class:`~schemas.assessment.Assessment`, is a domain record and
lives in :mod:`schemas.assessment`. Everything is importable from here.
"""

from __future__ import annotations

from pipelines.processing.assessment import (
    Validation,
    assess,
    assess_ref,
    judge,
    validate_source,
)
from pipelines.processing.discovery import discover_guarded, register_guarded
from pipelines.processing.outcomes import (
    Curated,
    curate,
    quarantine,
    quarantine_dir_for,
    read_report,
    write_report,
)
from pipelines.processing.pool import (
    CHUNK_EPISODES,
    DEFAULT_TIMEOUT_S,
    TaskResult,
    dataset_findings,
    default_workers,
    iter_tasks,
    recording_chunks,
    run_recordings,
    run_tasks,
    shutdown_pools,
    worker_modules,
)
from pipelines.processing.reading import read_recording, reads_so_far
from pipelines.processing.recording import (
    RecordingOutcome,
    RecordingTask,
    process_recording,
    robot_dirs,
    stopped_outcome,
)
from pipelines.processing.registration import (
    SourceRecord,
    load_source_record,
    register_source,
    registry_problem,
    verify_unchanged,
)
from schemas.assessment import Assessment, utc_now

__all__ = [
    "CHUNK_EPISODES", "DEFAULT_TIMEOUT_S", "Assessment", "Curated", "RecordingOutcome",
    "RecordingTask", "SourceRecord", "TaskResult", "Validation", "assess", "assess_ref",
    "curate", "dataset_findings", "default_workers", "discover_guarded", "iter_tasks", "judge",
    "load_source_record", "process_recording", "quarantine", "quarantine_dir_for",
    "read_recording", "read_report", "reads_so_far",
    "recording_chunks", "register_guarded", "register_source", "registry_problem", "robot_dirs",
    "run_recordings",
    "run_tasks", "shutdown_pools", "stopped_outcome", "utc_now", "validate_source",
    "verify_unchanged", "worker_modules", "write_report",
]
