"""Fixtures for pipeline tests: demo recordings written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.demo import make_demo_recordings


@pytest.fixture(scope="session")
def demo_recordings(tmp_path_factory) -> Path:
    """The full demo set (clean and defective) in one read-only folder."""
    folder = tmp_path_factory.mktemp("demo-recordings")
    make_demo_recordings(folder)
    for p in folder.iterdir():
        p.chmod(0o444)
    return folder
