"""The Dagster instance's configuration: SQLite in the store, or PostgreSQL for many hosts.

One machine keeps runs, event logs and schedules in ``<store>/dagster`` (SQLite, the embedded
default). Several machines share one instance on PostgreSQL: set ``EMBODIQ_POSTGRES_URL``
(``postgresql://user:password@host:5432/db``) and every ``embodiq`` command, sensor and the UI
of that store use it. The URL is read from the environment when the instance starts, never
written into ``dagster.yaml``, so no password lands on disk.
"""

from __future__ import annotations

import os

POSTGRES_URL_ENV = "EMBODIQ_POSTGRES_URL"

_SQLITE_YAML = """\
# The orchestrator's state for this store (runs, events, schedules): SQLite in this folder.
# For several machines, set EMBODIQ_POSTGRES_URL (docs/orchestration.md).
telemetry:
  enabled: false
"""

_POSTGRES_YAML = f"""\
# The orchestrator's state for this store (runs, events, schedules): PostgreSQL, at the URL
# in the environment variable {POSTGRES_URL_ENV} (read at start; not stored here).
storage:
  postgres:
    postgres_url:
      env: {POSTGRES_URL_ENV}
telemetry:
  enabled: false
"""


def postgres_url() -> str | None:
    """The configured PostgreSQL URL of the instance, or None for the store's SQLite."""
    return os.environ.get(POSTGRES_URL_ENV) or None


def instance_yaml(use_postgres: bool | None = None) -> str:
    """``dagster.yaml`` for the store's instance (PostgreSQL when configured)."""
    if use_postgres is None:
        use_postgres = postgres_url() is not None
    return _POSTGRES_YAML if use_postgres else _SQLITE_YAML
