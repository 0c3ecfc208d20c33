"""The inbox and publish sensors, evaluated against a real Dagster instance."""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG as RANGE_END,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_START_TAG as RANGE_START,
)

from pipelines.definitions import build_definitions
from pipelines.demo import DEMO_SET
from pipelines.runner import instance_for
from pipelines.sensors import inbox_sensor, publish_sensor
from pipelines.store import Store
from tests.pipelines.demo_files import copy_recording


def test_inbox_sensor_registers_new_recordings_once(demo_recordings, tmp_path):
    store = Store(tmp_path / "store").ensure()
    inbox = store.inbox_dir / "lab"
    for rec in [r for r in DEMO_SET if r.defect is None][:2]:
        copy_recording(demo_recordings, rec, inbox)
    instance = instance_for(store)
    defs = build_definitions(str(store.root), write_report=False)
    resources = {"embodiq": defs.resources["embodiq"]}
    ctx = dg.build_sensor_context(instance=instance, resources=resources)
    result = inbox_sensor(ctx)
    # new recordings: one run for the batch, a range of the partitions the sensor adds
    assert len(result.run_requests) == 1
    keys = result.dynamic_partitions_requests[0].partition_keys
    assert len(keys) == 2 and all(k.startswith("lab/") for k in keys)
    tags = result.run_requests[0].tags
    assert (tags[RANGE_START], tags[RANGE_END]) == (keys[0], keys[-1])
    # the same files again: nothing new
    again = inbox_sensor(dg.build_sensor_context(instance=instance, resources=resources,
                                                 cursor=result.cursor))
    assert again.run_requests == []
    # run what the sensor asked for, then the publish sensor asks for a publish
    instance.add_dynamic_partitions("recordings", keys)
    job = defs.resolve_job_def("ingest_recording")
    run = job.execute_in_process(instance=instance, tags=tags)
    assert run.success
    mats = run.asset_materializations_for_node("ingest_recordings")
    assert {m.partition for m in mats if m.asset_key.path == ["quality_report"]} == set(keys)
    pub = publish_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert [r.partition_key for r in pub.run_requests] == ["lab"]
