"""The examples in docs/recording-format.md write recordings the reader accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from schemas.recording import read_recording

DOC = Path(__file__).resolve().parents[2] / "docs" / "recording-format.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_documented_examples_write_valid_recordings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    writers = [b for b in _python_blocks() if "h5py.File(" in b or "write_recording(ep" in b]
    assert len(writers) == 2
    for block in writers:
        exec(compile(block, str(DOC), "exec"), {})
    for name in ("episode_0001.h5", "episode_0002.h5"):
        res = read_recording(tmp_path / name)
        assert res.episode is not None and res.findings == [], res.findings
    assert read_recording(tmp_path / "episode_0001.h5").episode.cameras["cam_head"].video_path


def test_documented_reading_example_runs(tmp_path, monkeypatch, capsys, good):
    monkeypatch.chdir(good.parent)
    good.rename(good.parent / "episode_0001.h5")
    block = next(b for b in _python_blocks() if "read_recording(" in b)
    exec(compile(block, str(DOC), "exec"), {})
    assert "refused" not in capsys.readouterr().out


@pytest.mark.parametrize("check_id", ["schema.unreadable", "schema.format", "schema.metadata",
                                      "schema.stream", "schema.camera", "schema.unsafe"])
def test_every_finding_id_is_documented(check_id):
    assert f"`{check_id}`" in DOC.read_text(encoding="utf-8")
