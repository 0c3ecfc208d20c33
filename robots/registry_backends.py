"""Choose the robot registry by configuration: a SQLite file in the store, or PostgreSQL.

One machine keeps the registry in ``<store>/registry/robots.sqlite``; several ingest hosts share
one PostgreSQL database instead, named by ``EMBODIQ_REGISTRY_URL`` (or, when that is unset,
``EMBODIQ_POSTGRES_URL``, the server the Dagster instance uses). Both backends offer the same
methods and guarantees.
"""

from __future__ import annotations

import os
from pathlib import Path

from robots.registry import RobotRegistry
from robots.registry_pg import PostgresRobotRegistry

REGISTRY_URL_ENV = "EMBODIQ_REGISTRY_URL"
POSTGRES_URL_ENV = "EMBODIQ_POSTGRES_URL"

Registry = RobotRegistry | PostgresRobotRegistry


def registry_url() -> str | None:
    """The configured PostgreSQL URL of the registry, or None for the store's SQLite file."""
    return os.environ.get(REGISTRY_URL_ENV) or os.environ.get(POSTGRES_URL_ENV) or None


def is_postgres_url(location: str | Path) -> bool:
    return str(location).startswith(("postgresql://", "postgres://"))


def open_registry(location: str | Path, read_only: bool = False) -> Registry:
    """The registry at ``location``: a ``postgresql://`` URL, or a SQLite file path
    (``read_only`` opens a SQLite file without writing to it; PostgreSQL needs no such mode)."""
    if is_postgres_url(location):
        return PostgresRobotRegistry(str(location))
    return RobotRegistry(Path(location), read_only=read_only)


def store_registry(registry_path: Path, read_only: bool = False) -> Registry:
    """The registry a store uses: the configured PostgreSQL one, else its SQLite file."""
    return open_registry(registry_url() or registry_path, read_only=read_only)
