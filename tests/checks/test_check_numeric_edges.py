"""The numeric checks at their edges: measured lags, places, tiny and empty streams, long
clean recordings and other rates, and the strict profile's escalations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from checks.registry import run_episode_checks
from pipelines.synthetic import EpisodePlan, generate_episode, plant_defect
from robots.profile import get_profile
from schemas.findings import Severity
from schemas.quality_profile import load_quality_profile

DEFAULT = load_quality_profile("default")
STRICT = load_quality_profile("strict")
H1 = get_profile("unitree-h1")
NUMERIC = ("time.", "value.", "motion.", "action.", "episode.duration")


def _episode(**kw):
    kw.setdefault("cameras", ())
    return generate_episode(H1, EpisodePlan(**kw))


def _numeric(findings):
    return [f for f in findings if f.check_id.startswith(NUMERIC)]


def _shift_action(ep, seconds: float):
    a = ep.streams["action"]
    streams = dict(ep.streams)
    streams["action"] = replace(a, timestamps=a.timestamps + int(seconds * 1e9))
    return replace(ep, streams=streams)


@pytest.fixture(scope="module")
def base():
    return _episode(duration_s=12.0, seed=31)


@pytest.mark.parametrize("shift_s", [-0.7, 0.35])
def test_tracking_measures_the_lag(base, shift_s):
    """The state follows the action by the plan's 0.1 s lead minus the shift; outside 0-0.5 s
    the finding carries the measured lag, to a grid step."""
    ep = _shift_action(base, shift_s)
    hits = [f for f in run_episode_checks(ep, H1, DEFAULT, only=["action.tracking"])]
    assert len(hits) == 1, [f.message for f in hits]
    expected = 0.1 - shift_s
    assert hits[0].severity is Severity.WARNING
    assert hits[0].value == pytest.approx(expected, abs=0.03), hits[0].message
    assert hits[0].threshold == 0.5


def test_tracking_accepts_a_lag_inside_the_window(base):
    ep = _shift_action(base, -0.25)  # state 0.35 s behind: a slow controller, still fine
    assert not run_episode_checks(ep, H1, DEFAULT, only=["action.tracking"])


def test_tracking_flags_an_action_that_the_state_ignores(base):
    a = base.streams["action"]
    rng = np.random.default_rng(0)
    ep = replace(base, streams={**base.streams, "action": replace(
        a, values=a.values[rng.permutation(a.n_samples)])})
    hits = run_episode_checks(ep, H1, DEFAULT, only=["action.tracking"])
    assert hits and "does not follow" in hits[0].message


def test_sync_finding_spans_the_offset(base):
    imu = base.streams["imu"]
    ep = replace(base, streams={**base.streams, "imu": replace(
        imu, timestamps=imu.timestamps + 60_000_000)})
    hits = run_episode_checks(ep, H1, DEFAULT, only=["time.sync"])
    assert len(hits) == 1
    f = hits[0]
    assert f.severity is Severity.WARNING and f.stream == "imu"
    assert f.value == pytest.approx(0.06, abs=0.002)
    ref = base.streams["joint_pos"].timestamps
    assert f.t_end_ns - f.t_start_ns == pytest.approx(60_000_000, abs=2_000_000)
    assert f.t_start_ns in (int(ref[0]), int(ref[-1]))


def test_gap_finding_marks_the_longest_gap(base):
    s = base.streams["joint_pos"]
    keep = np.ones(s.n_samples, bool)
    keep[100:104] = False  # 4 samples lost: a short gap
    keep[300:330] = False  # 30 samples lost: the longest
    ep = replace(base, streams={**base.streams, "joint_pos": replace(
        s, timestamps=s.timestamps[keep], values=s.values[keep])})
    f = next(f for f in run_episode_checks(ep, H1, DEFAULT, only=["time.gap"])
             if f.stream == "joint_pos")
    assert f.value == 34
    assert f.severity is Severity.ERROR  # 34 of 600 samples: above 5%
    assert (f.t_start_ns, f.t_end_ns) == (int(s.timestamps[299]), int(s.timestamps[330]))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
def test_tiny_streams_never_crash_a_check(base, n):
    streams = {k: replace(s, timestamps=s.timestamps[:n], values=s.values[:n])
               for k, s in base.streams.items()}
    ep = replace(base, streams=streams)
    findings = run_episode_checks(ep, H1, DEFAULT)
    crashed = [f.message for f in findings if "could not run" in f.message]
    assert not crashed


def test_a_wholly_nan_stream_is_one_clear_finding_per_stream(base):
    s = base.streams["joint_vel"]
    ep = replace(base, streams={**base.streams, "joint_vel": replace(
        s, values=np.full_like(s.values, np.nan))})
    findings = _numeric(run_episode_checks(ep, H1, DEFAULT))
    assert not [f for f in findings if "could not run" in f.message]
    nonfinite = [f for f in findings if f.check_id == "value.nonfinite"]
    assert len(nonfinite) == 1 and nonfinite[0].stream == "joint_vel"
    assert nonfinite[0].value == s.values.size
    assert nonfinite[0].t_start_ns == int(s.timestamps[0])
    assert nonfinite[0].t_end_ns == int(s.timestamps[-1])


CLEAN = {
    "60 s at 50 Hz": {"duration_s": 60.0, "seed": 41},
    "60 s at 200 Hz": {"duration_s": 60.0, "rate_hz": 200.0, "seed": 42},
    "2 s at 30 Hz": {"duration_s": 2.0, "rate_hz": 30.0, "seed": 43},
    "2 s at 200 Hz, 200 Hz IMU": {"duration_s": 2.0, "rate_hz": 200.0, "imu_rate_hz": 200.0,
                                  "seed": 44},
    "100 Hz, 100 Hz IMU, slow controller": {"rate_hz": 100.0, "imu_rate_hz": 100.0,
                                            "action_lead_s": 0.3, "seed": 45},
    "unlabelled": {"success": None, "seed": 46},
}


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_clean_recordings_raise_no_numeric_alarm(name):
    ep = _episode(**CLEAN[name])
    bad = [f.message for f in _numeric(run_episode_checks(ep, H1, STRICT))
           if f.severity is not Severity.INFO]
    assert not bad


@pytest.mark.parametrize("check_id", ["time.gap", "time.sync", "value.stale", "value.spike",
                                      "value.velocity_limit", "time.rate"])
def test_strict_profile_turns_training_hazards_into_errors(base, check_id):
    ep = generate_episode(H1, EpisodePlan(duration_s=8.0, seed=3))
    planted = plant_defect(ep, check_id, seed=5)
    hits = [f for f in run_episode_checks(planted, H1, STRICT, only=[check_id])]
    assert hits and all(f.severity is Severity.ERROR for f in hits), [f.message for f in hits]
