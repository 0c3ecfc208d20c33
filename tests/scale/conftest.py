"""The demo recordings (clean and defective), made once for the scale tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.demo import make_demo_recordings


@pytest.fixture(scope="session")
def recordings(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo-recordings")
    make_demo_recordings(folder)
    return folder
