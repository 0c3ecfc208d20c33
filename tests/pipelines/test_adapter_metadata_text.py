"""Metadata other layouts hand over obeys the recording format's text and started_at rules.

A LeRobot ``episodes.jsonl`` or ``info.json`` may hold ``"\\ud800"`` escapes, which JSON decodes
to lone surrogates; no Parquet file can hold them, so they must not reach the published tables.
"""

from __future__ import annotations

import json

import pyarrow as pa

from pipelines.adapters._common import build_metadata
from schemas.findings import Finding


def test_undecodable_text_from_a_source_is_an_error_and_blanked():
    given = json.loads('{"task": "pick \\ud800 cup", "robot_model": "aloha", '
                       '"scene": "k\\udcff", "note": "x\\udcffy"}')
    findings: list[Finding] = []
    md = build_metadata("lerobot", {}, given, findings)
    errors = {f.stream: f.message for f in findings if f.severity == "error"}
    assert set(errors) == {"task", "scene"}
    assert "'pick \\ud800 cup'" in errors["task"] and "valid UTF-8, no NUL" in errors["task"]
    assert md.task == "" and md.scene is None and md.robot_model == "aloha"
    assert md.extra["note"] == "x\\udcffy"
    pa.array([md.task, md.site, md.extra["note"], *(f.message for f in findings)], pa.string())


def test_a_started_at_outside_the_published_range_is_an_error_and_blanked():
    findings: list[Finding] = []
    md = build_metadata("robomimic", {}, {"started_at": "9999-12-31T23:59:59-14:00"}, findings)
    [err] = [f for f in findings if f.severity == "error"]
    assert err.check_id == "schema.metadata" and err.stream == "started_at"
    assert "2262-04-11T23:47:16Z" in err.message and md.started_at == ""


def test_the_default_start_time_is_inside_the_range():
    findings: list[Finding] = []
    md = build_metadata("mcap", {}, {}, findings)
    assert md.started_at == "1970-01-01T00:00:00+00:00"
    assert not [f for f in findings if f.severity == "error"]
