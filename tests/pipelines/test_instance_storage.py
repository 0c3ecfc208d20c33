"""The store's SQLite event log keeps its connections open, and stays Dagster's own.

What it changes is how often a database is opened, never what is in it: a plain Dagster event
log storage over the same folder reads every event and every materialization, a forked process
writes through its own connection, and a process reading many runs holds only a few open.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid

from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.assets import REPORT
from pipelines.demo import DEMO_SET
from pipelines.instance_storage import OPEN_DATABASES, PooledSqliteEventLogStorage
from pipelines.runner import ingest, instance_for
from pipelines.store import Store
from tests.children import running
from tests.pipelines.demo_files import copy_recording

CLEAN = [r for r in DEMO_SET if r.defect is None]


def _entry(run_id: str, text: str) -> EventLogEntry:
    return EventLogEntry(error_info=None, level=20, user_message=text, run_id=run_id,
                         timestamp=time.time())


def test_store_instance_writes_what_plain_dagster_reads(demo_recordings, tmp_path):
    inbox = tmp_path / "inbox"
    for rec in CLEAN[:2]:
        copy_recording(demo_recordings, rec, inbox)
    store = Store(tmp_path / "store")
    summary = ingest(store, [inbox], "lab", workers=1)
    assert not summary.run_failed
    # the ingest closed its connections: the store is left as plain databases, no write-ahead
    # log still open beside them (nothing changes in the store after the ingest returns)
    runs_dir = store.dagster_home / "history" / "runs"
    assert list(runs_dir.glob("*.db")) and not list(runs_dir.glob("*.db-wal"))

    instance = instance_for(store)
    assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
    plain = SqliteEventLogStorage(str(store.dagster_home / "history" / "runs"))
    runs = instance.get_runs()
    assert runs
    for run in runs:
        ours = [(e.timestamp, e.dagster_event_type) for e in instance.all_logs(run.run_id)]
        theirs = [(e.timestamp, e.dagster_event_type) for e in plain.get_logs_for_run(run.run_id)]
        assert ours == theirs and len(ours) > 5
    # the cross-run index (what the UI's asset pages read) has every materialization too
    ours = instance.fetch_materializations(REPORT, limit=100).records
    theirs = plain.fetch_materializations(REPORT, limit=100).records
    assert len(ours) == len(theirs) == 2
    instance.dispose()
    plain.dispose()


def _child_writes(base_dir: str, run_id: str, n: int) -> None:
    storage = PooledSqliteEventLogStorage(base_dir)
    for i in range(n):
        storage.store_event(_entry(run_id, f"child {i}"))


def _forked_writes(storage: PooledSqliteEventLogStorage, run_id: str, n: int) -> None:
    for i in range(n):  # the parent's storage object, inherited by fork
        storage.store_event(_entry(run_id, f"fork {i}"))


def test_processes_write_one_run_through_their_own_connections(tmp_path):
    base = str(tmp_path / "runs")
    storage = PooledSqliteEventLogStorage(base)
    run_id = str(uuid.uuid4())
    storage.store_event(_entry(run_id, "parent first"))  # the parent holds a connection
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_forked_writes, args=(storage, run_id, 40)),
             ctx.Process(target=_child_writes, args=(base, run_id, 40))]
    with running(procs):
        for i in range(40):
            storage.store_event(_entry(run_id, f"parent {i}"))
    texts = [e.user_message for e in storage.get_logs_for_run(run_id)]
    assert len(texts) == 121 and len(set(texts)) == 121
    storage.dispose()


def test_a_process_reading_many_runs_keeps_few_databases_open(tmp_path):
    storage = PooledSqliteEventLogStorage(str(tmp_path / "runs"))
    run_ids = [str(uuid.uuid4()) for _ in range(3 * OPEN_DATABASES)]
    for run_id in run_ids:
        storage.store_event(_entry(run_id, run_id))
    for run_id in reversed(run_ids):
        assert [e.user_message for e in storage.get_logs_for_run(run_id)] == [run_id]
    assert len(storage._engines) <= OPEN_DATABASES
    storage.dispose()
    assert not storage._engines
