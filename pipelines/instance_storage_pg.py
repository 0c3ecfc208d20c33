"""The instance's PostgreSQL storages, with each process's connections kept open.

``dagster-postgres`` opens a new server connection for every statement batch it runs (a server
process forked and authenticated each time), and every ``DagsterInstance`` built from a
reference (one per step a Celery worker runs) checks all its tables again. In a distributed
ingest those connections, not the statements, were most of the database's work: about three
per recording. These storages are Dagster's own (same tables, same migrations, interchangeable
with ``storage: postgres``); each process keeps one small pool of connections per database,
shared by the run, event-log and schedule storages of every instance it opens, and checks a
database's tables once.

A forked child never uses its parent's connections: the pool belongs to the process that opened
it, and a child opens its own. A connection that sat idle for more than a few seconds is
checked when it is taken again, so a server restart or an idle timeout between steps costs one
reconnection, not a failed step; a busy one is not (a ping before every use would add a server
round trip to every write).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

#: Connections a process keeps open to one database (more are opened while they are busy, and
#: closed when returned).
KEPT_CONNECTIONS = 2
OVERFLOW_CONNECTIONS = 4
#: Seconds after which a kept connection is replaced (servers and proxies drop idle ones).
RECYCLE_S = 3600
#: Seconds a kept connection may sit idle before it is checked when taken again.
CHECK_IDLE_S = 5.0

_ENGINES: dict[tuple[int, str], Engine] = {}
_ENGINES_LOCK = threading.Lock()
#: (storage, URL) pairs whose tables this process has checked.
_CHECKED: set[tuple[str, str]] = set()


def shared_engine(url: str, token_provider: Any = None) -> Engine:
    """This process's pooled engine for the database at ``url``."""
    key = (os.getpid(), url)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = create_pg_engine(url, token_provider, isolation_level="AUTOCOMMIT",
                                      pool_size=KEPT_CONNECTIONS,
                                      max_overflow=OVERFLOW_CONNECTIONS,
                                      pool_recycle=RECYCLE_S)
            event.listen(engine, "checkin", _returned)
            event.listen(engine, "checkout", _check_if_idle)
            _ENGINES[key] = engine
        return engine


def _returned(dbapi_connection: Any, record: Any) -> None:
    record.info["returned_at"] = time.monotonic()


def _check_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A connection idle for more than :data:`CHECK_IDLE_S` is pinged; a dead one is replaced
    (the pool opens a new one when this raises ``DisconnectionError``)."""
    returned = record.info.get("returned_at")
    if returned is None or time.monotonic() - returned < CHECK_IDLE_S:
        return
    try:
        cur = dbapi_connection.cursor()
        try:
            cur.execute("SELECT 1")
        finally:
            cur.close()
    except Exception as e:  # the driver's error for a connection the server dropped
        raise exc.DisconnectionError(f"kept connection dropped: {e}") from e


def _check_tables(kind: str, url: str, requested: bool) -> bool:
    """Whether this storage should check (and create) its tables: until it once has, in this
    process."""
    return requested and (kind, url) not in _CHECKED


class _SharedEngine:
    """A ``dagster-postgres`` storage whose ``_engine`` is its process's shared engine (the one
    Dagster's constructor builds, holding no connection, is set aside) and whose tables are
    checked once per process."""

    #: Which storage this is, for the once-per-process check of its tables.
    _kind: str
    postgres_url: str
    _token_provider: Any

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: ConfigurableClassData | None = None,
                 token_provider: Any = None) -> None:
        super().__init__(postgres_url,  # type: ignore[call-arg]  # Dagster's storage class
                         _check_tables(self._kind, postgres_url, should_autocreate_tables),
                         inst_data, token_provider)
        _CHECKED.add((self._kind, postgres_url))

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,
                          config_value: Mapping[str, Any]) -> Any:
        return cls(inst_data=inst_data, postgres_url=pg_url_from_config(config_value),
                   should_autocreate_tables=config_value.get("should_autocreate_tables", True),
                   token_provider=get_token_provider_from_config(config_value))

    @property
    def _engine(self) -> Engine:
        return shared_engine(self.postgres_url, getattr(self, "_token_provider", None))

    @_engine.setter
    def _engine(self, engine: Engine) -> None:
        engine.dispose()

    def optimize_for_webserver(self, statement_timeout: int, pool_recycle: int,
                               max_overflow: int) -> None:
        """Already pooled; the webserver's statement timeout is not imposed on the ingest."""


