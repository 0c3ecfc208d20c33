"""The distributed executor: a run's recordings cut into chunks, each chunk a step that a
``dagster-celery`` worker executes, on this host or another.

In-process (the default) a run is one step that spreads its batch over this host's cores. With
``EMBODIQ_CELERY_BROKER`` set (or ``embodiq ingest --executor celery``) the same asset,
``quality_report``, is materialized by a graph instead: ``plan_chunks`` cuts the run's
partition range into chunks (a dynamic output, Dagster's fan-out), ``ingest_chunk`` processes
one chunk with exactly the code of the in-process step (:func:`pipelines.assets.ingest_keys`),
and ``ingest_done`` gathers them. Every step is a Celery task on the broker; a worker rebuilds
the job from :func:`celery_ingest_job` and opens the instance from its reference (PostgreSQL for
several hosts), and reads and writes the store at the same path as the process that started the
run (a shared mount). Results do not depend on the executor: the published ``content_key`` is
the same.

A worker process killed while it runs a step loses nothing: tasks are acknowledged only once
done (``task_acks_late``) and given back to the broker when their worker dies
(``task_reject_on_worker_lost``), so another worker runs the step again; steps are idempotent
(every file written is named by content and written atomically).
"""

# No `from __future__ import annotations`: Dagster reads the ops' annotations at runtime.

import contextlib
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import dagster as dg
from celery.signals import worker_process_init

from pipelines.assets import (
    BATCH_SIZE,
    REPORT,
    ingest_keys,
    recordings_partitions,
)
from pipelines.executor_settings import executor_config
from pipelines.processing import DEFAULT_TIMEOUT_S, RecordingOutcome, read_report
from pipelines.resources import EmbodiqResource

#: Most recordings per step: small enough to spread a batch over many workers, large enough
#: that a step's own cost (a task, the instance opened, a dozen events) stays small beside the
#: work. A run of fewer recordings is still cut in two, so that two workers share it.
CHUNK_SIZE = 8
#: Processes a chunk step uses: a worker runs one step on one core; hosts scale by workers.
STEP_WORKERS = 1
#: Recordings per run of the distributed executor: one run's steps keep every worker busy;
#: runs are sequential, so fewer, larger runs leave workers idle less often.
DISTRIBUTED_BATCH_SIZE = 4 * BATCH_SIZE


def _chunks(keys: list[str], size: int) -> list[list[str]]:
    """``keys`` in order, cut into chunks of at most ``size`` (at least two chunks when there
    are two keys), whose sizes differ by at most one."""
    if not keys:
        return []
    n = max(min(2, len(keys)), -(-len(keys) // size))
    q, r = divmod(len(keys), n)
    out, i = [], 0
    for k in range(n):
        j = i + q + (1 if k < r else 0)
        out.append(keys[i:j])
        i = j
    return out


def _allow_children() -> None:
    """Let this process start the watched reader processes of its recordings.

    A Celery pool process (billiard's) is marked daemonic, and Python refuses children to a
    daemonic process; its authentication key is billiard's own type, which Python's
    multiprocessing will not hand to a child. The readers are what stops a recording that hangs
    its reader (a corrupt file) after the timeout, so they stay: the mark is lifted and the key
    made Python's. They do not outlive this process: the fork server they come from exits with
    it, and they with their pipes.
    """
    import multiprocessing.process as mp_process

    config = mp_process.current_process()._config  # type: ignore[attr-defined]
    config["daemon"] = False
    config["authkey"] = mp_process.AuthenticationString(  # type: ignore[attr-defined]
        bytes(config["authkey"]))


def _warm_up_worker(**_: object) -> None:
    """A Celery worker process, as it starts, loads what its steps will need on background
    threads: its reading pool and the check kernels, and the store's instance (Dagster's storage
    modules, the job's modules, the database's tables checked once). Its first step is then as
    fast as the others, instead of about two seconds slower. A warm-up that fails costs
    nothing: the step loads what it needs itself."""
    from pipelines.processing.pool import warm_up

    def pool() -> None:
        with contextlib.suppress(Exception):
            warm_up(STEP_WORKERS)

    def instance() -> None:
        with contextlib.suppress(Exception):  # e.g. no DAGSTER_HOME: not an embodiq worker
            import pipelines.definitions
            import pipelines.sensors  # noqa: F401  (what a step's job is rebuilt from)

            dg.DagsterInstance.get()

    _allow_children()
    for target in (pool, instance):
        threading.Thread(target=target, name="embodiq-warm-up", daemon=True).start()


# every process of `embodiq worker` (which imports this module) warms up as it starts
worker_process_init.connect(_warm_up_worker, weak=False)


def distributed_ingest(chunk_size: int = CHUNK_SIZE) -> dg.AssetsDefinition:
    """``ingest_recordings`` as a graph whose per-recording work is spread over chunk steps."""

    @dg.op(out=dg.DynamicOut(list), description="Cut the run's recordings into chunks.")
    def plan_chunks(context: dg.OpExecutionContext):
        keys = list(context.partition_keys)
        for i, chunk in enumerate(_chunks(keys, chunk_size)):
            yield dg.DynamicOutput(chunk, mapping_key=f"c{i}")

    @dg.op(description="Process one chunk of recordings, as the in-process step does.")
    def ingest_chunk(context: dg.OpExecutionContext, embodiq: EmbodiqResource,
                     keys: list) -> int:
        _allow_children()
        for event in ingest_keys(context, embodiq, keys, workers=STEP_WORKERS):
            context.log_event(event)  # type: ignore[arg-type]  # check evaluations are accepted
        return len(keys)

    @dg.op(out=dg.Out(is_required=False),
           description="Every chunk done (each recording's events were reported by its chunk).")
    def ingest_done(context: dg.OpExecutionContext, counts: list):
        context.log.info(f"{sum(counts)} recording(s) in {len(counts)} chunk(s)")
        yield from ()

    @dg.graph_multi_asset(
        name="ingest_recordings", group_name="ingest",
        partitions_def=recordings_partitions,
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=BATCH_SIZE),
        outs={"quality_report": dg.AssetOut(key=REPORT, is_required=False, description=(
            "The registered recording read once and checked, graded and scored; processed in "
            "chunks by distributed workers; a failing recording is quarantined with its "
            "findings."))},
    )
    def ingest_recordings():
        return ingest_done(plan_chunks().map(ingest_chunk).collect())

    return ingest_recordings


#: Seconds between two looks of the process running a distributed run at its steps' results
#: (``dagster-celery`` waits a whole second: a run then idles about a second when it starts,
#: when its last chunk ends and when it ends, whatever its size). Each look asks the broker once
#: per step still running, a few dozen small requests.
POLL_S = 0.1


def celery_executor() -> dg.ExecutorDefinition:
    from celery.exceptions import DuplicateTaskNameWarning
    from dagster_celery import celery_executor as executor
    from dagster_celery import core_execution_loop

    # dagster-celery registers its one task again on the run's app for every step it submits
    # (the same code each time): Celery's warning about it says nothing to act on
    warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already registered",
                            category=DuplicateTaskNameWarning)

    # the loop reads this module setting at every pause; dagster-celery offers no other knob
    core_execution_loop.TICK_SECONDS = POLL_S  # type: ignore[assignment]
    return executor.configured(executor_config(), name="embodiq_celery")


