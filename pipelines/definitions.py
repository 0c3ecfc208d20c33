"""The Dagster code location: ``dagster dev -m pipelines.definitions`` shows it.

The CLI builds the very same definitions with :func:`build_definitions` bound to its own store
and profile, so runs started from the terminal and from the UI are the same runs.
"""

from __future__ import annotations

import dagster as dg

from pipelines.assets import (
    asset_checks,
    ingest_assets,
    ingest_recordings,
    published_dataset,
)
from pipelines.processing import DEFAULT_TIMEOUT_S
from pipelines.resources import EmbodiqResource
from pipelines.sensors import INGEST_JOB, PUBLISH_JOB, inbox_sensor, publish_sensor

ingest_job = dg.define_asset_job(
    INGEST_JOB, selection=dg.AssetSelection.assets(ingest_recordings).without_checks(),
    description="Validate, judge, quarantine or curate a batch of recordings, in parallel.")
publish_job = dg.define_asset_job(
    PUBLISH_JOB, selection=dg.AssetSelection.assets(published_dataset),
    description="Publish a new immutable version of one dataset.")


def build_definitions(store_root: str | None = None, quality_profile: str = "default",
                      fps: float | None = None, write_report: bool = True, workers: int = 0,
                      timeout_s: float = DEFAULT_TIMEOUT_S) -> dg.Definitions:
    return dg.Definitions(
        assets=[*ingest_assets, published_dataset],  # type: ignore[list-item]
        asset_checks=asset_checks,
        jobs=[ingest_job, publish_job],
        sensors=[inbox_sensor, publish_sensor],
        resources={"embodiq": EmbodiqResource(store_root=store_root,
                                              quality_profile=quality_profile, fps=fps,
                                              write_report=write_report, workers=workers,
                                              timeout_s=timeout_s)},
    )


defs = build_definitions()
__all__ = ["build_definitions", "defs"]
