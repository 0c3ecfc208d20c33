"""The instance's PostgreSQL storages keep each process's connections, and stay Dagster's own.

What they change is how often the server is connected to, never what is in the database: a
plain ``storage: postgres`` instance reads every run, event and materialization they wrote;
instances opened again and again in one process (a Celery worker opens one per step) share one
pool; a forked child opens its own connections and its parent's keep working.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid

import dagster as dg
import pytest
from dagster._core.events.log import EventLogEntry

from pipelines.instance_storage_pg import (
    PooledPostgresEventLogStorage,
    PooledPostgresRunStorage,
    PooledPostgresScheduleStorage,
)
from pipelines.runner import instance_for
from pipelines.store import Store
from tests.children import running

pytestmark = pytest.mark.scale


@dg.asset
def reading() -> int:
    return 1


def _sessions(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        row = con.execute("SELECT sessions FROM pg_stat_database "
                          "WHERE datname = current_database()").fetchone()
    assert row is not None
    return int(row[0])


def _entry(run_id: str, text: str) -> EventLogEntry:
    return EventLogEntry(error_info=None, level=20, user_message=text, run_id=run_id,
                         timestamp=time.time())


def _plain_dagster(tmp_path) -> dg.DagsterInstance:
    """An instance on Dagster's own ``storage: postgres``, on the same database."""
    home = tmp_path / "plain"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "storage:\n  postgres:\n    postgres_url:\n      env: EMBODIQ_POSTGRES_URL\n")
    return dg.DagsterInstance.from_config(str(home))


def test_instances_opened_again_share_one_pool(pg_url, tmp_path):
    store = Store(tmp_path / "store")
    instance = instance_for(store)
    assert isinstance(instance.run_storage, PooledPostgresRunStorage)
    assert isinstance(instance.event_log_storage, PooledPostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PooledPostgresScheduleStorage)
    dg.materialize([reading], instance=instance)
    before = _sessions(pg_url)
    for _ in range(5):  # as a worker does for each step it runs
        again = dg.DagsterInstance.from_ref(instance.get_ref())
        assert dg.materialize([reading], instance=again).success
    # each materialization writes about twenty events and reads the run back: on Dagster's
    # own storages every one of them is a new server connection
    assert _sessions(pg_url) - before <= 2  # this test's own, and at most one more kept
    assert len(instance.get_runs()) == 6
    instance.dispose()


def test_plain_dagster_reads_what_they_wrote(pg_url, tmp_path):
    store = Store(tmp_path / "store")
    instance = instance_for(store)
    result = dg.materialize([reading], instance=instance)
    ours = [(e.timestamp, e.dagster_event_type) for e in instance.all_logs(result.run_id)]
    with _plain_dagster(tmp_path) as plain:
        assert type(plain.event_log_storage).__name__ == "PostgresEventLogStorage"
        theirs = [(e.timestamp, e.dagster_event_type) for e in plain.all_logs(result.run_id)]
        assert ours == theirs and len(ours) > 5
        assert [r.run_id for r in plain.get_runs()] == [result.run_id]
        mats = plain.fetch_materializations(reading.key, limit=10).records
        assert [m.run_id for m in mats] == [result.run_id]
    instance.dispose()


def _forked_writes(storage: PooledPostgresEventLogStorage, run_id: str, n: int) -> None:
    for i in range(n):  # the parent's storage object, inherited by fork
        storage.store_event(_entry(run_id, f"fork {i}"))


def test_a_forked_child_writes_through_its_own_connections(pg_url, tmp_path):
    instance = instance_for(Store(tmp_path / "store"))
    storage = instance.event_log_storage
    assert isinstance(storage, PooledPostgresEventLogStorage)
    run_id = str(uuid.uuid4())
    storage.store_event(_entry(run_id, "parent first"))  # the parent holds a connection
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_forked_writes, args=(storage, run_id, 30)) for _ in range(2)]
    with running(procs):
        for i in range(30):
            storage.store_event(_entry(run_id, f"parent {i}"))
    texts = [e.user_message for e in storage.get_logs_for_run(run_id)]
    assert len(texts) == 91 and texts.count("fork 0") == 2
    instance.dispose()


