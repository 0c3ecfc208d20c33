"""Findings and digests turned into dicts by hand (for speed) give what dataclasses.asdict
gave, key order included."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import numpy as np

from checks.digest import EpisodeDigest, digest_episode
from pipelines.synthetic import EpisodePlan, generate_episode
from robots.profile import get_profile
from schemas.findings import Finding, Severity


def _reference_finding(f: Finding) -> dict:
    d = asdict(f)
    d["severity"] = f.severity.value
    for k in ("value", "threshold"):
        d[k] = None if d[k] is None or not math.isfinite(d[k]) else float(d[k])
    if f.episode_uids is None:
        d.pop("episode_uids")
    else:
        d["episode_uids"] = list(f.episode_uids)
    return d


def test_finding_to_dict_matches_asdict():
    cases = [Finding("a.b", Severity.ERROR, "m"),
             Finding("a.b", "warning", "m", "s", float("nan"), 2, 1, 5.0),
             Finding("d.e", "info", "m", value=float("inf"), episode_uids=["x", "y"])]
    for f in cases:
        got = f.to_dict()
        assert list(got.items()) == list(_reference_finding(f).items())
        assert Finding.from_dict(got) == Finding.from_dict(_reference_finding(f))


def test_digest_to_dict_matches_asdict():
    ep = generate_episode(get_profile("aloha"), EpisodePlan(duration_s=2.0, cameras=()))
    ep.streams["joint_pos"].values[:, 0] = np.nan  # a channel without finite samples
    dig = digest_episode(ep, "ep-1")
    want = asdict(dig)
    for s in want["streams"].values():
        for k in ("min", "max", "mean", "std", "count", "held", "last"):
            s[k] = [x if math.isfinite(x) else None for x in s[k]]
    got = dig.to_dict()
    assert json.dumps(got) == json.dumps(want)
    assert EpisodeDigest.from_dict(got).to_dict() == got
