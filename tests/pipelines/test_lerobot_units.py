"""LeRobot SO-100/SO-101/Koch datasets record joints in degrees or LeRobot's normalised ranges;
the shipped mappings declare it and embodiq converts to the profile's radians at read time, so
the limit checks judge the real motion."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from checks.registry import run_episode_checks
from pipelines.mapping import MAPPINGS_DIR, MappingError, convert_units, load_mapping
from pipelines.processing import assess_ref
from pipelines.sources import discover, read_source
from robots.profile import ProfileCatalog, get_profile
from schemas.episode import Stream
from schemas.quality_profile import load_quality_profile
from tests.pipelines.lerobot_folders import FPS, write_v21, write_v30

N = 120
MOTORS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
LIMIT_CHECKS = {"value.joint_limit", "value.velocity_limit", "schema.robot"}


def _motion(centre: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    """A slow swing about ``centre`` (one period over the episode), float32 like LeRobot's."""
    t = np.arange(N) / FPS
    return (centre + amplitude * np.sin(2 * np.pi * t / (N / FPS))[:, None]).astype(np.float32)


def _episodes_checked(root: Path, mapping: dict | None = None) -> list[tuple]:
    quality = load_quality_profile()
    out = []
    for ref in discover([root])[0]:
        res = read_source(ref, mapping)
        ep = res.episode
        assert ep is not None, [f.message for f in res.findings]
        findings = run_episode_checks(ep, get_profile(ep.metadata.robot_model), quality)
        out.append((ep, res.findings, [f for f in findings if f.check_id in LIMIT_CHECKS]))
    return out


def test_old_so100_dataset_in_degrees_is_judged_in_radians(tmp_path):
    """LeRobot < 0.3: main_<motor> names, body joints in degrees, gripper 0..100."""
    centre = np.array([0.0, 100.0, -90.0, -40.0, 0.0, 50.0])  # degrees; gripper percent
    swing = np.array([30.0, 25.0, 30.0, 20.0, 30.0, 30.0])  # <= 36 deg: under 1 rad/s
    clean = _motion(centre, swing)
    past = clean.copy()
    past[40:60, 0] = 130.0  # shoulder_pan at 130 deg = 2.27 rad, past the profile's 2.0 rad
    root = write_v21(tmp_path / "so100_pick", "so100", [f"main_{m}" for m in MOTORS],
                     [clean, past])
    (ep0, notes0, limits0), (_ep1, _notes1, limits1) = _episodes_checked(root)
    assert ep0.metadata.robot_model == "so100"
    js = ep0.streams["joint_pos"]
    assert js.names == list(MOTORS)
    assert np.allclose(js.values[:, 0], np.radians(clean[:, 0].astype(np.float64)), atol=1e-6)
    prof = get_profile("so100")
    grip = prof.joint("gripper")
    assert np.allclose(js.values[:, 5], grip.lower + clean[:, 5] / 100 * (grip.upper - grip.lower),
                       atol=1e-6)
    assert limits0 == [], [f.message for f in limits0]
    assert any("recorded in deg" in f.message for f in notes0)
    assert any(f.check_id == "schema.inferred" and "lerobot-so100.toml" in f.message
               for f in notes0)
    hits = [f for f in limits1 if f.check_id == "value.joint_limit"]
    assert hits and "shoulder_pan" in hits[0].message
    assert math.isclose(hits[0].value, math.radians(130.0) - prof.joint("shoulder_pan").upper,
                        rel_tol=1e-3)


def test_so101_dataset_in_lerobot_ranges(tmp_path):
    """LeRobot >= 0.3 (default use_degrees=false): body -100..100, gripper 0..100, spread over
    the profile's range; a value past the calibrated range is past the joint's limit."""
    clean = _motion(np.array([0.0, -10.0, 20.0, 0.0, 0.0, 40.0]),
                    np.array([60.0, 50.0, 50.0, 60.0, 80.0, 40.0]))
    past = clean.copy()
    past[10:20, 2] = 130.0  # elbow_flex beyond +100
    root = write_v30(tmp_path / "so101_pick", "so101_follower", [f"{m}.pos" for m in MOTORS],
                     [clean, past])
    (ep0, _n0, limits0), (_ep1, _n1, limits1) = _episodes_checked(root)
    assert limits0 == [], [f.message for f in limits0]
    elbow = get_profile("so101").joint("elbow_flex")
    vals = ep0.streams["joint_pos"].values[:, 2]
    assert np.allclose(vals, elbow.lower + (clean[:, 2] + 100) / 200 * (elbow.upper - elbow.lower),
                       atol=1e-6)
    assert np.allclose(ep0.streams["action"].values, ep0.streams["joint_pos"].values)
    hits = [f for f in limits1 if f.check_id == "value.joint_limit"]
    assert hits and "elbow_flex" in hits[0].message


