"""Shared fixtures: the real sample data beside the checkout, temp stores, demo recordings."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


#: ``refused(name, text, load, error)``: see :func:`refused`.
Refused = Callable[[str, str, Callable[[Path], Any], type[Exception]], tuple[Path, str]]


@pytest.fixture
def refused(tmp_path) -> Refused:
    """Write ``text`` to a file ``name`` and load it with ``load``, which must raise ``error``:
    the file and the error's message come back (every loader of a user file names it and the
    key at fault)."""

    def run(name: str, text: str, load: Callable[[Path], Any],
            error: type[Exception]) -> tuple[Path, str]:
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(error) as exc:
            load(p)
        return p, str(exc.value)

    return run
