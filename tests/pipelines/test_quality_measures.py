"""Each published version carries ISO/IEC 5259-2 quality measures that move with the defects."""

from __future__ import annotations

import json

import polars as pl
import pytest

from pipelines.runner import ingest
from pipelines.store import Store
from schemas.tables import QUALITY_MEASURES
from tests.pipelines.demo_files import copy_recording, demo_by_defect

CLEAN = demo_by_defect(None)


def _publish(tmp_path, demo_recordings, recordings, name):
    folder = tmp_path / name
    for rec in recordings:
        copy_recording(demo_recordings, rec, folder)
    store = Store(tmp_path / "store")
    summary = ingest(store, [folder], name, write_report=False)
    assert summary.publish_error is None, summary.publish_error
    vdir = store.version_dir(name)
    man = json.loads((vdir / "manifest.json").read_text())
    return man["quality_measures"], pl.read_parquet(vdir / "episodes.parquet")


@pytest.mark.slow
def test_measures_move_with_planted_defects(tmp_path, demo_recordings):
    clean, clean_eps = _publish(tmp_path, demo_recordings, CLEAN[:3], "clean")
    defects = [*CLEAN[:2], *demo_by_defect("value.nonfinite"), *demo_by_defect("time.gap"),
               *demo_by_defect("value.joint_limit"), *demo_by_defect("schema.unreadable")]
    bad, bad_eps = _publish(tmp_path, demo_recordings, defects, "defects")
    for m in QUALITY_MEASURES:
        assert set(clean[m]) == {"value", "definition"} and clean[m]["definition"]
        for doc in (clean, bad):
            v = doc[m]["value"]
            assert v is None or 0.0 <= v <= 1.0, (m, v)
    assert clean["completeness"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert clean["validity"]["value"] == 1.0
    # NaNs, a gap and an unreadable file leave samples missing; a joint past its limit and
    # the unreadable file break validity
    assert bad["completeness"]["value"] < clean["completeness"]["value"]
    assert bad["validity"]["value"] < clean["validity"]["value"]
    # per episode: the NaN episode is less complete than a clean one of the same version
    q = {r["source_name"]: r["quality"] for r in bad_eps.iter_rows(named=True)}
    nan_file = demo_by_defect("value.nonfinite")[0].file
    assert q[nan_file]["completeness"] < q[CLEAN[0].file]["completeness"] == 1.0
    assert q[demo_by_defect("value.joint_limit")[0].file]["validity"] < 1.0
    assert all(r is not None for r in clean_eps["quality"].to_list())
    assert 0.0 < clean["balance"]["value"] <= 1.0


@pytest.mark.slow
def test_report_shows_the_measures_across_versions(tmp_path, demo_recordings):
    from pipelines.report import build_report

    store = Store(tmp_path / "store")
    folder = tmp_path / "in"
    copy_recording(demo_recordings, CLEAN[0], folder)
    ingest(store, [folder], "lab", write_report=False)
    copy_recording(demo_recordings, demo_by_defect("value.nonfinite")[0], folder)
    ingest(store, [folder], "lab", write_report=False)
    assert store.versions("lab") == [1, 2]
    html = build_report(tmp_path / "r.html", store=store, name="lab").read_text()
    assert "Quality measures" in html and "ISO/IEC 5259-2" in html
    assert "versions v0001–v0002" in html
    for m in QUALITY_MEASURES:
        assert f"<td>{m}</td>" in html
