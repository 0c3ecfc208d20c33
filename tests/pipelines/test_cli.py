"""The command line as users call it: exit statuses, the JSON document, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli.main import app
from pipelines.demo import DEMO_SET
from tests.pipelines.demo_files import copy_recording

runner = CliRunner()
CLEAN = [r for r in DEMO_SET if r.defect is None]
EXPECTED_F = {
    "value.nonfinite": "value.nonfinite",
    "value.joint_limit": "value.joint_limit",
    "time.gap": "time.gap",
    "time.non_monotonic": "time.non_monotonic",
    "schema.metadata": "schema.metadata",
    "schema.unreadable": "schema.unreadable",
}


def _check_json(*args: str) -> tuple[int, dict]:
    res = runner.invoke(app, ["check", *args, "--json"])
    return res.exit_code, json.loads(res.stdout)


def test_check_clean_recordings_grade_a_without_warnings(demo_recordings, tmp_path):
    for rec in CLEAN:
        copy_recording(demo_recordings, rec, tmp_path)
    code, doc = _check_json(str(tmp_path))
    assert code == 0
    assert len(doc["episodes"]) == len(CLEAN)
    for e in doc["episodes"]:
        bad = [f for f in e["findings"] if f["severity"] != "info"]
        assert e["grade"] == "A" and e["passed"] and not bad, (e["source"], bad)
        assert e["episode_uid"].startswith("ep-")
    assert all(f["severity"] == "info" for f in doc["dataset_findings"])



def test_check_json_puts_one_episode_on_each_line(demo_recordings, tmp_path):
    for rec in CLEAN:
        copy_recording(demo_recordings, rec, tmp_path)
    res = runner.invoke(app, ["check", str(tmp_path), "--json"])
    doc = json.loads(res.stdout)
    lines = res.stdout.splitlines()
    for e in doc["episodes"]:  # each episode whole on its own line (grep, diff)
        (line,) = [x for x in lines if f'"source": {json.dumps(e["source"])}' in x]
        assert json.loads(line.rstrip(",")) == e
    assert lines[0] == "{" and lines[-1] == "}"
    assert [x.split('": ', 1)[0][1:] for x in lines if x.startswith('"')] == list(doc)

@pytest.mark.parametrize("defect", sorted(EXPECTED_F))
def test_check_planted_defects_fail_with_the_right_check(demo_recordings, tmp_path, defect):
    rec = next(r for r in DEMO_SET if r.defect == defect)
    copy_recording(demo_recordings, rec, tmp_path)
    code, doc = _check_json(str(tmp_path / rec.file))
    assert code == 1
    (entry,) = doc["episodes"]
    assert entry["grade"] == "F" and not entry["passed"]
    errors = {f["check_id"] for f in entry["findings"] if f["severity"] == "error"}
    assert EXPECTED_F[defect] in errors
    for f in entry["findings"]:
        assert set(f) >= {"check_id", "severity", "stream", "value", "threshold", "t_start_ns",
                          "t_end_ns", "message"}


def test_check_reports_a_file_that_is_not_a_recording(tmp_path):
    junk = tmp_path / "notes.bin"
    junk.write_bytes(b"definitely not hdf5")
    code, doc = _check_json(str(junk))
    assert code == 1
    (entry,) = doc["episodes"]
    assert entry["grade"] == "F"
    assert entry["findings"][0]["check_id"] == "schema.unreadable"
    assert "notes.bin" in entry["findings"][0]["message"]


def test_check_bad_profile_is_usage_error(demo_recordings, tmp_path):
    prof = tmp_path / "mine.toml"
    prof.write_text('[checks."time.gap"]\nmax_gap_periodz = 3\n')
    res = runner.invoke(app, ["check", str(demo_recordings / CLEAN[0].file), "--profile",
                              str(prof)])
    assert res.exit_code == 2
    assert "max_gap_periodz" in res.stderr and "Traceback" not in res.output
    res = runner.invoke(app, ["check", str(demo_recordings / CLEAN[0].file), "--profile",
                              "no-such-profile"])
    assert res.exit_code == 2 and "no-such-profile" in res.stderr


def test_check_missing_path_is_reported(tmp_path):
    code, doc = _check_json(str(tmp_path / "nope.h5"))
    assert code == 1 and doc["episodes"][0]["grade"] == "F"


@pytest.mark.slow
def test_demo_command_publishes_and_quarantines(tmp_path):
    res = runner.invoke(app, ["demo", "--store", str(tmp_path / "store")])
    assert res.exit_code == 0, res.output
    assert "published new version v0001 of 'demo'" in res.stdout
    assert "quarantined" in res.stdout
    store = Path(tmp_path / "store")
    assert (store / "datasets" / "demo" / "LATEST").read_text().strip() == "v0001"
    n_failed = sum(1 for r in DEMO_SET if r.defect and r.defect != "video.frozen")
    assert len(list((store / "quarantine").iterdir())) == n_failed
    # a second demo re-ingests the same files: nothing new
    res = runner.invoke(app, ["demo", "--store", str(store)])
    assert res.exit_code == 0 and "unchanged, still v0001" in res.stdout


def test_ingest_without_recordings_is_usage_error(tmp_path):
    (tmp_path / "empty").mkdir()
    res = runner.invoke(app, ["ingest", str(tmp_path / "empty"), "--dataset", "x",
                              "--store", str(tmp_path / "s")])
    assert res.exit_code == 2 and "no recordings" in res.stderr
