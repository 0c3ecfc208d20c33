"""``embodiq report`` on the command line: the file it writes and its one-sentence errors."""

from __future__ import annotations

import pytest
from export_fixtures import HandEpisode, write_version
from typer.testing import CliRunner

from pipelines.cli.main import app
from pipelines.store import Store


@pytest.fixture
def store(tmp_path) -> Store:
    st = Store(tmp_path / "store")
    write_version(st, "lab", [HandEpisode("ep-a"), HandEpisode("ep-f", passed=False, started=1)])
    return st


def _run(store: Store, *args: str):
    return CliRunner().invoke(app, ["report", *args, "--store", str(store.root)])


def test_report_of_a_published_dataset(store, tmp_path):
    out = tmp_path / "sub" / "lab.html"
    res = _run(store, "lab", "--out", str(out), "--max-episodes", "0", "--quiet")
    assert res.exit_code == 0, res.output
    assert f"report written to {out}" in res.output.replace("\n", "")
    text = out.read_text()
    assert "Quality report — lab v0001" in text and "ep-a" in text and "ep-f" in text
    assert "0 episodes are plotted in detail (--max-episodes)" in text


def test_unknown_dataset_or_path_is_one_clear_error(store, tmp_path):
    res = _run(store, "nope", "--out", str(tmp_path / "x.html"))
    assert res.exit_code == 2
    assert "'nope' is neither a published dataset in" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "x.html").exists()


def test_missing_version_is_one_clear_error(store, tmp_path):
    res = _run(store, "lab", "--version", "7", "--out", str(tmp_path / "x.html"))
    assert res.exit_code == 2
    assert "version 7 of dataset 'lab' does not exist" in res.output.replace("\n", "")
    assert "Traceback" not in res.output and not (tmp_path / "x.html").exists()


def test_unwritable_output_is_one_clear_error(store, tmp_path):
    (tmp_path / "a-file").write_text("x")
    res = _run(store, "lab", "--out", str(tmp_path / "a-file" / "r.html"), "--quiet")
    assert res.exit_code == 1
    assert "the report could not be written or read" in res.output.replace("\n", "")
    assert "Traceback" not in res.output


def test_a_report_never_overwrites_the_store_or_a_recording(store, tmp_path, demo_recordings):
    """``--out`` pointed at a published version's manifest (through a symlink too) or at the
    recording the report reads is refused: the report replaces its file, and a manifest so
    replaced broke the dataset for good. A report beside the recordings is welcome."""
    from pipelines.demo import DEMO_SET
    from tests.pipelines.demo_files import copy_recording

    manifest = store.version_dir("lab") / "manifest.json"
    before = manifest.read_bytes()
    alias = tmp_path / "alias"
    alias.symlink_to(store.root)
    for out in (manifest, alias / "datasets" / "lab" / "v0001" / "manifest.json"):
        res = _run(store, "lab", "--out", str(out), "--quiet")
        assert res.exit_code == 2, res.output
        assert "lies inside the store" in res.output and "a report never writes there" in \
            res.output.replace("\n", " ")
    assert manifest.read_bytes() == before
    folder = tmp_path / "session"
    src = copy_recording(demo_recordings, next(r for r in DEMO_SET if r.defect is None), folder)
    data = src.read_bytes()
    res = _run(store, str(src), "--out", str(src), "--quiet")
    assert res.exit_code == 2 and "is the recording" in res.output
    assert src.read_bytes() == data
    beside = _run(store, str(folder), "--out", str(folder / "report.html"), "--quiet")
    assert beside.exit_code == 0, beside.output
