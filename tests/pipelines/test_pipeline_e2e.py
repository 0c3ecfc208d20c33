"""The whole path through a real Dagster instance: ingest, gate, quarantine, publish."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from pipelines.demo import DEMO_SET
from pipelines.runner import ingest, instance_for
from pipelines.store import Store
from tests.pipelines.demo_files import copy_recording

CLEAN = [r for r in DEMO_SET if r.defect is None][:3]
NAN = next(r for r in DEMO_SET if r.defect == "value.nonfinite")
TRUNCATED = next(r for r in DEMO_SET if r.defect == "schema.unreadable")


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def published(demo_recordings, tmp_path_factory):
    """Two clean recordings plus a NaN one and a truncated one, ingested once."""
    inbox = tmp_path_factory.mktemp("inbox")
    for rec in [*CLEAN[:2], NAN, TRUNCATED]:
        copy_recording(demo_recordings, rec, inbox)
    store = Store(tmp_path_factory.mktemp("store"))
    before = {p.name: _sha(p) for p in inbox.iterdir()}
    summary = ingest(store, [inbox], "lab")
    return store, inbox, summary, before


def test_ingest_publishes_passed_and_quarantines_failed(published):
    _store, _inbox, summary, _ = published
    assert not summary.run_failed
    grades = {o.source_name: o.grade for o in summary.outcomes}
    assert grades[NAN.file] == "F" and grades[TRUNCATED.file] == "F"
    assert all(grades[r.file] in "AB" for r in CLEAN[:2])
    assert summary.version == 1 and summary.new_version
    assert summary.counts == {"episodes": 4, "passed": 2, "failed": 2,
                              "frames": summary.counts["frames"]}


def test_inputs_are_never_modified(published):
    _store, inbox, _summary, before = published
    assert {p.name: _sha(p) for p in inbox.iterdir()} == before


def test_quarantine_keeps_exact_bytes_and_findings(published):
    store, inbox, summary, _ = published
    where = {o.source_name: o.quarantined_to for o in summary.outcomes}
    for rec in (NAN, TRUNCATED):
        src = inbox / rec.file
        qdir = Path(where[rec.file])
        assert qdir.parent == store.quarantine_dir
        assert (qdir / rec.file).read_bytes() == src.read_bytes()
        findings = json.loads((qdir / "findings-lab.json").read_text())
        assert findings["dataset"] == "lab"
        ids = {f["check_id"] for f in findings["findings"]}
        expected = "value.nonfinite" if rec is NAN else "schema.unreadable"
        assert expected in ids
        if rec is NAN:  # the sidecar video travels with it
            side = inbox / f"{Path(rec.file).stem}.cam_wrist.mp4"
            assert (qdir / side.name).read_bytes() == side.read_bytes()


def test_published_version_reads_as_one_dataset_everywhere(published):
    store, _inbox, _summary, _ = published
    vdir = store.version_dir("lab")
    man = json.loads((vdir / "manifest.json").read_text())
    assert man["format"] == "embodiq.dataset" and man["format_version"] == "1.0"
    for f in man["files"]:
        assert _sha(vdir / f["path"]) == f["sha256"]
    episodes = pl.read_parquet(vdir / "episodes.parquet")
    assert episodes.height == 4 and episodes["episode_uid"].n_unique() == 4
    assert set(episodes.filter(pl.col("passed"))["source_name"]) == {r.file for r in CLEAN[:2]}
    frames_pa = pads.dataset(vdir / "frames", format="parquet").to_table()
    frames_pl = pl.scan_parquet(vdir / "frames" / "*.parquet").collect()
    n_duck = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{vdir / 'frames' / '*.parquet'}')").fetchall()[0][0]
    assert frames_pa.num_rows == frames_pl.height == n_duck == man["counts"]["frames"]
    assert n_duck == episodes["n_frames"].sum()
    # row k of each episode's frames is frame k of its videos
    for row in episodes.filter(pl.col("passed")).iter_rows(named=True):
        for cam in row["cameras"]:
            import cv2

            cap = cv2.VideoCapture(str(vdir / "videos" / row["episode_uid"] / f"{cam}.mp4"))
            assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == row["n_frames"]
            cap.release()
    findings = pl.read_parquet(vdir / "findings.parquet")
    assert "value.nonfinite" in set(findings["check_id"])
    meta = pq.read_schema(vdir / "episodes.parquet").metadata
    assert json.loads(meta[b"embodiq.episode_uids"]) == episodes["episode_uid"].to_list()


def test_reingest_publishes_no_duplicate(published):
    store, inbox, _summary, _ = published
    again = ingest(store, [inbox], "lab")
    assert again.version == 1 and not again.new_version
    assert pl.read_parquet(store.version_dir("lab") / "episodes.parquet").height == 4


@pytest.mark.slow
def test_crash_during_publish_leaves_previous_version_whole(demo_recordings, tmp_path):
    store = Store(tmp_path / "store")
    inbox = tmp_path / "inbox"
    copy_recording(demo_recordings, CLEAN[0], inbox)
    assert ingest(store, [inbox], "crash").version == 1
    v1 = store.version_dir("crash")
    v1_files = {p: _sha(p) for p in v1.rglob("*") if p.is_file()}
    copy_recording(demo_recordings, CLEAN[1], inbox)
    for stage in ("after_tables", "after_frames", "before_rename", "before_latest"):
        code = (
            "import sys; from pathlib import Path; from pipelines.store import Store;"
            "from pipelines.runner import ingest;"
            f"ingest(Store({str(store.root)!r}), [Path({str(inbox)!r})], 'crash')"
        )
        env = {**os.environ, "EMBODIQ_FAULT_PUBLISH": stage}
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              timeout=300)
        assert proc.returncode == 86, proc.stderr.decode()[-2000:]
        assert store.latest_version("crash") == 1
        assert {p: _sha(p) for p in v1.rglob("*") if p.is_file()} == v1_files
        assert pl.read_parquet(v1 / "episodes.parquet").height == 1
    # and the next publish completes normally
    assert ingest(store, [inbox], "crash").version == 2


def test_asset_check_results_are_recorded(published):
    store, _inbox, summary, _ = published
    import dagster as dg

    instance = instance_for(store)
    key = dg.AssetCheckKey(dg.AssetKey("quality_report"), "quality_gate")
    records = instance.event_log_storage.get_asset_check_execution_history(key, limit=50)
    assert records, "the gate left no record in the instance"
    outcomes = {r.event.dagster_event.event_specific_data.partition: r.event.dagster_event.
                event_specific_data.passed for r in records
                if r.event and r.event.dagster_event}
    passed_keys = {o.key for o in summary.outcomes if o.passed}
    failed_keys = {o.key for o in summary.outcomes if o.passed is False}
    assert all(outcomes.get(k) is True for k in passed_keys)
    assert any(outcomes.get(k) is False for k in failed_keys)


def test_definitions_load():
    import dagster as dg

    from pipelines.definitions import defs

    dg.Definitions.validate_loadable(defs)
    assert {j.name for j in defs.resolve_all_job_defs()} >= {"ingest_recording",
                                                             "publish_dataset"}
