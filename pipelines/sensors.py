"""Sensors: new recordings in the inbox become partitions; staged episodes get published.

Drop files into ``<store>/inbox/<dataset>/`` (any layout; subfolders allowed). The inbox sensor
registers each new episode (by content, so a copy of a known file is not ingested twice), adds a
``recordings`` partition and requests runs, each taking a batch of new recordings (a range of
partitions). The publish sensor notices datasets whose staged results are newer than their
``LATEST`` version and requests a publish run.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at runtime.

import json

import dagster as dg
from dagster import SensorEvaluationContext
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from pipelines.assets import BATCH_SIZE
from pipelines.processing import register_source
from pipelines.resources import EmbodiqResource
from pipelines.sources import discover

INGEST_JOB = "ingest_recording"
PUBLISH_JOB = "publish_dataset"


@dg.sensor(job_name=INGEST_JOB, minimum_interval_seconds=15,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Watches <store>/inbox/<dataset>/ for new recordings.")
def inbox_sensor(context: SensorEvaluationContext, embodiq: EmbodiqResource):
    store = embodiq.store
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    new_keys: list[str] = []
    requests: list[dg.RunRequest] = []
    known = set(context.instance.get_dynamic_partitions("recordings"))
    if store.inbox_dir.is_dir():
        for ds_dir in sorted(p for p in store.inbox_dir.iterdir() if p.is_dir()):
            refs, _unknown = discover([ds_dir])
            for ref in refs:
                stat = ref.path.stat()
                marker = f"{stat.st_size}:{stat.st_mtime_ns}"
                ident = f"{ds_dir.name}|{ref.path}|{ref.episode_key}"
                if seen.get(ident) == marker:
                    continue
                rec = register_source(store, ref, ds_dir.name)
                seen[ident] = marker
                if rec.key in known:  # a partition already: a run of its own
                    requests.append(dg.RunRequest(run_key=rec.key + "|" + rec.primary_sha256,
                                                  partition_key=rec.key))
                elif rec.key not in new_keys:
                    new_keys.append(rec.key)
    # partitions added together are contiguous: one run per batch of them
    for i in range(0, len(new_keys), BATCH_SIZE):
        batch = new_keys[i:i + BATCH_SIZE]
        requests.append(dg.RunRequest(
            run_key="|".join(batch), tags={ASSET_PARTITION_RANGE_START_TAG: batch[0],
                                           ASSET_PARTITION_RANGE_END_TAG: batch[-1]}))
    return dg.SensorResult(
        run_requests=requests, cursor=json.dumps(seen),
        dynamic_partitions_requests=[
            dg.AddDynamicPartitionsRequest("recordings", new_keys)] if new_keys else [],
    )


@dg.sensor(job_name=PUBLISH_JOB, minimum_interval_seconds=30,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Publishes a dataset when staged episodes are newer than LATEST.")
def publish_sensor(context: SensorEvaluationContext, embodiq: EmbodiqResource):
    store = embodiq.store
    requests, names = [], []
    for ds in store.staged_datasets():
        newest = store.newest_staged_report_ns(ds)
        if newest is None:
            continue
        latest = store.latest_modified_ns(ds)
        if latest is not None and latest >= newest:
            continue
        names.append(ds)
        requests.append(dg.RunRequest(run_key=f"{ds}|{newest}", partition_key=ds))
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[
            dg.AddDynamicPartitionsRequest("datasets", names)] if names else [],
    )
