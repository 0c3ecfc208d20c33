"""Quality measures per episode and per dataset version, in the terms of ISO/IEC 5259-2.

A grade says whether an episode may be used; a measure says how good a set of episodes is, as
a value in [0, 1] an auditor can compare between versions. Every measure is computed from what
the pipeline already holds after the checks — findings and digests — so publishing a version
never re-reads a recording. The definitions are part of the published contract and are stored
beside the values (``MEASURE_DEFINITIONS``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks.standards import TRACES, Characteristic
from schemas.findings import Finding, Severity
from schemas.tables import QUALITY_MEASURES

_C = Characteristic

#: Characteristics measured by the share of their rules an episode satisfies.
RULE_MEASURED: tuple[Characteristic, ...] = (
    _C.ACCURACY, _C.CONSISTENCY, _C.CREDIBILITY, _C.CURRENTNESS, _C.EFFECTIVENESS,
    _C.PRECISION, _C.TIMELINESS, _C.VALIDITY)

#: Every measure embodiq publishes, in a fixed order (the fields of the published tables).
MEASURES: tuple[str, ...] = QUALITY_MEASURES

MEASURE_DEFINITIONS: dict[str, str] = {
    "completeness": "share of the expected samples present and finite: per stream, the finite "
                    "rows of its least complete channel over max(rows, rate_hz x duration); "
                    "pooled over streams and episodes; an unreadable episode counts 0",
    "traceability": "share of episodes whose robot has a valid unique code agreeing with the "
                    "registry (no schema.uid or dataset.uid_conflict finding)",
    "similarity": "share of episodes that are not a duplicate of another (no dataset.duplicate "
                  "finding)",
    "balance": "mean over task, robot model, operator and site of the normalised entropy of "
               "the episode counts (1 = even; 1 when only one value occurs)",
}
for _c in RULE_MEASURED:
    MEASURE_DEFINITIONS[_c.value] = (
        f"share of the {_c.value} rules (see docs/standards.md) an episode satisfies — no "
        "warning or error finding — averaged over the readable episodes")

_BAD = (Severity.ERROR, Severity.WARNING)


@dataclass(frozen=True)
class StreamCount:
    """What completeness needs of one stream."""

    rate_hz: float | None
    rows_expected: float  # rate_hz x duration, or the rows present when there is no rate
    finite_rows: float  # finite samples of the stream's least complete channel


def stream_counts(streams: Sequence[Mapping[str, Any]], digest: Mapping[str, Any] | None,
                  duration_s: float) -> list[StreamCount]:
    """From an assessment's stream list and digest (as stored in its report)."""
    out: list[StreamCount] = []
    dstreams = (digest or {}).get("streams", {})
    for s in streams:
        d = dstreams.get(s.get("name"), {})
        counts = [c for c in d.get("count", []) if c is not None]
        finite = float(min(counts)) if counts else 0.0
        rows = float(max(counts)) if counts else 0.0
        rate = s.get("rate_hz")
        expected = rows
        if rate and math.isfinite(rate) and rate > 0 and math.isfinite(duration_s):
            expected = max(rows, min(rate * duration_s, 1e12))
        out.append(StreamCount(rate, expected, finite))
    return out


def _failed_rules(findings: Iterable[Finding]) -> set[str]:
    return {f.check_id for f in findings if f.severity in _BAD}


def episode_measures(findings: Sequence[Finding], counts: Sequence[StreamCount],
                     ran: Iterable[str], readable: bool = True) -> dict[str, float | None]:
    """The measures of one episode; ``ran`` names the checks that ran on it.

    Dataset-level measures (similarity, balance) are None here, except that an episode with a
    dataset finding (a duplicate) carries it in its own findings and so scores 0 on similarity.
    """
    failed = _failed_rules(findings)
    out: dict[str, float | None] = dict.fromkeys(MEASURES)
    expected = sum(c.rows_expected for c in counts)
    out["completeness"] = (min(1.0, sum(c.finite_rows for c in counts) / expected)
                           if readable and expected > 0 else 0.0)
    ran = set(ran)
    for ch in RULE_MEASURED:
        rules = [cid for cid, t in TRACES.items()
                 if t.characteristic is ch and (cid in ran or cid.startswith("schema."))]
        if not readable:
            out[ch.value] = 0.0 if ch is _C.VALIDITY else None
        elif rules:
            out[ch.value] = 1.0 - sum(1 for r in rules if r in failed) / len(rules)
    out["traceability"] = 0.0 if failed & {"schema.uid", "dataset.uid_conflict"} else 1.0
    out["similarity"] = 0.0 if "dataset.duplicate" in failed else 1.0
    return out


def stream_weight(counts: Sequence[StreamCount]) -> float:
    """How much an episode weighs in the pooled completeness: its expected samples."""
    return float(sum(c.rows_expected for c in counts))


def normalised_entropy(values: Iterable[Any]) -> float:
    """Shannon entropy of the value counts over log(number of distinct values); 1 for one."""
    counts = Counter(v for v in values)
    k, n = len(counts), sum(counts.values())
    if k <= 1 or n == 0:
        return 1.0
    h = -sum(c / n * math.log(c / n) for c in counts.values())
    return h / math.log(k)


def dataset_measures(per_episode: Sequence[Mapping[str, float | None]],
                     weights: Sequence[float],
                     groups: Mapping[str, Sequence[Any]]) -> dict[str, float | None]:
    """Pool episode measures (completeness weighted by expected samples, the rest by episode)
    and add balance over ``groups`` (e.g. task, robot_model, operator_id, site)."""
    out: dict[str, float | None] = {}
    for m in MEASURES:
        if m == "balance":
            continue
        pairs = [(v, w if m == "completeness" else 1.0)
                 for e, w in zip(per_episode, weights, strict=True)
                 if (v := e.get(m)) is not None]
        total = sum(w for _v, w in pairs)
        out[m] = round(sum(v * w for v, w in pairs) / total, 6) if total > 0 else None
    out["balance"] = (round(sum(normalised_entropy(v) for v in groups.values()) / len(groups), 6)
                      if groups and per_episode else None)
    return out
