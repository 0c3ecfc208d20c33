"""Dataset-level checks over episode digests."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from checks.digest import EpisodeDigest, digest_episode
from checks.registry import run_dataset_checks
from pipelines.synthetic import EpisodePlan, generate_episode
from robots.profile import get_profile
from schemas.findings import Severity
from schemas.quality_profile import load_quality_profile

PROFILE = load_quality_profile("default")
H1 = get_profile("unitree-h1")
UID = "CNUNTRH1000100000000000000SN01"[:29]


def _digest(seed: int, duration: float = 6.0, **md) -> EpisodeDigest:
    ep = generate_episode(H1, EpisodePlan(duration_s=duration, seed=seed, cameras=()))
    d = digest_episode(ep, f"ep-{seed:04d}", robot_uid=UID)
    return replace(d, **md)


@pytest.fixture(scope="module")
def clean_set() -> list[EpisodeDigest]:
    return [_digest(s, 6.0 + 0.2 * (s % 3)) for s in range(10)]


def test_clean_set_has_only_info(clean_set):
    findings = run_dataset_checks(clean_set, PROFILE)
    assert all(f.severity is Severity.INFO for f in findings), [f.message for f in findings]
    assert {f.stream for f in findings if f.check_id == "dataset.balance"} == {
        "task", "robot", "operator", "site"}


def test_digest_round_trips_json(clean_set):
    d = clean_set[0]
    assert EpisodeDigest.from_dict(d.to_dict()) == d


def test_duplicate_flags_the_later_copy(clean_set):
    copy = replace(clean_set[2], episode_uid="ep-copy", operator_id="op_99")
    findings = run_dataset_checks([*clean_set, copy], PROFILE)
    dup = [f for f in findings if f.check_id == "dataset.duplicate"]
    assert len(dup) == 1 and dup[0].severity is Severity.ERROR
    assert dup[0].episode_uids == ("ep-copy",) and clean_set[2].episode_uid in dup[0].message


def test_uid_conflicts_both_ways(clean_set):
    other_robot = replace(clean_set[1], robot_serial="SN99")
    two_uids = replace(clean_set[3], robot_uid="CNUNTRH1000100000000000000077")
    findings = [f for f in run_dataset_checks([*clean_set, other_robot, two_uids], PROFILE)
                if f.check_id == "dataset.uid_conflict"]
    assert len(findings) == 2 and all(f.severity is Severity.ERROR for f in findings)


def test_length_outlier(clean_set):
    long_one = _digest(99, 30.0)
    f = [f for f in run_dataset_checks([*clean_set, long_one], PROFILE)
         if f.check_id == "dataset.length_outlier"]
    assert [x.episode_uids for x in f] == [("ep-0099",)]


def test_stuck_channel(clean_set):
    stuck = []
    for d in clean_set:
        s = d.streams["joint_pos"]
        mins, maxs = list(s.min), list(s.max)
        maxs[4] = mins[4] + 1e-5
        stuck.append(replace(d, streams={**d.streams, "joint_pos": replace(s, max=maxs)}))
    f = [f for f in run_dataset_checks(stuck, PROFILE) if f.check_id == "dataset.stuck_channel"]
    assert len(f) == 1 and H1.joint_names[4] in f[0].message
    assert f[0].severity is Severity.WARNING and len(f[0].episode_uids) == len(clean_set)


def test_drift(clean_set):
    drifted = []
    for i, d in enumerate(clean_set):
        s = d.streams["joint_pos"]
        mean = list(s.mean)
        mean[0] += 0.0 if i < 5 else 1.0
        drifted.append(replace(d, streams={**d.streams, "joint_pos": replace(s, mean=mean)}))
    f = [f for f in run_dataset_checks(drifted, PROFILE) if f.check_id == "dataset.drift"
         and "joint_pos/" + H1.joint_names[0] in f.message]
    assert f and f[0].value > 3


def test_content_hash_ignores_metadata_and_clock_origin():
    a = generate_episode(H1, EpisodePlan(seed=4, cameras=()))
    b = generate_episode(H1, EpisodePlan(seed=4, cameras=(), operator_id="op_1"))
    for s in b.streams.values():
        s.timestamps = s.timestamps + 10**12
    assert digest_episode(a, "x").content_hash == digest_episode(b, "y").content_hash
    b.streams["joint_pos"].values = b.streams["joint_pos"].values + np.float64(1e-9)
    assert digest_episode(a, "x").content_hash != digest_episode(b, "y").content_hash
