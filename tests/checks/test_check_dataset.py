"""Dataset-level checks over episode digests."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from checks.digest import EpisodeDigest, digest_episode, digest_stream
from checks.kernels.episode_summary import held_and_last
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


def _by(findings, check_id):
    return [f for f in findings if f.check_id == check_id]


def test_digests_as_stored_json_dicts(clean_set):
    import json

    dicts = [json.loads(json.dumps(d.to_dict(), allow_nan=False)) for d in clean_set]
    copy = {**dicts[4], "episode_uid": "ep-copy", "started_at": "2026-01-01T00:00:00Z"}
    dup = _by(run_dataset_checks([*dicts, copy], PROFILE), "dataset.duplicate")
    assert [f.episode_uids for f in dup] == [("ep-copy",)]


def test_the_later_recording_is_the_duplicate_whatever_the_input_order(clean_set):
    early = replace(clean_set[0], episode_uid="ep-early", started_at="2025-01-01T00:00:00Z")
    dup = _by(run_dataset_checks([*clean_set, early], PROFILE), "dataset.duplicate")
    assert [f.episode_uids for f in dup] == [(clean_set[0].episode_uid,)]
    assert "ep-early" in dup[0].message


def test_length_outlier_when_most_durations_are_equal(clean_set):
    same = [replace(d, duration_s=6.0) for d in clean_set]
    f = _by(run_dataset_checks([*same, replace(same[0], episode_uid="long", duration_s=9.0,
                                               content_hash="x")], PROFILE),
            "dataset.length_outlier")
    assert [x.episode_uids for x in f] == [("long",)] and x_info(f)
    near = replace(same[0], episode_uid="near", duration_s=6.1, content_hash="y")
    assert not _by(run_dataset_checks([*same, near], PROFILE), "dataset.length_outlier")


def x_info(findings) -> bool:
    return all(f.severity is Severity.INFO and f.t_start_ns is None and f.t_end_ns is None
               for f in findings)


def test_length_outliers_are_judged_per_task(clean_set):
    other = [replace(d, task="fold towel", episode_uid=f"t-{i}", duration_s=30.0 + 0.5 * i,
                     content_hash=f"t{i}") for i, d in enumerate(clean_set[:6])]
    assert not _by(run_dataset_checks([*clean_set, *other], PROFILE), "dataset.length_outlier")
    few = _by(run_dataset_checks([*clean_set[:3], replace(clean_set[4], duration_s=60.0)],
                                 PROFILE), "dataset.length_outlier")
    assert few == []  # a task with fewer than min_episodes is not judged


def _stick(d: EpisodeDigest, j: int) -> EpisodeDigest:
    s = d.streams["joint_pos"]
    maxs = list(s.max)
    maxs[j] = s.min[j] + 1e-5
    return replace(d, streams={**d.streams, "joint_pos": replace(s, max=maxs)})


@pytest.mark.parametrize(("n_stuck", "flagged"), [(8, False), (9, True)])
def test_stuck_channel_share_limit(clean_set, n_stuck, flagged):
    ds = [_stick(d, 2) if i < n_stuck else d for i, d in enumerate(clean_set)]
    f = _by(run_dataset_checks(ds, PROFILE), "dataset.stuck_channel")
    assert bool(f) is flagged
    if flagged:
        assert f[0].episode_uids == tuple(d.episode_uid for d in clean_set[:n_stuck])
        assert f[0].value == pytest.approx(0.9) and f[0].stream == "joint_pos"


def _probe_set(slope: float, n: int = 12) -> tuple[list[np.ndarray], list[EpisodeDigest]]:
    """Digests whose one channel is drawn around ``slope * i`` in episode ``i``."""
    from checks.digest import digest_stream

    rng = np.random.default_rng(3)
    base = _digest(100, 2.0)
    raw, digests = [], []
    for i in range(n):
        x = rng.normal(slope * i, 0.2, (200, 1))
        raw.append(x)
        digests.append(replace(base, episode_uid=f"d-{i}", content_hash=f"h{i}",
                               started_at=f"2025-11-01T12:{i:02d}:00Z",
                               streams={"probe": digest_stream(x, "other", ["x"])}))
    return raw, digests


def test_drift_equals_the_pooled_numpy_figure():
    raw, digests = _probe_set(0.1)
    f = _by(run_dataset_checks(digests[::-1], PROFILE), "dataset.drift")  # order by start
    first, last = np.concatenate(raw[:3]), np.concatenate(raw[-3:])
    ref = abs(last.mean() - first.mean()) / np.sqrt((first.var() + last.var()) / 2)
    assert ref > 3 and len(f) == 1 and f[0].value == pytest.approx(ref)
    assert f[0].episode_uids == tuple(d.episode_uid for d in digests[:3] + digests[-3:])
    assert f[0].stream == "probe" and "probe/x" in f[0].message


def test_no_drift_in_a_steady_set_or_a_small_one():
    assert not _by(run_dataset_checks(_probe_set(0.0)[1], PROFILE), "dataset.drift")
    assert not _by(run_dataset_checks(_probe_set(1.0, n=7)[1], PROFILE), "dataset.drift")


def test_balance_counts_and_entropy(clean_set):
    ds = [replace(d, task="a" if i < 6 else "b", site="s1") for i, d in enumerate(clean_set[:8])]
    f = {x.stream: x for x in _by(run_dataset_checks(ds, PROFILE), "dataset.balance")}
    ref = -(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25))
    assert f["task"].value == pytest.approx(ref) and "a: 6, b: 2" in f["task"].message
    assert f["site"].value == 0.0 and "s1: 8" in f["site"].message
    assert len(f["robot"].episode_uids) == 8


def test_empty_dataset_has_no_findings():
    assert run_dataset_checks([], PROFILE) == []


def test_uid_conflict_names_robots_and_episodes(clean_set):
    other = replace(clean_set[1], episode_uid="ep-other", robot_serial="SN99")
    f = _by(run_dataset_checks([*clean_set, other], PROFILE), "dataset.uid_conflict")
    assert len(f) == 1 and "SN99" in f[0].message and "ep-other" in f[0].episode_uids
    assert set(f[0].episode_uids) == {d.episode_uid for d in clean_set} | {"ep-other"}


# ----------------------------------------------------------------- held values and end poses
def _held_reference(values: np.ndarray) -> np.ndarray:
    """Plain numpy: share of unchanged consecutive finite pairs, and the last finite value."""
    v = np.asarray(values, dtype=np.float64)
    out = np.full((v.shape[1], 2), np.nan)
    for j in range(v.shape[1]):
        a, b = v[:-1, j], v[1:, j]
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.any():
            out[j, 0] = np.mean(a[ok] == b[ok])
        fin = np.flatnonzero(np.isfinite(v[:, j]))
        if fin.size:
            out[j, 1] = v[fin[-1], j]
    return out


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(0, 40), st.integers(1, 4)),
              elements=st.sampled_from([0.0, 1.0, -2.5, np.nan, np.inf, -np.inf, 1e300])))
def test_held_and_last_matches_numpy(values):
    np.testing.assert_array_equal(held_and_last(np.ascontiguousarray(values)),
                                  _held_reference(values))


def _hold(d: EpisodeDigest, j: int, share: float) -> EpisodeDigest:
    s = d.streams["joint_pos"]
    held = list(s.held)
    held[j] = share
    return replace(d, streams={**d.streams, "joint_pos": replace(s, held=held)})


@pytest.mark.parametrize(("share", "n", "flagged"), [(0.9, 9, True), (0.9, 8, False),
                                                     (0.75, 10, False)])
def test_stuck_channel_catches_held_values(clean_set, share, n, flagged):
    ds = [_hold(d, 3, share) if i < n else d for i, d in enumerate(clean_set)]
    f = _by(run_dataset_checks(ds, PROFILE), "dataset.stuck_channel")
    assert bool(f) is flagged
    if flagged:
        assert "holds its value" in f[0].message and f[0].value == pytest.approx(0.9)


def test_a_channel_that_steps_once_is_held_in_its_digest():
    x = np.zeros((100, 2))
    x[:, 0] = np.linspace(0, 1, 100)
    x[60:, 1] = 0.5  # one step: 98 of 99 pairs unchanged
    d = digest_stream(x, "joint_position", ["moving", "step"])
    assert d.held[0] == 0.0 and d.held[1] == pytest.approx(98 / 99)
    assert d.last == [1.0, 0.5]


def _end_at(d: EpisodeDigest, j: int, value: float) -> EpisodeDigest:
    s = d.streams["joint_pos"]
    last = list(s.last)
    last[j] = value
    return replace(d, streams={**d.streams, "joint_pos": replace(s, last=last)})


def test_end_pose_outlier_flags_the_episode_that_ends_elsewhere(clean_set):
    assert not _by(run_dataset_checks(clean_set, PROFILE), "dataset.end_pose_outlier")
    ds = list(clean_set)
    far = ds[4].streams["joint_pos"].last
    ds[4] = _end_at(_end_at(ds[4], 0, far[0] + 2.0), 1, far[1] - 2.0)
    f = _by(run_dataset_checks(ds, PROFILE), "dataset.end_pose_outlier")
    assert [x.episode_uids for x in f] == [(ds[4].episode_uid,)]
    assert f[0].severity.value == "warning" and f[0].value > 4.0
    few = _by(run_dataset_checks(ds[2:6], PROFILE), "dataset.end_pose_outlier")
    assert few == []  # tasks with fewer than min_episodes are not judged


def test_old_digests_without_held_or_last_still_load(clean_set):
    d = clean_set[0].to_dict()
    for s in d["streams"].values():
        s.pop("held"), s.pop("last")
    back = EpisodeDigest.from_dict(d)
    assert back.streams["joint_pos"].held == []
    assert not _by(run_dataset_checks([back] * 6, PROFILE), "dataset.end_pose_outlier")


def test_drift_over_values_near_the_float_limit_is_silent(recwarn):
    raw, digests = _probe_set(0.0)
    from checks.digest import digest_stream

    x = raw[-1].copy()
    x[5, 0] = 1.5e308  # a corrupt sample: its square overflows
    digests[-1] = replace(digests[-1], streams={"probe": digest_stream(x, "other", ["x"])})
    assert not _by(run_dataset_checks(digests, PROFILE), "dataset.drift")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_an_episode_without_the_tasks_joints_has_no_end_pose_and_no_warning(clean_set,
                                                                            recwarn):
    other = replace(clean_set[0], episode_uid="ep-other", content_hash="other",
                    streams={"qpos": replace(clean_set[0].streams["joint_pos"], names=[],
                                             last=[])})
    ds = [*clean_set, other]
    far = ds[4].streams["joint_pos"].last
    ds[4] = _end_at(_end_at(ds[4], 0, far[0] + 2.0), 1, far[1] - 2.0)
    f = _by(run_dataset_checks(ds, PROFILE), "dataset.end_pose_outlier")
    assert [x.episode_uids for x in f] == [(ds[4].episode_uid,)]  # as without it
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
