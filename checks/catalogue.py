"""The catalogue as data: every rule with its scope, severity, thresholds and trace.

``embodiq checks`` prints it and ``docs/standards.md`` is rendered from it, both from the same
rows, so what users read is what the code runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from checks.registry import all_checks
from checks.standards import CHARACTERISTIC_MEANING, STRUCTURAL_IDS, TRACES, Concern
from schemas.quality_profile import QualityProfile

STANDARDS_DOC_HEADER = """\
# Standards: what every rule serves

<!-- Generated from checks/standards.py and the default quality profile by
     `embodiq checks --doc standards > docs/standards.md`; a test keeps it current. -->

embodiq checks recordings against a **data-collection schema** (the recording format: structural
rules, `schema.*`) and a **data-quality schema** (the check catalogue). This page traces every
rule to what it serves, so an auditor can follow a requirement to the code that enforces it and
to the findings it produced.

- **Quality characteristic**: one of the characteristics of ISO/IEC 5259-2 (data quality for
  analytics and machine learning — quality measures), which extends the ISO/IEC 25012 data-quality
  model with characteristics for machine learning (balance, diversity, similarity,
  effectiveness…). The process side, ISO/IEC 5259-4, is what the pipeline runs: every episode is
  assessed, the failing ones are quarantined with their findings, the rest published with them.
- **Collection concern**: the part of a data-collection specification for embodied intelligence
  that the rule serves. The Chinese drafts that embodiq follows — *Embodied intelligence — Data
  collection specification* (2024-1326T-SJ), *Specifications for embodied intelligence data
  quality* (20252047-Z-469), *Guidelines for the construction of embodied intelligence data
  training grounds* (2025546-Z-469) and *Humanoid robots — Unique product identification code* —
  are not public as of this writing; the concerns below follow their published scope (data
  format compliance, metadata, sensors and their rates, time synchronisation, robot
  identification, annotation, dataset coverage), not their clause numbers.

Severities and thresholds are those of the `default` quality profile.

## Characteristics
"""


@dataclass(frozen=True)
class CatalogueRow:
    check_id: str
    scope: str  # "structure", "episode" or "dataset"
    severity: str
    enabled: bool
    characteristic: str
    concern: str
    measures: str
    summary: str
    thresholds: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"check_id": self.check_id, "scope": self.scope, "severity": self.severity,
                "enabled": self.enabled, "characteristic": self.characteristic,
                "concern": self.concern, "measures": self.measures, "summary": self.summary,
                "thresholds": dict(self.thresholds)}


def catalogue(profile: QualityProfile) -> list[CatalogueRow]:
    """Every structural rule and registered check, with ``profile``'s settings."""
    rows: list[CatalogueRow] = []
    for cid in STRUCTURAL_IDS:
        t = TRACES[cid]
        rows.append(CatalogueRow(cid, "structure", "info" if cid == "schema.inferred" else "error",
                                 True, t.characteristic.value, t.concern.value, t.measures,
                                 t.measures))
    for cid, spec in all_checks().items():
        if cid in STRUCTURAL_IDS:
            continue
        trace = TRACES.get(cid)
        if trace is None:
            raise KeyError(f"check '{cid}' has no trace in checks/standards.py")
        if cid in profile.checks:
            s = profile.settings(cid)
            severity, enabled, params = s.severity.value, s.enabled, dict(s.params)
        else:
            severity, enabled, params = "-", False, {}
        rows.append(CatalogueRow(cid, spec.scope, severity, enabled,
                                 trace.characteristic.value, trace.concern.value, trace.measures,
                                 spec.summary, params))
    return rows


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def standards_markdown(profile: QualityProfile) -> str:
    """``docs/standards.md``: rules by characteristic and by collection concern."""
    rows = catalogue(profile)
    lines = [STANDARDS_DOC_HEADER]
    lines.append("| characteristic | meaning here | rules |")
    lines.append("|---|---|---|")
    for ch, meaning in sorted(CHARACTERISTIC_MEANING.items()):
        ids = [r.check_id for r in rows if r.characteristic == ch.value]
        if ids:
            lines.append(f"| {ch.value} | {meaning} | {', '.join(f'`{i}`' for i in ids)} |")
    lines += ["", "## Collection concerns", "", "| concern | rules |", "|---|---|"]
    for concern in Concern:
        ids = [r.check_id for r in rows if r.concern == concern.value]
        if ids:
            lines.append(f"| {concern.value} | {', '.join(f'`{i}`' for i in ids)} |")
    lines += ["", "## Every rule", "",
              "| id | scope | severity | characteristic | concern | measures | thresholds |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        th = ", ".join(f"`{k}` = {_fmt(v)}" for k, v in sorted(r.thresholds.items())) or "—"
        sev = r.severity if r.enabled else f"{r.severity} (off)"
        lines.append(f"| `{r.check_id}` | {r.scope} | {sev} | {r.characteristic} | "
                     f"{r.concern} | {r.measures} | {th} |")
    return "\n".join(lines) + "\n"
