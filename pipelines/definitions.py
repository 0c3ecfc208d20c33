"""The Dagster code location: ``dagster dev -m pipelines.definitions`` shows it.

The CLI builds the very same definitions with :func:`build_definitions` bound to its own store
and profile, so runs started from the terminal and from the UI are the same runs. With a Celery
broker configured (``EMBODIQ_CELERY_BROKER``), the ingest job's recordings are processed in
chunks by distributed workers (:mod:`pipelines.executors`); otherwise in the run's process.
"""

from __future__ import annotations

import dagster as dg

from pipelines.assets import (
    asset_checks,
    curated_episode,
    ingest_recordings,
    published_dataset,
)
from pipelines.processing import DEFAULT_TIMEOUT_S
from pipelines.resources import EmbodiqResource
from pipelines.sensors import INGEST_JOB, PUBLISH_JOB, inbox_sensor, publish_sensor

publish_job = dg.define_asset_job(
    PUBLISH_JOB, selection=dg.AssetSelection.assets(published_dataset),
    description="Publish a new immutable version of one dataset.")


def build_definitions(store_root: str | None = None, quality_profile: str = "default",
                      fps: float | None = None, write_report: bool = True, workers: int = 0,
                      timeout_s: float = DEFAULT_TIMEOUT_S, executor: str = "in-process",
                      chunk_size: int | None = None) -> dg.Definitions:
    """The code location; ``executor="celery"`` spreads each ingest run over Celery workers
    in chunks of ``chunk_size`` recordings."""
    ingest: dg.AssetsDefinition = ingest_recordings
    executor_def: dg.ExecutorDefinition | None = None
    if executor == "celery":
        from pipelines.executors import CHUNK_SIZE, celery_executor, distributed_ingest

        ingest = distributed_ingest(chunk_size or CHUNK_SIZE)
        executor_def = celery_executor()
    elif executor != "in-process":
        raise ValueError(f"unknown executor {executor!r} (in-process or celery)")
    ingest_job = dg.define_asset_job(
        INGEST_JOB, selection=dg.AssetSelection.assets(ingest).without_checks(),
        executor_def=executor_def,
        description="Validate, judge, quarantine or curate a batch of recordings, in parallel.")
    return dg.Definitions(
        assets=[ingest, curated_episode, published_dataset],
        asset_checks=asset_checks,
        jobs=[ingest_job, publish_job],
        sensors=[inbox_sensor, publish_sensor],
        resources={"embodiq": EmbodiqResource(store_root=store_root,
                                              quality_profile=quality_profile, fps=fps,
                                              write_report=write_report, workers=workers,
                                              timeout_s=timeout_s)},
    )


def _defs() -> dg.Definitions:
    from pipelines.executor_settings import default_executor

    return build_definitions(executor=default_executor())


defs = _defs()
__all__ = ["build_definitions", "defs"]