def celery_ingest_job(store_root: str, quality_profile: str = "default",
                      fps: float | None = None, write_report: bool = True,
                      timeout_s: float = DEFAULT_TIMEOUT_S,
                      chunk_size: int = CHUNK_SIZE) -> dg.JobDefinition:
    """The ingest job of the distributed executor, bound to one store: what a worker rebuilds
    (by this function's name and arguments) to run a step."""
    from pipelines.definitions import build_definitions
    from pipelines.sensors import INGEST_JOB

    return build_definitions(store_root, quality_profile, fps, write_report, 0, timeout_s,
                             executor="celery", chunk_size=chunk_size
                             ).resolve_job_def(INGEST_JOB)


def run_batch(instance: dg.DagsterInstance, *, store_root: str, quality_profile: str,
              fps: float | None, write_report: bool, timeout_s: float, chunk_size: int | None,
              tags: dict, run_config: dict
              ) -> tuple[str, str | None, list[RecordingOutcome]]:
    """Run one batch through the Celery executor: the run id, why it failed (if it did), and
    the outcome of each recording it judged (read back from the run's events)."""
    from pipelines.runner import _first_error

    profile = Path(quality_profile)  # a profile file is named for workers anywhere
    if profile.suffix == ".toml" and profile.is_file():
        quality_profile = str(profile.resolve())
    job = dg.build_reconstructable_job(
        "pipelines.executors", "celery_ingest_job", reconstructable_kwargs={
            "store_root": str(Path(store_root).resolve()), "quality_profile": quality_profile,
            "fps": fps, "write_report": write_report, "timeout_s": timeout_s,
            "chunk_size": chunk_size or CHUNK_SIZE})
    result = dg.execute_job(job, instance=instance, run_config=run_config, tags=tags)
    err = None if result.success else (_first_error(result) or "run failed")
    return result.run_id, err, list(_outcomes(result.all_events))


def _outcomes(events: Iterable[dg.DagsterEvent]) -> Iterator[RecordingOutcome]:
    """Each recording the run judged, from its ``quality_report`` materialization among the
    events the run's workers sent back (already in this process: the instance is not read
    again). A recording counts once, however often its step ran (again after its worker died).
    A recording whose event never came back is read from its staged report instead
    (:func:`pipelines.runner._episode_outcome`)."""
    seen: set[str] = set()
    for event in events:
        mat = (event.step_materialization_data.materialization
               if event.is_step_materialization else None)
        if (mat is None or mat.asset_key != REPORT or mat.partition is None
                or mat.partition in seen):
            continue
        seen.add(mat.partition)
        md = mat.metadata
        report = _text(md, "report")
        a = read_report(Path(report)) if report is not None else None
        reads = md.get("reads")
        yield RecordingOutcome(
            name=a.source_name if a else mat.partition, assessment=a, key=mat.partition,
            report_path=report, quarantined_to=_text(md, "quarantined_to"),
            reads=reads.value if reads is not None and isinstance(reads.value, int) else 0)


def _text(md: Mapping[str, dg.MetadataValue], key: str) -> str | None:
    """A path or text metadata value of a materialization, if it has one."""
    v = md.get(key)
    return str(v.value) if v is not None and v.value is not None else None
