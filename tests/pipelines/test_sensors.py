"""The inbox and publish sensors, evaluated against a real Dagster instance."""

from __future__ import annotations

import dagster as dg

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
    assert len(result.run_requests) == 2
    keys = {r.partition_key for r in result.run_requests}
    assert all(k.startswith("lab/") for k in keys)
    assert set(result.dynamic_partitions_requests[0].partition_keys) == keys
    # the same files again: nothing new
    again = inbox_sensor(dg.build_sensor_context(instance=instance, resources=resources,
                                                 cursor=result.cursor))
    assert again.run_requests == []
    # run what the sensor asked for, then the publish sensor asks for a publish
    instance.add_dynamic_partitions("recordings", sorted(keys))
    job = defs.resolve_job_def("ingest_recording")
    for k in sorted(keys):
        assert job.execute_in_process(partition_key=k, instance=instance).success
    pub = publish_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert [r.partition_key for r in pub.run_requests] == ["lab"]