#: (database URL, table or columns) this process found in the database. Dagster's migrations
#: add tables and columns, never drop them, so a yes is not asked again.
_FOUND: set[tuple[str, str]] = set()


def _found(storage: _SharedEngine, what: str, ask: Callable[[], bool]) -> bool:
    """Whether ``what`` is in the storage's database: ``ask``-ed until once it is."""
    key = (storage.postgres_url, what)
    if key not in _FOUND and ask():
        _FOUND.add(key)
    return key in _FOUND


class PooledPostgresRunStorage(_SharedEngine, PostgresRunStorage):
    """Whether the runs table has a migration's columns is asked of the database once per
    process (Dagster asks it again at every run event and every lookup of a run)."""

    _kind = "runs"

    def has_run_stats_index_cols(self) -> bool:
        return _found(self, "runs.start_time,end_time", super().has_run_stats_index_cols)

    def has_backfill_id_column(self) -> bool:
        return _found(self, "runs.backfill_id", super().has_backfill_id_column)


#: Dagster's setting for batches of events, and the most events in one batch (one run's planned
#: materializations: at most one per recording of the run).
BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
PLANNED_BATCH = 1000


def _type_and_asset(entry: EventLogEntry) -> tuple[Any, Any]:
    ev = entry.dagster_event
    return (ev.event_type, ev.asset_key) if ev is not None else (None, None)


class PooledPostgresEventLogStorage(_SharedEngine, PostgresEventLogStorage):
    """Also stores a run's planned materializations (one per recording, written before its
    first step starts) in one statement, as ``dagster-postgres`` stores a batch of
    materializations; every other batch as it does. Whether a table or column exists is asked
    of the database once per process: Dagster asks it again before each asset event and check
    evaluation it stores (a sixth of an ingest's statements, each a catalog query)."""

    _kind = "event_log"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Dagster hands a run's planned events to the storage as one batch only when this is
        # set (it reads it at every event); a value set by the user is kept
        os.environ.setdefault(BATCH_SIZE_ENV, str(PLANNED_BATCH))

    def has_table(self, table_name: str) -> bool:
        ask = super().has_table
        return _found(self, table_name, lambda: ask(table_name))

    def _has_asset_key_col_on_connection(self, conn: Any, column_name: str) -> bool:
        ask = super()._has_asset_key_col_on_connection
        return _found(self, f"asset_keys.{column_name}", lambda: ask(conn, column_name))

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        from dagster._core.events import DagsterEventType

        planned = DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        rest: list[EventLogEntry] = []
        for (kind, key), group in itertools.groupby(events, key=_type_and_asset):
            batch = list(group)
            if kind != planned or key is None or len(batch) < 2:
                rest += batch
                continue
            super().store_event_batch(rest)
            rest = []
            with self._connect() as conn:
                ids = [int(row[0]) for row in conn.execute(
                    self.prepare_insert_event_batch(batch).returning(
                        SqlEventLogStorageTable.c.id)).fetchall()]
            with self.index_transaction() as conn:
                self._store_asset_event_tags(conn, batch, ids)
                # the asset's row names the last run that planned it: the last event says it
                self._store_asset_event(conn, batch[-1], ids[-1])
        super().store_event_batch(rest)


class PooledPostgresScheduleStorage(_SharedEngine, PostgresScheduleStorage):
    _kind = "schedules"
