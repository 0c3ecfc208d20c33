"""The quality report of one episode: a domain record, kept below the pipelines so that
publishing, exporting and reporting read it without importing the code that reads recordings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas.findings import Finding, Severity


def utc_now() -> str:
    """Now, as every record of the store writes its time (UTC, milliseconds, ISO 8601)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Assessment:
    """The quality report of one episode."""

    episode_uid: str
    source_name: str
    source_path: str
    source_sha256: str
    layout: str
    grade: str
    passed: bool
    quality_score: float
    findings: list[Finding]
    metadata: dict[str, Any]
    robot_uid: str | None
    duration_s: float
    t0_ns: int | None
    profile_name: str
    profile_digest: str
    digest: dict[str, Any] | None = None
    #: Per stream: name, kind, unit, names, dim, space, rate_hz (for the manifest's features).
    streams: list[dict[str, Any]] = field(default_factory=list)
    #: Per camera: name, width, height, encoding, depth, rate_hz.
    cameras: list[dict[str, Any]] = field(default_factory=list)
    assessed_at: str = field(default_factory=utc_now)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Severity}
        for f in self.findings:
            out[f.severity.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["findings"] = [f.to_dict() for f in self.findings]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Assessment:
        d = dict(d)
        d["findings"] = [Finding.from_dict(f) for f in d["findings"]]
        return cls(**d)
