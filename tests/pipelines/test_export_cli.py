"""``embodiq export`` on the command line: summary, JSON, exit codes and one-sentence errors."""

from __future__ import annotations

import json

import pytest
from export_fixtures import HandEpisode, write_version
from typer.testing import CliRunner

from pipelines.cli.main import app
from pipelines.store import Store


@pytest.fixture
def store(tmp_path) -> Store:
    st = Store(tmp_path / "store")
    write_version(st, "lab", [HandEpisode("ep-a", cameras=("cam",)),
                              HandEpisode("ep-b", cameras=("cam",), started=2),
                              HandEpisode("ep-f", passed=False, started=3)])
    return st


def _run(store: Store, *args: str):
    return CliRunner().invoke(app, ["export", *args, "--store", str(store.root)])


def test_export_prints_a_summary_and_json(store, tmp_path):
    res = _run(store, "lab", "--format", "lerobot", "--out", str(tmp_path / "lr"),
               "--split", "train=0.5,val=0.5", "--quiet")
    assert res.exit_code == 0, res.output
    assert "exported 2 episodes" in res.stdout and "80 frames" in res.stdout
    assert (tmp_path / "lr/meta/info.json").is_file()
    res = _run(store, "lab", "--format", "parquet", "--out", str(tmp_path / "pq"), "--json",
               "--where", "grade = 'A' AND passed", "--fps", "10", "--trim-idle")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["episodes"] == 2 and summary["frames"] == 40 and summary["fps"] == 10.0
    assert summary["command"].startswith("embodiq export lab --version 1 --format parquet")
    assert "--trim-idle" in summary["command"]
    assert summary["command"] in (tmp_path / "pq/README.md").read_text()


@pytest.mark.parametrize("args, message", [
    (["--where", "grade IN ("], "is not a valid filter"),
    (["--where", "true"], "failed the quality gate"),
    (["--split", "train=0.8"], "add up to 0.8"),
    (["--group-by", "shoe_size"], "not a column"),
    (["--version", "9"], "version 9 of dataset 'lab' does not exist"),
])
def test_bad_requests_exit_2_with_one_sentence(store, tmp_path, args, message):
    res = _run(store, "lab", "--format", "parquet", "--out", str(tmp_path / "o"), *args)
    assert res.exit_code == 2
    assert message in " ".join(res.stderr.split()) and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_unknown_dataset_and_busy_target(store, tmp_path):
    res = _run(store, "nope", "--format", "lerobot", "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and "dataset 'nope'" in res.stderr
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    res = _run(store, "lab", "--format", "parquet", "--out", str(busy))
    assert res.exit_code == 2 and "--force" in res.stderr
    res = _run(store, "lab", "--format", "parquet", "--out", str(busy), "--force", "-q")
    assert res.exit_code == 0 and (busy / "train").is_dir()
