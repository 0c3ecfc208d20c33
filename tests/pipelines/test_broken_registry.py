"""A broken robot registry is the store's fault, said once: no recording is read, none is
quarantined as if it were corrupt, no version is published (each recording used to be
quarantined as unreadable and a version of failures published)."""

from __future__ import annotations

import dagster as dg
import pytest
from typer.testing import CliRunner

from pipelines.cli.main import app
from pipelines.definitions import build_definitions
from pipelines.demo import DEMO_SET
from pipelines.runner import instance_for
from pipelines.sensors import inbox_sensor
from pipelines.store import Store
from tests.pipelines.demo_files import copy_recording

CLEAN = [r for r in DEMO_SET if r.defect is None][:2]


@pytest.fixture
def broken(tmp_path) -> Store:
    store = Store(tmp_path / "store").ensure()
    store.registry_path.parent.mkdir(parents=True, exist_ok=True)
    store.registry_path.write_bytes(b"not a database, a disk that lost a block")
    return store


def _nothing_done(store: Store) -> None:
    assert not list(store.quarantine_dir.glob("*/findings-*.json"))
    assert not (store.root / "datasets" / "lab").exists()


def test_ingest_stops_before_reading_with_the_registry_named(demo_recordings, broken,
                                                            tmp_path):
    folder = tmp_path / "in"
    for rec in CLEAN:
        copy_recording(demo_recordings, rec, folder)
    res = CliRunner().invoke(app, ["ingest", str(folder), "--dataset", "lab",
                                   "--store", str(broken.root)])
    assert res.exit_code == 2, res.output
    assert "robots.sqlite: is not a robot registry" in res.stderr
    assert "no recording was read" in res.stderr
    _nothing_done(broken)


def test_a_sensor_run_fails_and_leaves_its_recordings_for_later(demo_recordings, broken):
    for rec in CLEAN:
        copy_recording(demo_recordings, rec, broken.inbox_dir / "lab")
    instance = instance_for(broken)
    defs = build_definitions(str(broken.root), write_report=False)
    ctx = dg.build_sensor_context(instance=instance,
                                  resources={"embodiq": defs.resources["embodiq"]})
    result = inbox_sensor(ctx)
    keys = result.dynamic_partitions_requests[0].partition_keys
    instance.add_dynamic_partitions("recordings", keys)
    run = defs.resolve_job_def("ingest_recording").execute_in_process(
        instance=instance, tags=result.run_requests[0].tags, raise_on_error=False)
    assert not run.success
    failure = next(e for e in run.all_events if e.is_step_failure)
    assert "is not a robot registry" in str(failure.step_failure_data.error)
    _nothing_done(broken)
    instance.dispose()
