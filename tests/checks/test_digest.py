"""Episode digests: statistics agree with numpy, the content hash ignores metadata and the clock
origin but nothing else, and digests survive JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from checks.digest import EpisodeDigest, content_hash, digest_episode, digest_stream
from schemas.episode import Episode, EpisodeMetadata, Stream

T0 = 1_762_000_000_000_000_000


def _episode(seed: int = 0, t0: int = T0, operator: str = "op_07", n: int = 300) -> Episode:
    rng = np.random.default_rng(seed)
    ts = t0 + np.arange(n, dtype=np.int64) * 20_000_000
    q = np.cumsum(rng.normal(0, 0.01, (n, 4)), axis=0)
    a = q + rng.normal(0, 0.001, (n, 4))
    md = EpisodeMetadata("unitree-h1", "H1A0000001", operator, "teleop_vr", "pick", "lab",
                         "2025-11-01T12:00:00Z", robot_uid="CNUNTRH1000100000000000000SN0")
    names = ["j0", "j1", "j2", "j3"]
    return Episode(md, streams={
        "joint_pos": Stream("joint_pos", "joint_position", ts, q, names, "rad", 50.0),
        "action": Stream("action", "action", ts + 3_000_000, a.astype(np.float32), names, "rad",
                         50.0, space="joint_position")})


def ref_stats(v: np.ndarray) -> np.ndarray:
    out = np.full((v.shape[1], 5), np.nan)
    for j in range(v.shape[1]):
        x = v[:, j].astype(np.float64)
        x = x[np.isfinite(x)]
        out[j, 4] = x.size
        if x.size:
            out[j, :4] = x.min(), x.max(), x.mean(), x.std()
    return out


values = st.tuples(st.integers(1, 60), st.integers(1, 5)).flatmap(
    lambda s: arrays(np.float64, s, elements=st.one_of(
        st.floats(-1e6, 1e6), st.sampled_from([np.nan, np.inf, -np.inf, 0.0]))))


@settings(max_examples=80, deadline=None)
@given(values)
def test_stream_statistics_match_numpy(v):
    d = digest_stream(v, "other", [f"c{i}" for i in range(v.shape[1])])
    got = np.array([d.min, d.max, d.mean, d.std, d.count]).T
    ref = ref_stats(v)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-6, equal_nan=True)


def test_float32_and_constant_channels():
    v = np.array([[1.5, 2.0], [1.5, 4.0], [1.5, 6.0]], dtype=np.float32)
    d = digest_stream(v, "action", ["a", "b"])
    assert d.min == [1.5, 2.0] and d.max == [1.5, 6.0] and d.count == [3.0, 3.0]
    assert d.std[0] == 0.0 and d.mean[1] == pytest.approx(4.0)


def test_digest_fields():
    ep = _episode()
    d = digest_episode(ep, "ep-1")
    assert (d.episode_uid, d.task, d.robot_model, d.robot_serial, d.operator_id, d.site) == (
        "ep-1", "pick", "unitree-h1", "H1A0000001", "op_07", "lab")
    assert d.robot_uid == ep.metadata.robot_uid and d.started_at == "2025-11-01T12:00:00Z"
    assert d.duration_s == pytest.approx(299 * 0.02)
    assert set(d.streams) == {"joint_pos", "action"} and d.streams["action"].kind == "action"
    assert d.streams["joint_pos"].names == ["j0", "j1", "j2", "j3"]
    assert digest_episode(ep, "ep-1", robot_uid="X" * 29).robot_uid == "X" * 29


def test_json_round_trip_without_nan():
    ep = _episode()
    ep.streams["joint_pos"].values[:, 2] = np.nan  # a channel with no finite sample
    d = digest_episode(ep, "ep-1")
    text = json.dumps(d.to_dict(), allow_nan=False)
    back = EpisodeDigest.from_dict(json.loads(text))
    assert back.to_dict() == d.to_dict()
    assert np.isnan(back.streams["joint_pos"].mean[2]) and back.streams["joint_pos"].count[2] == 0
    assert back.streams["joint_pos"].channel("j1") == 1
    assert back.streams["joint_pos"].channel("nope") is None


def test_content_hash_ignores_metadata_and_clock_origin():
    a = _episode(seed=4)
    b = _episode(seed=4, t0=T0 + 3_600 * 10**9, operator="op_99")
    b.metadata.robot_uid = None
    assert content_hash(a) == content_hash(b)


@pytest.mark.parametrize("change", ["value", "timing", "stream_shift", "dtype", "names_of"])
def test_content_hash_sees_any_change_of_content(change):
    a, b = _episode(seed=4), _episode(seed=4)
    s = b.streams["joint_pos"]
    if change == "value":
        s.values[150, 1] = np.nextafter(s.values[150, 1], np.inf)
    elif change == "timing":
        s.timestamps[150] += 1
    elif change == "stream_shift":  # one stream moved against the others
        b.streams["action"].timestamps = b.streams["action"].timestamps + 1_000_000
    elif change == "dtype":
        s.values = s.values.astype(np.float32)
    elif change == "names_of":
        b.streams["joint_pos2"] = b.streams.pop("joint_pos")
    assert content_hash(a) != content_hash(b)


def test_content_hash_is_the_same_for_any_memory_layout_and_block_size():
    a, b = _episode(seed=2), _episode(seed=2)
    b.streams["joint_pos"].values = np.asfortranarray(b.streams["joint_pos"].values)
    b.streams["action"].values = b.streams["action"].values.astype(">f4")
    assert content_hash(a) == content_hash(b) == content_hash(a, block_rows=7)
