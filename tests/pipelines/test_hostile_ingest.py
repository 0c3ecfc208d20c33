"""Hostile content through the real pipeline: one bad recording must never block a dataset.

Each hostile recording (written with h5py over a clean synthetic one) is ingested into its own
dataset of a fresh store; then a clean recording is ingested into the same dataset and must
publish. The hostile one is quarantined with its ``schema.*`` finding, and nothing it declared
reaches the published tables.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
import polars as pl
import pytest

from pipelines.runner import ingest
from pipelines.store import Store
from pipelines.synthetic import CameraPlan, EpisodePlan, generate_episode
from robots.profile import get_profile
from schemas.recording_writer import write_recording
from tests.hdf5_attrs import UTF8, names_with, set_attr


def _recording(folder: Path, seed: int) -> Path:
    plan = EpisodePlan(seed=seed, duration_s=3.0,
                       cameras=(CameraPlan("cam_head", "rgb8", width=32, height=24),))
    folder.mkdir(parents=True, exist_ok=True)
    return write_recording(generate_episode(get_profile("unitree-h1"), plan),
                           folder / f"episode_{seed:03d}.h5")


def _site(f):
    set_attr(f, "site", b"tg\xff\xfe01", UTF8)


def _early(f):
    set_attr(f, "started_at", "0001-01-01T00:00:00+14:00")


def _late(f):
    set_attr(f, "started_at", "9999-12-31T23:59:59-14:00")


def _joint(f):
    g = f["streams/joint_pos"]
    set_attr(g, "names", names_with(g, 0, b"left_hip_yaw\xed\xa0\x80joint"), UTF8)


def _joint_bytes(f):
    names = names_with(f["streams/action"], 1, b"left_hip_\xffroll_joint")
    set_attr(f["streams/action"], "names", np.array(names, dtype=f"S{max(map(len, names))}"))


def _slow_rate(f):
    """rate_hz 1.9e-4 with 20 samples 1/rate apart: consistent with itself, so no timing check
    objected, and the 30 fps dataset clock made 3,000,000 frames of the 10^5 s span."""
    t0 = int(f["streams/joint_pos/timestamps"][0])
    t = t0 + (np.arange(20) * (1e9 / 1.9e-4)).astype(np.int64)
    for name, g in list(f["streams"].items()):
        d = g["values"].shape[1]
        values = np.sin(np.arange(20)[:, None] * np.linspace(0.1, 0.2, d)) * 0.1
        del g["timestamps"], g["values"]
        g["timestamps"], g["values"] = t + (200_000 if name == "action" else 0), values
        g.attrs["rate_hz"] = 1.9e-4
    del f["cameras"], f["events"]


CASES = {
    "site": (_site, "schema.metadata", "site"),
    "early": (_early, "schema.metadata", "started_at"),
    "late": (_late, "schema.metadata", "started_at"),
    "joint": (_joint, "schema.stream", "joint_pos"),
    "joint-bytes": (_joint_bytes, "schema.stream", "action"),
    "slow-rate": (_slow_rate, "schema.stream", "joint_pos"),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    return Store(tmp_path_factory.mktemp("store"))


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_recording_is_quarantined_and_the_dataset_still_publishes(
        store, tmp_path, case):
    mutate, check_id, stream = CASES[case]
    dataset = f"hostile-{case}"
    seed = 10 + list(CASES).index(case)
    bad = _recording(tmp_path / "bad", seed)
    with h5py.File(bad, "r+") as f:
        mutate(f)

    first = ingest(store, [bad.parent], dataset, write_report=False)
    [out] = first.outcomes
    assert out.grade == "F" and out.quarantined_to, (out, first.publish_error)
    assert first.publish_error is None
    findings = json.loads((Path(out.quarantined_to) / f"findings-{dataset}.json").read_text())
    hits = [f for f in findings["findings"]
            if f["check_id"] == check_id and f["stream"] == stream]
    assert hits, [(f["check_id"], f["message"]) for f in findings["findings"]]

    _recording(tmp_path / "good", 100 + seed)
    second = ingest(store, [tmp_path / "good"], dataset, write_report=False)
    assert second.publish_error is None and not second.run_failed, second.publish_error
    assert [o.grade in "AB" for o in second.outcomes] == [True]
    vdir = store.version_dir(dataset)
    episodes = pl.read_parquet(vdir / "episodes.parquet")
    assert episodes.height == 2 and episodes["passed"].to_list().count(True) == 1
    hostile = episodes.filter(~pl.col("passed")).row(0, named=True)
    assert hostile["n_frames"] == 0
    for key in ("site", "task", "robot_model", "operator_id"):
        assert hostile[key] is None or "\udcff" not in hostile[key]
    assert hostile["started_at"] is None or hostile["started_at"].year >= 1970
    # every published table reads back, and the frames come only from the clean episode
    frames = pl.scan_parquet(vdir / "frames" / "*.parquet").collect()
    assert frames.height == episodes["n_frames"].sum() < 200
    pl.read_parquet(vdir / "findings.parquet")
    qdir = Path(out.quarantined_to)
    sha = hashlib.sha256(bad.read_bytes()).hexdigest()
    assert qdir.is_dir() and hashlib.sha256((qdir / bad.name).read_bytes()).hexdigest() == sha


def _sparse(f):
    """rate_hz 0.1 (the slowest allowed) and 20 samples 10 s apart: every check agrees with the
    declared rate, but a 30 fps clock would make 5,700 frames out of 20 samples."""
    t0 = int(f["streams/joint_pos/timestamps"][0])
    t = t0 + np.arange(20, dtype=np.int64) * 10_000_000_000
    for name, g in list(f["streams"].items()):
        d = g["values"].shape[1]
        values = np.sin(np.arange(20)[:, None] * np.linspace(0.1, 0.2, d)) * 0.1
        del g["timestamps"], g["values"]
        g["timestamps"], g["values"] = t + (200_000 if name == "action" else 0), values
        g.attrs["rate_hz"] = 0.1
    del f["cameras"], f["events"]


@pytest.mark.slow
def test_curation_invents_no_frames_the_samples_do_not_support(store, tmp_path):
    bad = _recording(tmp_path / "bad", 40)
    with h5py.File(bad, "r+") as f:
        _sparse(f)
    first = ingest(store, [bad.parent], "sparse", write_report=False)
    [out] = first.outcomes
    # passed its checks, refused at curation: quarantined with the reason, like any rejection
    assert out.run_ok and out.passed is False and out.grade == "F" and out.quarantined_to
    rec = json.loads((Path(out.quarantined_to) / "findings-sparse.json").read_text())
    [f] = [f for f in rec["findings"] if f["severity"] == "error"]
    assert f["check_id"] == "schema.stream", f
    assert "would need 5,700 frames" in f["message"] and "at most 10 frames per sample" in \
        f["message"], f
    assert first.counts["frames"] == 0  # listed as failed; certainly no 5,700 frames
    _recording(tmp_path / "good", 41)
    second = ingest(store, [tmp_path / "good"], "sparse", write_report=False)
    assert second.publish_error is None and not second.run_failed
    vdir = store.version_dir("sparse")
    episodes = pl.read_parquet(vdir / "episodes.parquet")
    assert episodes.height == 2 and episodes["n_frames"].sum() < 200  # frames: the clean one
    assert episodes["passed"].to_list().count(True) == 1


@pytest.mark.slow
def test_values_the_frames_table_cannot_hold_are_quarantined_not_published(store, tmp_path):
    bad = _recording(tmp_path / "bad", 42)
    with h5py.File(bad, "r+") as f:  # an IMU reading of 1e200: no catalogue check bounds it
        g = f["streams/imu"]
        values = g["values"][()].astype(np.float64)
        values[40:80, 0] = 1e200
        del g["values"]
        g["values"] = values
    first = ingest(store, [bad.parent], "huge", write_report=False)
    [out] = first.outcomes
    assert out.run_ok and out.passed is False and out.grade == "F" and out.quarantined_to
    rec = json.loads((Path(out.quarantined_to) / "findings-huge.json").read_text())
    [f] = [f for f in rec["findings"] if f["severity"] == "error"]
    assert (f["check_id"], f["stream"], f["value"]) == ("schema.stream", "imu", 1e200), f
    assert "holds 1e+200 (sample 40, column 0), beyond ±3.4e38" in f["message"], f
    assert first.counts["frames"] == 0
    vdir = store.version_dir("huge")
    assert pl.read_parquet(vdir / "episodes.parquet")["n_frames"].to_list() == [0]


def test_check_fails_what_curation_would_refuse_at_the_clock_given(tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli.main import app

    bad = _recording(tmp_path / "bad", 43)
    with h5py.File(bad, "r+") as f:
        _sparse(f)
    args = ["check", str(bad), "--json", "--store", str(tmp_path / "store")]
    res = CliRunner().invoke(app, args)  # the default clock, 30 fps, as ingest's default
    assert res.exit_code == 1, res.output
    [entry] = json.loads(res.stdout)["episodes"]
    errors = [f for f in entry["findings"] if f["severity"] == "error"]
    assert [f["check_id"] for f in errors] == ["schema.stream"], errors
    assert "would need 5,700 frames" in errors[0]["message"]
    # 1 fps needs 191 frames for its 20 samples: within 10 per sample, so it passes
    res = CliRunner().invoke(app, [*args, "--fps", "1"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["episodes"][0]["passed"] is True


def test_file_names_that_are_not_utf8_are_ingested_published_and_reported(tmp_path):
    """A file system hands out names as bytes: one that is not UTF-8 (``take\\xff.h5``, from
    a Windows share or an old station) is read, quarantined byte for byte or published, and
    shown with its odd bytes escaped; it once stopped the whole ingest at registration."""
    import os

    good = _recording(tmp_path / "src", 300)
    folder = tmp_path / "inbox"
    folder.mkdir()
    passed = Path(os.fsdecode(bytes(folder) + b"/take\xff.h5"))
    good.rename(passed)
    truncated = Path(os.fsdecode(bytes(folder) + b"/cut\xfe.h5"))
    data = passed.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    store = Store(tmp_path / "store")
    summary = ingest(store, [folder], "odd-names")
    assert summary.publish_error is None and not summary.run_failed, summary
    by_name = {o.source_name: o for o in summary.outcomes}
    assert set(by_name) == {"take\\udcff.h5", "cut\\udcfe.h5"}
    assert by_name["take\\udcff.h5"].passed and by_name["cut\\udcfe.h5"].quarantined_to
    quarantined = Path(by_name["cut\\udcfe.h5"].quarantined_to) / truncated.name
    assert quarantined.read_bytes() == truncated.read_bytes()  # its name and bytes as they were
    episodes = pl.read_parquet(store.version_dir("odd-names") / "episodes.parquet")
    assert sorted(episodes["source_name"].to_list()) == ["cut\\udcfe.h5", "take\\udcff.h5"]
    assert summary.report_path and "take\\udcff.h5" in Path(summary.report_path).read_text()


def test_a_recording_gone_before_registration_is_registered_without_files(tmp_path):
    """Found, then removed (a station cleaning its disk) before it was registered, even under
    a name that is not UTF-8: it is registered with no files (its run then reports it
    unreadable) and the others are registered as usual; such a name once stopped the ingest."""
    import os

    from pipelines.processing import discover_guarded
    from pipelines.processing.discovery import register_guarded

    for seed in (400, 401):
        _recording(tmp_path / "inbox", seed)
    odd = Path(os.fsdecode(bytes(tmp_path / "inbox") + b"/gone\xff.h5"))
    (tmp_path / "inbox" / "episode_400.h5").rename(odd)
    refs, unknown = discover_guarded([tmp_path / "inbox"])
    assert len(refs) == 2 and not unknown
    odd.unlink()
    records, bad = register_guarded(Store(tmp_path / "store"), refs, "vanishing")
    assert not bad and sorted(len(r.files) for r in records) == [0, 1]