def test_a_connection_dropped_by_the_server_is_replaced(pg_url, tmp_path, monkeypatch):
    """A kept connection is checked when it was idle (here: at all), and replaced when dead."""
    import psycopg

    from pipelines import instance_storage_pg

    monkeypatch.setattr(instance_storage_pg, "CHECK_IDLE_S", 0.0)
    instance = instance_for(Store(tmp_path / "store"))
    assert dg.materialize([reading], instance=instance).success
    with psycopg.connect(pg_url, autocommit=True) as con:  # a server restart, as seen by us
        con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    assert dg.materialize([reading], instance=instance).success
    assert len(instance.get_runs()) == 2
    instance.dispose()


takes = dg.DynamicPartitionsDefinition(name="takes")


@dg.asset(partitions_def=takes)
def graded() -> None:
    """Materializes every partition of its run."""


def test_a_runs_planned_materializations_are_written_at_once(pg_url, tmp_path, monkeypatch):
    """One planned materialization per partition of the run, written in one statement (one
    transaction: one ``xmin``), and read by plain Dagster as it reads its own."""
    import psycopg
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    instance = instance_for(Store(tmp_path / "store"))
    keys = [f"take-{i}" for i in range(6)]
    instance.add_dynamic_partitions("takes", keys)
    job = dg.Definitions(assets=[graded]).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=instance, tags={
        ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]})
    assert result.success
    with psycopg.connect(pg_url, autocommit=True) as con:
        rows = con.execute(
            "SELECT partition, xmin::text FROM event_logs WHERE run_id = %s AND "
            "dagster_event_type = 'ASSET_MATERIALIZATION_PLANNED' ORDER BY id",
            (result.run_id,)).fetchall()
    assert sorted(r[0] for r in rows) == keys and len({r[1] for r in rows}) == 1, rows
    with _plain_dagster(tmp_path) as plain:
        storage = plain.event_log_storage
        for key in keys:
            info = storage.get_latest_planned_materialization_info(graded.key, key)
            assert info is not None and info.run_id == result.run_id
        record = plain.get_asset_records([graded.key])[0]
        assert record.asset_entry.last_run_id == result.run_id
        assert storage.get_materialized_partitions(graded.key) == set(keys)
    instance.dispose()


@dg.op(config_schema={"keys": [str]})
def grade_takes(context) -> None:  # Dagster refuses a string annotation here
    """What an ingest step records per recording: two materializations and a check's verdict."""
    for key in context.op_config["keys"]:
        for asset in ("report", "curated"):
            context.log_event(dg.AssetMaterialization(asset_key=asset, partition=key))
        context.log_event(dg.AssetCheckEvaluation(asset_key=dg.AssetKey("report"),
                                                  check_name="gate", passed=True,
                                                  partition=key))


@dg.job
def grading():
    grade_takes()


def test_a_recordings_events_ask_nothing_of_the_database_catalog(pg_url, tmp_path):
    """Dagster asks whether a table or column exists before storing each asset event or check
    verdict; this process asks the database once, so a run of 8 recordings queries the catalog
    no more than a run of 1 (the events are stored all the same)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    instance = instance_for(Store(tmp_path / "store"))
    catalog: list[str] = []

    def count(conn, cursor, statement, *_: object) -> None:
        if "pg_catalog" in statement:
            catalog.append(statement)

    def run(n: int) -> int:
        catalog.clear()
        keys = [f"take-{i}" for i in range(n)]
        assert grading.execute_in_process(instance=instance, run_config={
            "ops": {"grade_takes": {"config": {"keys": keys}}}}).success
        return len(catalog)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        run(1)  # the process's first run: its questions are asked here
        one, eight = run(1), run(8)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert eight == one, catalog
    mats = instance.fetch_materializations(dg.AssetKey("curated"), limit=100).records
    assert {m.partition_key for m in mats} == {f"take-{i}" for i in range(8)}
    instance.dispose()
