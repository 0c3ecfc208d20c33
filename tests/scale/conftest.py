"""What the scale tests share: the demo recordings (clean and defective), made once, and a real
PostgreSQL server per test module with a fresh database per test."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pipelines.demo import make_demo_recordings
from tests.servers import create_database, postgres_server


@pytest.fixture(scope="session")
def recordings(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo-recordings")
    make_demo_recordings(folder)
    return folder


@pytest.fixture(scope="module")
def pg_server():
    """A PostgreSQL server on loopback for the module's tests (skipped, with the reason, where
    Debian's package is missing)."""
    with postgres_server() as url:
        yield url


@pytest.fixture
def pg_url(pg_server, monkeypatch):
    """A fresh database on that server, configured as the store's instance and registry."""
    url = create_database(pg_server, f"db_{uuid.uuid4().hex[:10]}")
    monkeypatch.setenv("EMBODIQ_POSTGRES_URL", url)
    return url
