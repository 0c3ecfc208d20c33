"""docs/checks.md is generated from the registry and the default profile, and is current."""

from __future__ import annotations

from pathlib import Path

from checks.checks_doc import checks_markdown
from checks.registry import all_checks
from schemas.quality_profile import load_quality_profile

DOC = Path(__file__).resolve().parents[2] / "docs" / "checks.md"


def test_checks_doc_is_regenerated_identically():
    expected = checks_markdown(load_quality_profile("default"))
    assert DOC.read_text() == expected, (
        "docs/checks.md is stale: run `embodiq checks --doc checks > docs/checks.md`")


def test_every_check_is_on_the_page_with_its_profile_settings(tmp_path):
    page = checks_markdown(load_quality_profile("default"))
    for cid, spec in all_checks().items():
        assert f"| `{cid}` | {spec.summary} |" in page, cid
    assert "`max_gap_periods` = 1.5" in page
    p = tmp_path / "lab.toml"
    p.write_text('name = "lab"\n[checks."time.gap"]\nmax_gap_periods = 3.0\n'
                 '[checks."video.blur"]\nenabled = false\n')
    mine = checks_markdown(load_quality_profile(p))
    assert "thresholds (lab profile)" in mine and "`max_gap_periods` = 3.0" in mine
    assert "| `video.blur` | share of blurred frames (low Laplacian variance) | warning (off) |" \
        in mine


def test_a_checks_docstring_is_its_note_on_the_page():
    """The prose that explains a check lives in its docstring and reaches the page."""
    page = checks_markdown(load_quality_profile("default"))
    spike = " ".join(all_checks()["value.spike"].doc.replace("``", "`").split())
    flat = " ".join(page.split())
    assert f"**`value.spike`**: {spike}" in flat
