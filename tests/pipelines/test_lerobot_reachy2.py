"""Reachy 2 LeRobot datasets: the robot_type brings the reachy2 profile and mapping, the 19
unnamed channels of Pollen's recorder land on the profile's joints, and LeRobot's own reachy2
channels (named, in degrees) are converted."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from checks.registry import run_episode_checks
from pipelines.cli.main import app
from pipelines.sources import discover, read_source
from robots.profile import get_profile
from schemas.quality_profile import load_quality_profile
from tests.pipelines.lerobot_folders import write_v30

ARM = ["shoulder_pitch", "shoulder_roll", "elbow_yaw", "elbow_pitch", "wrist_roll", "wrist_pitch",
       "wrist_yaw"]
POLLEN_ORDER = ([f"l_{j}" for j in ARM] + ["l_hand_finger"] + [f"r_{j}" for j in ARM]
                + ["r_hand_finger", "neck_roll", "neck_pitch", "neck_yaw"])


def test_the_reachy2_sample_lands_on_the_profile(shared_data):
    root = shared_data / "lerobot-v30-reachy2"
    refs, bad = discover([root])
    assert not bad and len(refs) == 3
    quality = load_quality_profile()
    prof = get_profile("reachy2")
    for ref in refs:
        res = read_source(ref)
        ep = res.episode
        assert ep.metadata.robot_model == "reachy2"
        assert any(f.check_id == "schema.inferred" and "lerobot-reachy2.toml" in f.message
                   for f in res.findings)
        js = ep.streams["joint_pos"]
        assert js.names == POLLEN_ORDER and ep.streams["action"].names == POLLEN_ORDER
        findings = res.findings + run_episode_checks(ep, prof, quality)
        ids = {f.check_id for f in findings}
        assert "schema.robot" not in ids, [f.message for f in findings]
        # the measured positions are inside the robot's limits; the right gripper's command
        # squeezes past closed (below 0 rad), which the limit check reports on the action alone
        limits = [f for f in findings if f.check_id == "value.joint_limit"]
        assert all(f.stream == "action" and "r_hand_finger" in f.message for f in limits), \
            [f.message for f in limits]
        # recorded in radians: read unchanged
        assert 2.0 < float(np.median(js.values[:, POLLEN_ORDER.index("l_hand_finger")])) < 2.3


def test_the_sample_is_graded_with_the_profile_by_the_cli(shared_data):
    res = CliRunner().invoke(app, ["check", str(shared_data / "lerobot-v30-reachy2"), "--json",
                                   "--workers", "1"])
    doc = json.loads(res.stdout)
    per_episode = [{f["check_id"] for f in e["findings"] if f["severity"] != "info"}
                   for e in doc["episodes"]]
    for ids in per_episode:
        assert {"schema.metadata", "schema.camera"} <= ids and "schema.robot" not in ids
    stuck = [f["message"] for f in doc["dataset_findings"]
             if f["check_id"] == "dataset.stuck_channel"]
    assert any(m.startswith("joint_pos/l_hand_finger") for m in stuck)
    assert any(m.startswith("action/r_hand_finger") for m in stuck)


def test_lerobot_reachy2_channels_in_degrees_are_converted(tmp_path):
    """LeRobot's reachy2 robot names its channels after the SDK and records degrees."""
    names = (["neck_yaw.pos", "neck_pitch.pos", "neck_roll.pos"]
             + [f"r_{j}.pos" for j in ARM] + ["r_gripper.pos"]
             + [f"l_{j}.pos" for j in ARM] + ["l_gripper.pos", "l_antenna.pos",
                                               "r_antenna.pos"])
    n = 90
    base = np.zeros(len(names))
    base[names.index("r_elbow_pitch.pos")] = -90.0
    base[names.index("l_elbow_pitch.pos")] = -90.0
    base[names.index("r_shoulder_roll.pos")] = -15.0
    base[names.index("l_shoulder_roll.pos")] = 15.0
    base[names.index("r_gripper.pos")] = 60.0
    base[names.index("l_gripper.pos")] = 60.0
    swing = 10.0 * np.sin(np.linspace(0, 2 * np.pi, n))[:, None]
    clean = (base + swing).astype(np.float32)
    past = clean.copy()
    past[30:40, names.index("r_wrist_pitch.pos")] = 50.0  # past the 42.5 deg Orbita3D cone
    root = write_v30(tmp_path / "reachy2_deg", "reachy2", names, [clean, past])
    quality = load_quality_profile()
    prof = get_profile("reachy2")
    got = []
    for ref in discover([root])[0]:
        res = read_source(ref)
        ep = res.episode
        assert ep.streams["joint_pos"].names[names.index("r_gripper.pos")] == "r_hand_finger"
        findings = run_episode_checks(ep, prof, quality)
        got.append([f for f in findings if f.check_id in ("value.joint_limit", "schema.robot")])
        js = ep.streams["joint_pos"]
        j = names.index("r_elbow_pitch.pos")
        assert np.allclose(js.values[:, j], np.radians(clean[:, j].astype(np.float64)),
                           atol=1e-6)
    assert got[0] == [], [f.message for f in got[0]]
    assert got[1] and all("r_wrist_pitch" in f.message for f in got[1])
