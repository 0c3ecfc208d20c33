"""One store on PostgreSQL: Dagster's runs and the robot registry in a real server, chosen by
configuration, publishing exactly what the embedded SQLite setup publishes."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest

from pipelines.demo import DEMO_SET, make_demo_recordings
from pipelines.runner import ingest, instance_for
from pipelines.store import Store
from robots.registry_pg import PostgresRobotRegistry
from tests.servers import create_database

pytestmark = [pytest.mark.scale, pytest.mark.slow]


def _inbox(tmp_path):
    every = tmp_path / "all"
    make_demo_recordings(every)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    picked = [r.file for r in DEMO_SET if r.defect in (None, "value.nonfinite")][:4]
    for p in every.iterdir():
        if any(p.name == f or p.name.startswith(f.removesuffix(".h5") + ".") for f in picked):
            shutil.copy2(p, inbox / p.name)
    return inbox


def test_ingest_on_postgres_publishes_what_sqlite_publishes(pg_server, tmp_path, monkeypatch):
    inbox = _inbox(tmp_path)
    monkeypatch.delenv("EMBODIQ_POSTGRES_URL", raising=False)
    monkeypatch.delenv("EMBODIQ_REGISTRY_URL", raising=False)
    local = Store(tmp_path / "local")
    a = ingest(local, [inbox], "lab", write_report=False, workers=2)
    assert a.publish_error is None and not a.run_failed

    url = create_database(pg_server, f"inst_{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("EMBODIQ_POSTGRES_URL", url)
    shared = Store(tmp_path / "shared")
    b = ingest(shared, [inbox], "lab", write_report=False, workers=2)
    assert b.publish_error is None and not b.run_failed

    def key(store):
        return json.loads((store.version_dir("lab") / "manifest.json").read_text())["content_key"]

    assert key(local) == key(shared)
    # the orchestrator's state is in PostgreSQL, not in the store
    inst = instance_for(shared)
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    assert isinstance(inst.run_storage, PostgresRunStorage)
    assert isinstance(inst.event_log_storage, PostgresEventLogStorage)
    assert len(inst.get_runs()) == b.runs + 1  # the ingest batches and the publish
    assert "postgres" in (shared.dagster_home / "dagster.yaml").read_text()
    assert url not in (shared.dagster_home / "dagster.yaml").read_text()  # no secret on disk
    # and so are the robot codes: the same robots, the same codes as the local registry
    from robots.registry import RobotRegistry

    pg_codes = {(b_.robot_model, b_.robot_serial, b_.code)
                for b_ in PostgresRobotRegistry(url).list()}
    local_codes = {(b_.robot_model, b_.robot_serial, b_.code)
                   for b_ in RobotRegistry(local.registry_path).list()}
    assert pg_codes == local_codes and pg_codes
    assert not shared.registry_path.exists()
