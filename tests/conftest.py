"""Shared fixtures: the real sample data beside the checkout, temp stores, demo recordings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the public sample data is not at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path_factory, monkeypatch):
    """No test ever touches the checkout's default store."""
    monkeypatch.setenv("EMBODIQ_STORE", str(tmp_path_factory.mktemp("default-store")))
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
