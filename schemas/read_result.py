"""The outcome of reading one episode from any layout."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.episode import Episode
from schemas.findings import Finding


@dataclass
class ReadResult:
    """The episode (None when unusable) and the structural findings reading it produced.

    Findings include ``schema.*`` errors and ``schema.inferred`` info notes for values the source
    lacked and a mapping file or default supplied.
    """

    episode: Episode | None
    findings: list[Finding] = field(default_factory=list)
