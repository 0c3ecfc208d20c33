"""A robot model without a profile: every check that needs none still runs, the ones that need
one are named as skipped, and whether that fails the gate is the quality profile's choice."""

from __future__ import annotations

from dataclasses import replace

import pytest

from checks.grading import grade_of
from checks.registry import all_checks, run_episode_checks
from pipelines.synthetic import EpisodePlan, generate_episode, plant_defect
from robots.profile import get_profile
from schemas.findings import Severity
from schemas.quality_profile import QualityProfileError, load_quality_profile

DEFAULT = load_quality_profile("default")
STRICT = load_quality_profile("strict")
H1 = get_profile("unitree-h1")
NEEDS_ROBOT = ["value.effort_limit", "value.joint_limit", "value.velocity_limit"]


def _unknown(ep, model="acme-unknown"):
    """``ep`` recorded by a robot model no profile describes."""
    return replace(ep, metadata=replace(ep.metadata, robot_model=model))


@pytest.fixture(scope="module")
def clean():
    return generate_episode(H1, EpisodePlan(duration_s=6.0, seed=5))


def _robot_findings(findings):
    return [f for f in findings if f.check_id == "schema.robot"]


def test_the_profile_dependent_checks_declare_it():
    declared = sorted(c for c, s in all_checks().items() if s.needs_robot)
    assert declared == NEEDS_ROBOT


def test_default_profile_warns_and_lists_the_skipped_checks(clean):
    findings = run_episode_checks(_unknown(clean), None, DEFAULT)
    robot = _robot_findings(findings)
    assert len(robot) == 1 and robot[0].severity is Severity.WARNING
    msg = robot[0].message
    assert "'acme-unknown' has no robot profile" in msg
    assert "robots/profiles/acme-unknown.toml" in msg
    assert msg.endswith("skipped for lack of a profile: " + ", ".join(NEEDS_ROBOT))
    assert robot[0].value == len(NEEDS_ROBOT)
    assert not [f for f in findings if f.check_id in NEEDS_ROBOT]
    # a clean recording of an unprofiled robot is checked and passes, one warning down
    assert grade_of(findings) == "B", [f.message for f in findings]


def test_profile_free_checks_still_run(clean):
    for check_id in ("value.nonfinite", "time.gap", "time.non_monotonic"):
        ep = _unknown(plant_defect(clean, check_id))
        findings = run_episode_checks(ep, None, DEFAULT)
        hit = [f for f in findings if f.check_id == check_id]
        assert hit and hit[0].severity is Severity.ERROR, check_id
        assert hit[0].stream == "joint_pos"
        assert len(_robot_findings(findings)) == 1


def test_strict_profile_fails_an_unknown_robot(clean):
    findings = run_episode_checks(_unknown(clean), None, STRICT)
    robot = _robot_findings(findings)
    assert len(robot) == 1 and robot[0].severity is Severity.ERROR
    assert "skipped for lack of a profile: value.effort_limit" in robot[0].message
    assert grade_of(findings) == "F"


def test_joint_names_outside_a_known_profile_stay_an_error(clean):
    ep = replace(clean, streams=dict(clean.streams))
    ep.streams["joint_pos"] = replace(clean.streams["joint_pos"],
                                      names=["tail_joint", *clean.streams["joint_pos"].names[1:]])
    findings = run_episode_checks(ep, H1, DEFAULT)
    robot = _robot_findings(findings)
    assert len(robot) == 1 and robot[0].severity is Severity.ERROR
    assert "tail_joint" in robot[0].message and grade_of(findings) == "F"
    # the profile is known: nothing was skipped
    assert not [f for f in findings if "skipped" in f.message]


def test_a_known_robot_skips_nothing(clean):
    ep = plant_defect(clean, "value.joint_limit")
    findings = run_episode_checks(ep, H1, DEFAULT)
    assert [f for f in findings if f.check_id == "value.joint_limit"]
    assert not _robot_findings(findings)


def test_a_recording_that_names_no_robot(clean):
    robot = _robot_findings(run_episode_checks(_unknown(clean, ""), None, DEFAULT))
    assert len(robot) == 1 and robot[0].severity is Severity.WARNING
    assert "no robot_model names the robot" in robot[0].message
    assert "skipped for lack of a profile: value.effort_limit" in robot[0].message


def test_skipped_checks_are_said_even_with_schema_robot_off(clean, tmp_path):
    p = tmp_path / "quiet.toml"
    p.write_text('extends = "default"\n[checks."schema.robot"]\nenabled = false\n')
    findings = run_episode_checks(_unknown(clean), None, load_quality_profile(p))
    robot = _robot_findings(findings)
    assert len(robot) == 1 and robot[0].severity is Severity.INFO
    assert robot[0].message.endswith(", ".join(NEEDS_ROBOT))
    assert grade_of(findings) == "A"
    # only the asked-for checks run; a profile-dependent one among them is said to be skipped
    only = run_episode_checks(_unknown(clean), None, DEFAULT, only=["value.joint_limit"])
    assert [f.severity for f in only] == [Severity.INFO]
    assert only[0].message.endswith("skipped for lack of a profile: value.joint_limit")
    assert run_episode_checks(_unknown(clean), None, DEFAULT, only=["value.nonfinite"]) == []


def test_a_disabled_check_is_not_listed_as_skipped(clean, tmp_path):
    p = tmp_path / "no-effort.toml"
    p.write_text('extends = "default"\n[checks."value.effort_limit"]\nenabled = false\n')
    robot = _robot_findings(run_episode_checks(_unknown(clean), None, load_quality_profile(p)))
    assert robot[0].message.endswith("skipped for lack of a profile: value.joint_limit, "
                                     "value.velocity_limit")


def test_unknown_model_severity_per_robot_model(clean, tmp_path):
    p = tmp_path / "lab.toml"
    p.write_text('extends = "strict"\n'
                 '[robots."acme-unknown".checks."schema.robot"]\nunknown_model = "info"\n')
    prof = load_quality_profile(p)
    assert _robot_findings(run_episode_checks(_unknown(clean), None, prof))[0].severity \
        is Severity.INFO
    other = _robot_findings(run_episode_checks(_unknown(clean, "acme-other"), None, prof))
    assert other[0].severity is Severity.ERROR


@pytest.mark.parametrize("body, error", [
    ('[checks."schema.robot"]\nunknown_model = "fatal"\n',
     "checks.\"schema.robot\".unknown_model: 'fatal' is not one of error, warning, info"),
    ('[checks."schema.robot"]\nunknown_model = 1\n',
     "checks.\"schema.robot\".unknown_model: '1' is not one of error, warning, info"),
    ('[checks."time.gap"]\nunknown_model = "error"\n',
     "checks.\"time.gap\".unknown_model: unknown threshold"),
])
def test_unknown_model_setting_is_validated(refused, body, error):
    p, message = refused("bad.toml", 'extends = "default"\n' + body, load_quality_profile,
                         QualityProfileError)
    assert str(p) in message and error in message


def test_builtin_profiles_document_the_choice():
    assert DEFAULT.settings("schema.robot").params["unknown_model"] == "warning"
    assert DEFAULT.settings("schema.robot").severity is Severity.ERROR
    assert STRICT.settings("schema.robot").params["unknown_model"] == "error"
