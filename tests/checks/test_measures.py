"""Quality measures: each in [0, 1], and moving the right way when defects are planted."""

from __future__ import annotations

import math

import pytest

from checks.measures import (
    MEASURE_DEFINITIONS,
    MEASURES,
    StreamCount,
    dataset_measures,
    episode_measures,
    normalised_entropy,
    stream_counts,
)
from schemas.findings import Finding, Severity

RAN = ["time.gap", "time.rate", "value.nonfinite", "value.joint_limit", "value.spike",
       "time.sync", "episode.success"]


def _f(cid: str, sev: Severity = Severity.ERROR) -> Finding:
    return Finding(cid, sev, f"{cid} fired")


def test_every_measure_is_defined():
    assert set(MEASURES) == set(MEASURE_DEFINITIONS)


def test_clean_episode_scores_one_everywhere_it_is_measured():
    m = episode_measures([], [StreamCount(50.0, 500, 500)], RAN)
    assert all(v == 1.0 for v in m.values() if v is not None)
    assert m["completeness"] == 1.0 and m["validity"] == 1.0


def test_nans_lower_completeness_and_findings_lower_their_characteristic():
    clean = episode_measures([], [StreamCount(50.0, 500, 500)], RAN)
    nans = episode_measures([_f("value.nonfinite")], [StreamCount(50.0, 500, 400)], RAN)
    worse = episode_measures([_f("value.nonfinite")], [StreamCount(50.0, 500, 100)], RAN)
    assert clean["completeness"] > nans["completeness"] > worse["completeness"]
    assert nans["completeness"] == pytest.approx(0.8)
    limit = episode_measures([_f("value.joint_limit")], [StreamCount(50.0, 500, 500)], RAN)
    assert limit["validity"] < clean["validity"]
    info_only = episode_measures([_f("value.joint_limit", Severity.INFO)],
                                 [StreamCount(50.0, 500, 500)], RAN)
    assert info_only["validity"] == 1.0


def test_unreadable_episode_counts_zero():
    m = episode_measures([_f("schema.unreadable")], [], [], readable=False)
    assert m["completeness"] == 0.0 and m["validity"] == 0.0


def test_stream_counts_from_a_stored_report():
    streams = [{"name": "q", "rate_hz": 50.0}, {"name": "imu", "rate_hz": None}]
    digest = {"streams": {"q": {"count": [90, 100]}, "imu": {"count": [7, 7]}}}
    c = stream_counts(streams, digest, duration_s=2.0)
    assert c[0] == StreamCount(50.0, 100.0, 90.0) and c[1].rows_expected == 7.0
    assert stream_counts([{"name": "x", "rate_hz": 1e300}], {}, math.inf)[0].rows_expected == 0


def test_dataset_pooling_similarity_and_balance():
    a = episode_measures([], [StreamCount(50.0, 100, 100)], RAN)
    b = episode_measures([_f("dataset.duplicate")], [StreamCount(50.0, 300, 150)], RAN)
    d = dataset_measures([a, b], [100, 300], {"task": ["x", "x"], "operator_id": ["o1", "o2"]})
    assert d["completeness"] == pytest.approx(250 / 400)
    assert d["similarity"] == 0.5
    assert d["balance"] == pytest.approx((1.0 + 1.0) / 2)
    skewed = dataset_measures([a] * 4, [1] * 4, {"task": ["x", "x", "x", "y"]})
    assert 0 < skewed["balance"] < 1
    assert all(v is None or 0 <= v <= 1 for v in d.values())


def test_normalised_entropy():
    assert normalised_entropy([]) == 1.0 and normalised_entropy(["a"] * 5) == 1.0
    assert normalised_entropy(["a", "b"]) == pytest.approx(1.0)
    assert normalised_entropy(["a"] * 9 + ["b"]) < 0.5
