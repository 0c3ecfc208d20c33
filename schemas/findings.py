"""The finding: the one record every check, reader and adapter emits.

A finding says what is wrong (``check_id``), how bad (``severity``), where (``stream`` and a span
on the recording's own clock) and by how much (``value`` against ``threshold``), in one human
sentence (``message``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


def encodable(text: str) -> str:
    """``text`` with anything UTF-8 cannot encode (a lone surrogate from undecodable bytes)
    written as a backslash escape: a message echoing a hostile name must still be writable to
    JSON and Parquet, or one recording would block every later publish of its dataset."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _clean_number(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True, slots=True)
class Finding:
    """One defect (or one informative figure) found in an episode or a dataset."""

    check_id: str
    severity: Severity
    message: str
    stream: str | None = None
    value: float | None = None
    threshold: float | None = None
    t_start_ns: int | None = None
    t_end_ns: int | None = None
    #: Only for dataset-level findings: the episodes the finding concerns.
    episode_uids: tuple[str, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "message", encodable(str(self.message)))
        if self.stream is not None:
            object.__setattr__(self, "stream", encodable(str(self.stream)))
        if self.t_start_ns is not None:
            object.__setattr__(self, "t_start_ns", int(self.t_start_ns))
        if self.t_end_ns is not None:
            object.__setattr__(self, "t_end_ns", int(self.t_end_ns))
        if self.value is not None:
            object.__setattr__(self, "value", float(self.value))
        if self.threshold is not None:
            object.__setattr__(self, "threshold", float(self.threshold))
        if self.episode_uids is not None:
            object.__setattr__(self, "episode_uids",
                               tuple(encodable(str(u)) for u in self.episode_uids))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; non-finite figures become null (JSON has no NaN)."""
        # by hand, not dataclasses.asdict: its deep copy dominated reports of many episodes
        d: dict[str, Any] = {
            "check_id": self.check_id, "severity": self.severity.value,
            "message": self.message, "stream": self.stream,
            "value": _clean_number(self.value), "threshold": _clean_number(self.threshold),
            "t_start_ns": self.t_start_ns, "t_end_ns": self.t_end_ns}
        if self.episode_uids is not None:
            d["episode_uids"] = list(self.episode_uids)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finding:
        uids = d.get("episode_uids")
        return cls(
            check_id=d["check_id"],
            severity=Severity(d["severity"]),
            message=d["message"],
            stream=d.get("stream"),
            value=d.get("value"),
            threshold=d.get("threshold"),
            t_start_ns=d.get("t_start_ns"),
            t_end_ns=d.get("t_end_ns"),
            episode_uids=tuple(uids) if uids is not None else None,
        )


def count_by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    out = {s.value: 0 for s in Severity}
    for f in findings:
        out[f.severity.value] += 1
    return out
