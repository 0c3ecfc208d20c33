"""Grade, gate and score of an episode from its findings.

``F``: any error (fails the gate). ``A``: no error, no warning. ``B``: warnings from at most two
distinct checks. ``C``: warnings from more.

``quality_score`` (0–100) starts at 100 and loses 40 per error (so any error leaves at most 60),
8 per warning and 1 per info finding up to 5 info in all, and is floored at 0. Adding a finding
never raises the score; an ``A`` scores between 95 and 100.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from schemas.findings import Finding, Severity

Grade = Literal["A", "B", "C", "F"]

ERROR_PENALTY = 40.0
WARNING_PENALTY = 8.0
INFO_PENALTY = 1.0
INFO_PENALTY_CAP = 5.0


def grade_of(findings: Iterable[Finding]) -> Grade:
    findings = list(findings)
    if any(f.severity is Severity.ERROR for f in findings):
        return "F"
    warned = {f.check_id for f in findings if f.severity is Severity.WARNING}
    if not warned:
        return "A"
    return "B" if len(warned) <= 2 else "C"


def passes_gate(findings: Iterable[Finding]) -> bool:
    return grade_of(findings) != "F"


def quality_score(findings: Iterable[Finding]) -> float:
    n_err = n_warn = n_info = 0
    for f in findings:
        if f.severity is Severity.ERROR:
            n_err += 1
        elif f.severity is Severity.WARNING:
            n_warn += 1
        else:
            n_info += 1
    score = 100.0 - ERROR_PENALTY * n_err - WARNING_PENALTY * n_warn
    score -= min(INFO_PENALTY * n_info, INFO_PENALTY_CAP)
    return round(max(score, 0.0), 2)
