"""Recordings of robots without a profile, as users check them: a native file of an unprofiled
model and the Reachy2 LeRobot sample (under an unprofiled robot type) are judged by every check
that needs no profile."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

from typer.testing import CliRunner

from pipelines.cli.main import app
from pipelines.processing import assess_ref
from pipelines.report import build_report
from pipelines.sources import discover
from pipelines.synthetic import EpisodePlan, generate_episode, plant_defect
from robots.profile import ProfileCatalog, get_profile
from schemas.quality_profile import load_quality_profile
from schemas.recording_writer import write_recording

runner = CliRunner()
SKIPPED = "skipped for lack of a profile: value.effort_limit, value.joint_limit, " \
          "value.velocity_limit"


def _write_unknown(path, defect=None):
    ep = generate_episode(get_profile("unitree-h1"), EpisodePlan(duration_s=5.0, seed=9))
    if defect:
        ep = plant_defect(ep, defect)
    write_recording(replace(ep, metadata=replace(ep.metadata, robot_model="acme-unknown")), path)
    return path


def _check(*args):
    res = runner.invoke(app, ["check", *args, "--json"])
    return res.exit_code, json.loads(res.stdout)


def test_check_an_unprofiled_robot(tmp_path):
    clean = _write_unknown(tmp_path / "in" / "clean.hdf5")
    code, doc = _check(str(clean), "--store", str(tmp_path / "s"))
    assert code == 0
    (e,) = doc["episodes"]
    assert e["passed"] and e["grade"] == "B"
    robot = [f for f in e["findings"] if f["check_id"] == "schema.robot"]
    assert len(robot) == 1 and robot[0]["severity"] == "warning"
    assert robot[0]["message"].endswith(SKIPPED)
    code, doc = _check(str(clean), "--store", str(tmp_path / "s"), "--profile", "strict")
    assert code == 1 and doc["episodes"][0]["grade"] == "F"


def test_a_planted_nan_in_an_unprofiled_robot_still_fails(tmp_path):
    bad = _write_unknown(tmp_path / "in" / "nan.hdf5", "value.nonfinite")
    code, doc = _check(str(bad), "--store", str(tmp_path / "s"))
    assert code == 1
    errors = [f["check_id"] for f in doc["episodes"][0]["findings"] if f["severity"] == "error"]
    assert errors == ["value.nonfinite"]


def test_reachy2_sample_is_checked_without_a_profile(shared_data, tmp_path):
    # the sample under a robot type no profile claims (reachy2 itself has a shipped profile)
    root = tmp_path / "reachy-prototype"
    shutil.copytree(shared_data / "lerobot-v30-reachy2", root)
    info = json.loads((root / "meta/info.json").read_text())
    (root / "meta/info.json").write_text(json.dumps({**info, "robot_type": "reachy-proto"}))
    refs, _ = discover([root])
    catalog = ProfileCatalog()
    a = assess_ref(refs[1], load_quality_profile("default"), catalog)
    robot = [f for f in a.findings if f.check_id == "schema.robot"]
    assert len(robot) == 1 and robot[0].severity.value == "warning"
    assert "'reachy-proto' has no robot profile" in robot[0].message
    assert robot[0].message.endswith(SKIPPED)
    # profile-free checks judged the data: the action has a spike and a pinned channel
    assert {"value.spike", "action.saturation"} <= {f.check_id for f in a.findings}
    # the sample still fails, but only on what its files contradict, never on its robot
    errors = {f.check_id for f in a.findings if f.severity.value == "error"}
    assert errors == {"schema.metadata", "schema.camera"}
    strict = assess_ref(refs[1], load_quality_profile("strict"), catalog)
    assert [f.severity.value for f in strict.findings if f.check_id == "schema.robot"] == ["error"]


def test_report_says_what_was_skipped(tmp_path):
    _write_unknown(tmp_path / "in" / "clean.hdf5")
    html = build_report(tmp_path / "report.html", paths=[tmp_path / "in"]).read_text()
    assert 'data-check="schema.robot" data-severity="warning"' in html
    assert SKIPPED in html
