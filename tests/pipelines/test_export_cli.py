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


def test_where_with_ten_thousand_terms_is_refused_before_polars(store, tmp_path):
    """It used to overflow the SQL parser's stack (exit 139); a subprocess shows a crash."""
    import subprocess
    import sys

    where = " AND ".join(["passed"] * 10_000)
    res = subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", "export", "lab",
         "--format", "parquet", "--out", str(tmp_path / "o"), "--where", where, "--store",
         str(store.root)], capture_output=True, text=True)
    assert res.returncode == 2, res.stderr[-2000:]
    message = " ".join(res.stderr.split())
    assert "is not a valid filter" in message and "a filter may have at most 2,000" in message
    assert "Traceback" not in res.stderr and len(res.stderr) < 1000
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("where, message", [
    (" AND ".join(["passed"] * 150), "it has 149 operators, a filter may have at most 100"),
    ("(" * 17 + "passed" + ")" * 17, "nested more than 16 deep (at character 17)"),
    ("passed AND (grade = 'A'", "the '(' at character 12 is never closed"),
    ("passed) AND grade = 'A'", "the ')' at character 7 closes no '('"),
    ("grade = 'A", "the quote ' at character 9 is never closed"),
    ("grade COLLATE x", "it uses SQL that filters do not support"),
    ("passed AND", "it is not a valid SQL expression"),
])
def test_malformed_where_is_explained_in_plain_words(store, tmp_path, where, message):
    res = _run(store, "lab", "--format", "parquet", "--out", str(tmp_path / "o"),
               "--where", where)
    assert res.exit_code == 2, res.output
    text = " ".join(res.stderr.split())
    assert "is not a valid filter" in text and message in text, text
    # neither polars' parse tree nor a traceback reaches the user
    assert "Ident" not in text and "Span(" not in text and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_where_within_bounds_still_works(store, tmp_path):
    where = "passed AND (" + " OR ".join(["grade = 'A'"] * 40) + ") AND task <> 'it''s'"
    res = _run(store, "lab", "--format", "parquet", "--out", str(tmp_path / "o"), "--json",
               "--where", where)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["episodes"] == 2


@pytest.mark.parametrize("fps", ["-5", "0", "nan", "inf", "-inf", "0.5", "1e6"])
def test_unusable_fps_is_refused(store, tmp_path, fps):
    res = _run(store, "lab", "--format", "parquet", "--out", str(tmp_path / "o"), "--fps", fps)
    assert res.exit_code == 2, res.output
    assert "from 1 to 1000" in " ".join(res.stderr.split()) and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_fps_at_the_bounds_is_accepted(store, tmp_path):
    for fps in ("1", "1000"):
        res = _run(store, "lab", "--format", "parquet", "--out", str(tmp_path / fps), "--json",
                   "--fps", fps)
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["fps"] == float(fps)


@pytest.mark.parametrize("bad", ["file", "under-a-file"])
def test_store_that_cannot_be_a_folder_is_usage_error(store, tmp_path, bad):
    f = tmp_path / "plain-file"
    f.write_text("not a store")
    where = f if bad == "file" else f / "store"
    res = CliRunner().invoke(app, ["export", "lab", "--format", "parquet", "--out",
                                   str(tmp_path / "o"), "--store", str(where)])
    assert res.exit_code == 2, res.output
    assert str(where) in " ".join(res.stderr.split()) and "is a file" in res.stderr
    assert "Traceback" not in res.output
