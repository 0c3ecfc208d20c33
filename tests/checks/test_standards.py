"""Every rule is traced to a quality characteristic, and the published trace is current."""

from __future__ import annotations

import re
from pathlib import Path

from checks.catalogue import catalogue, standards_markdown
from checks.registry import all_checks
from checks.standards import STRUCTURAL_IDS, TRACES, Characteristic
from schemas.quality_profile import load_quality_profile

DOC = Path(__file__).resolve().parents[2] / "docs" / "standards.md"


def test_every_registered_check_has_a_characteristic():
    missing = [cid for cid in all_checks() if cid not in TRACES]
    assert not missing, f"checks without a trace in checks/standards.py: {missing}"
    for cid, t in TRACES.items():
        assert isinstance(t.characteristic, Characteristic), cid
        assert t.measures, cid


def test_every_structural_rule_of_the_reader_is_traced():
    root = Path(__file__).resolve().parents[2]
    src = "".join(p.read_text() for d in ("schemas", "pipelines/adapters")
                  for p in (root / d).glob("*.py"))
    used = set(re.findall(r"[\"'](schema\.[a-z_]+)[\"']", src))
    assert "schema.unsafe" in used
    assert used <= set(STRUCTURAL_IDS), used - set(STRUCTURAL_IDS)


def test_standards_doc_is_regenerated_identically():
    expected = standards_markdown(load_quality_profile("default"))
    assert DOC.read_text() == expected, (
        "docs/standards.md is stale: run `embodiq checks --doc standards > docs/standards.md`")


def test_catalogue_carries_the_active_profile_thresholds():
    rows = {r.check_id: r for r in catalogue(load_quality_profile("strict"))}
    default = {r.check_id: r for r in catalogue(load_quality_profile("default"))}
    assert rows.keys() == default.keys()
    assert rows["value.nonfinite"].characteristic == "completeness"
    assert default["time.gap"].thresholds["max_gap_periods"] == 1.5