def test_so101_recorded_with_degrees_through_a_user_mapping(tmp_path):
    """use_degrees=true is not recorded in the dataset: a copy of the shipped mapping with
    [units] set to "deg" says it, and degrees within the limits pass while past them fail."""
    text = (MAPPINGS_DIR / "lerobot-so101.toml").read_text()
    text = text.replace('.pos" = "range_m100_100"', '.pos" = "deg"')
    mfile = tmp_path / "so101-degrees.toml"
    mfile.write_text(text)
    mapping = load_mapping(mfile)
    clean = _motion(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 50.0]),
                    np.array([80.0, 80.0, 80.0, 80.0, 120.0, 40.0]))  # within +-95 deg etc.
    past = clean.copy()
    past[50:70, 3] = -110.0  # wrist_flex -110 deg: past -95 deg (-1.658 rad)
    root = write_v21(tmp_path / "so101_deg", "so101_follower", [f"{m}.pos" for m in MOTORS],
                     [clean, past])
    (ep0, _n0, limits0), (_ep1, _n1, limits1) = _episodes_checked(root, mapping)
    assert limits0 == [], [f.message for f in limits0]
    assert np.allclose(ep0.streams["joint_pos"].values[:, :5],
                       np.radians(clean[:, :5].astype(np.float64)), atol=1e-6)
    hits = [f for f in limits1 if f.check_id == "value.joint_limit"]
    assert hits and "wrist_flex" in hits[0].message


def test_koch_channels_map_to_the_mjcf_joints(tmp_path):
    clean = _motion(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 50.0]),
                    np.array([80.0, 80.0, 80.0, 80.0, 80.0, 40.0]))
    root = write_v21(tmp_path / "koch", "koch_follower", [f"{m}.pos" for m in MOTORS], [clean])
    [(ep, _notes, limits)] = _episodes_checked(root)
    assert ep.metadata.robot_model == "koch"
    assert ep.streams["joint_pos"].names == ["joint1", "joint2", "joint3", "joint4",
                                             "wrist_roll", "joint5"]
    assert limits == [], [f.message for f in limits]  # wrist_roll is known, unbounded
    assert any("wrist_roll (range_m100_100) left as recorded" in f.message for f in _notes)


def test_a_unit_the_mapping_does_not_know_is_refused(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text('robot_model = "so100"\n[units]\n"main_shoulder_pan" = "gradians"\n')
    with pytest.raises(MappingError, match=r"m\.toml: units\.\"main_shoulder_pan\" is "
                                           r"'gradians'; it must be one of"):
        load_mapping(f)


def test_a_range_without_a_profile_is_left_as_recorded_and_said():
    s = Stream("joint_pos", "joint_position", np.arange(3, dtype=np.int64),
               np.array([[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]]), ["a", "b"], "rad", 30.0)
    notes = convert_units(s, ["a.pos", "b"], {"units": {"a.pos": "range_m100_100",
                                                        "b": "deg"}, "_source": "m.toml"},
                          "no-such-robot")
    assert np.allclose(s.values[:, 0], [10.0, 30.0, 50.0])
    assert np.allclose(s.values[:, 1], np.radians([20.0, 40.0, 60.0]))
    msgs = " | ".join(n.message for n in notes)
    assert "b recorded in deg" in msgs and "a (range_m100_100) left as recorded" in msgs
    assert "no robot profile matches 'no-such-robot'" in msgs


def test_a_robot_type_that_is_an_alias_brings_its_profile_without_a_mapping(tmp_path):
    """No lerobot-aloha mapping ships, yet the robot_type 'aloha_bimanual' is an alias of the
    aloha profile: the episode is judged against it (limits too), not as an unknown robot."""
    aloha = get_profile("aloha")
    centre = np.array([(j.lower + j.upper) / 2 for j in aloha.joints])
    clean = _motion(centre, np.full(len(centre), 0.02))
    past = clean.copy()
    past[10:20, 1] = aloha.joints[1].upper + 0.3
    root = write_v21(tmp_path / "aloha_fold", "aloha_bimanual", aloha.joint_names,
                     [clean, past])
    quality = load_quality_profile()
    got = []
    for ref in discover([root])[0]:
        a = assess_ref(ref, quality, ProfileCatalog())
        got.append([f for f in a.findings if f.check_id in LIMIT_CHECKS])
    assert got[0] == [], [f.message for f in got[0]]
    assert {f.check_id for f in got[1]} == {"value.joint_limit"}  # state and action
    assert aloha.joints[1].name in got[1][0].message
