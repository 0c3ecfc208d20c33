"""``embodiq checks``: the catalogue with the active profile's settings."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from checks.registry import all_checks
from checks.standards import STRUCTURAL_IDS
from pipelines.cli.main import app


def test_checks_command_lists_the_catalogue_as_json():
    res = CliRunner().invoke(app, ["checks", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    ids = [c["check_id"] for c in doc["checks"]]
    assert set(all_checks()) <= set(ids) and set(STRUCTURAL_IDS) <= set(ids)
    assert all(c["characteristic"] for c in doc["checks"])


def test_checks_command_table_and_bad_profile():
    runner = CliRunner()
    res = runner.invoke(app, ["checks"])
    assert res.exit_code == 0 and "value.nonfinite" in res.stdout
    bad = runner.invoke(app, ["checks", "--profile", "no-such-profile"])
    assert bad.exit_code == 2


def test_checks_command_prints_the_generated_pages():
    root = Path(__file__).resolve().parents[2]
    runner = CliRunner()
    for page in ("checks", "standards"):
        res = runner.invoke(app, ["checks", "--doc", page])
        assert res.exit_code == 0, res.output
        assert res.stdout == (root / "docs" / f"{page}.md").read_text()
    bad = runner.invoke(app, ["checks", "--doc", "nope"])
    assert bad.exit_code == 2 and "no such page" in bad.output
