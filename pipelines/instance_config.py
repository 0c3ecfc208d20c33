"""The Dagster instance's configuration: SQLite in the store, or PostgreSQL for many hosts.

One machine keeps runs, event logs and schedules in ``<store>/dagster`` (SQLite, the embedded
default). Several machines share one instance on PostgreSQL: set ``EMBODIQ_POSTGRES_URL``
(``postgresql://user:password@host:5432/db``) and every ``embodiq`` command, sensor and the UI
of that store use it. The URL is read from the environment when the instance starts, never
written into ``dagster.yaml``, so no password lands on disk.
"""

from __future__ import annotations

import os
from pathlib import Path

POSTGRES_URL_ENV = "EMBODIQ_POSTGRES_URL"

_SQLITE_YAML = """\
# The orchestrator's state for this store (runs, events, schedules): SQLite in this folder.
# The event log is Dagster's own, with its connections kept open (pipelines/instance_storage.py).
# For several machines, set EMBODIQ_POSTGRES_URL (docs/orchestration.md).
event_log_storage:
  module: pipelines.instance_storage
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {runs}
telemetry:
  enabled: false
"""

_POSTGRES_STORAGE = f"""\
  module: pipelines.instance_storage_pg
  class: PooledPostgres{{kind}}Storage
  config:
    postgres_url:
      env: {POSTGRES_URL_ENV}
"""

_POSTGRES_YAML = f"""\
# The orchestrator's state for this store (runs, events, schedules): PostgreSQL, at the URL
# in the environment variable {POSTGRES_URL_ENV} (read at start; not stored here).
# Dagster's PostgreSQL storages, with each process's connections kept open
# (pipelines/instance_storage_pg.py); 'storage: postgres' reads the same database.
run_storage:
{_POSTGRES_STORAGE.format(kind="Run")}event_log_storage:
{_POSTGRES_STORAGE.format(kind="EventLog")}schedule_storage:
{_POSTGRES_STORAGE.format(kind="Schedule")}telemetry:
  enabled: false
"""


def postgres_url() -> str | None:
    """The configured PostgreSQL URL of the instance, or None for the store's SQLite."""
    return os.environ.get(POSTGRES_URL_ENV) or None


def instance_yaml(home: Path, use_postgres: bool | None = None) -> str:
    """``dagster.yaml`` for the store's instance in ``home`` (PostgreSQL when configured)."""
    if use_postgres is None:
        use_postgres = postgres_url() is not None
    if use_postgres:
        return _POSTGRES_YAML
    import json

    # Dagster's own place for the per-run event databases; JSON quoting is valid YAML
    return _SQLITE_YAML.format(runs=json.dumps(str(Path(home).resolve() / "history" / "runs")))
