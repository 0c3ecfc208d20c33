"""Plain Parquet exports: split folders, the card, stability, trimming, resampling, staging."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from export_fixtures import HandEpisode, demo_store, write_version

from pipelines.export import ExportError, export_dataset
from pipelines.store import Store


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Store:
    return demo_store(tmp_path_factory)


@pytest.fixture
def lab(tmp_path) -> Store:
    st = Store(tmp_path / "store")
    write_version(st, "lab", [
        HandEpisode("ep-a", started=1),
        HandEpisode("ep-b", started=2, n_frames=61, operator_id="op_2"),
        HandEpisode("ep-c", started=3, idle_span_frames=(10, 29)),
    ])
    return st


@pytest.mark.slow  # the demo dataset is published once per session (~30 s)
def test_demo_export_matches_the_published_frames(demo, tmp_path):
    vdir = demo.version_dir("demo")
    out = tmp_path / "pq"
    s = export_dataset(demo, "demo", "parquet", out, split="train=0.7,val=0.3", seed=1)
    published = pl.read_parquet(vdir / "episodes.parquet").filter("passed")
    assert s.episodes == published.height and s.frames == published["n_frames"].sum()
    frames = pl.read_parquet(vdir / "frames/*.parquet")
    seen = []
    for split, n in s.splits.items():
        ep = pl.read_parquet(out / split / "episodes.parquet")
        fr = pl.read_parquet(out / split / "frames.parquet")
        assert ep.height == n and set(ep["split"]) == {split}
        assert fr.height == ep["n_frames"].sum()
        uids = ep["episode_uid"].to_list()
        assert fr["episode_uid"].unique(maintain_order=True).to_list() == uids
        mine = fr.sort("episode_uid", "frame_index")
        theirs = frames.filter(pl.col("episode_uid").is_in(ep["episode_uid"].to_list())) \
            .sort("episode_uid", "frame_index")
        assert mine.equals(theirs.select(mine.columns))
        meta = pq.read_schema(out / split / "episodes.parquet").metadata
        assert json.loads(meta[b"embodiq.episode_uids"]) == ep["episode_uid"].to_list()
        assert set(json.loads(meta[b"embodiq.robot_uids"])) == set(ep["robot_uid"])
        seen += ep["episode_uid"].to_list()
    assert sorted(seen) == sorted(published["episode_uid"])
    card = (out / "README.md").read_text()
    assert s.command in card and "--version 1" in s.command and "--split train=0.7,val=0.3" \
        in s.command
    for word in ("pick up the red cup", "open the top drawer", "unitree-h1", "| A |", "train",
                 published["robot_uid"][0]):
        assert word in card
    assert json.loads((out / "export.json").read_text())["frames"] == s.frames


@pytest.mark.slow  # the demo dataset is published once per session (~30 s)
def test_where_and_group_by_on_the_demo(demo, tmp_path):
    s = export_dataset(demo, "demo", "parquet", tmp_path / "a",
                       where="passed AND task LIKE '%drawer%'")
    ep = pl.read_parquet(tmp_path / "a" / "train" / "episodes.parquet")
    assert set(ep["task"]) == {"open the top drawer"} and ep.height == s.episodes
    s = export_dataset(demo, "demo", "parquet", tmp_path / "b", split="train=0.5,val=0.5",
                       group_by="operator_id", seed=4)
    ops: dict[str, set[str]] = {}
    for split in s.splits:
        for op in pl.read_parquet(tmp_path / "b" / split / "episodes.parquet")["operator_id"]:
            ops.setdefault(op, set()).add(split)
    assert all(len(v) == 1 for v in ops.values())


def test_splits_are_stable_when_episodes_are_added(tmp_path):
    st = Store(tmp_path / "store")
    first = [HandEpisode(f"ep-{i:02d}", n_frames=5, started=i) for i in range(8)]
    more = [HandEpisode(f"ep-{i:02d}", n_frames=5, started=i) for i in range(8, 30)]
    write_version(st, "lab", first, version=1)
    write_version(st, "lab", first + more, version=2)

    def splits(version: int, out: str) -> dict[str, str]:
        export_dataset(st, "lab", "parquet", tmp_path / out, version=version,
                       split="train=0.6,val=0.2,test=0.2", seed=11)
        return dict(pl.concat([pl.read_parquet(p) for p in (tmp_path / out).glob(
            "*/episodes.parquet")]).select("episode_uid", "split").iter_rows())

    before, after = splits(1, "v1"), splits(2, "v2")
    assert len(after) == 30 and all(after[k] == v for k, v in before.items())
    assert set(after.values()) == {"train", "val", "test"}
    assert splits(2, "again") == after


def test_trim_idle_cuts_to_the_active_span(lab, tmp_path):
    s = export_dataset(lab, "lab", "parquet", tmp_path / "t", trim_idle=True)
    ep = pl.read_parquet(tmp_path / "t/train/episodes.parquet")
    row = ep.filter(pl.col("episode_uid") == "ep-c").row(0, named=True)
    assert (row["n_frames"], row["source_frame_start"], row["source_frame_stop"]) == (20, 10, 30)
    fr = pl.read_parquet(tmp_path / "t/train/frames.parquet").filter(
        pl.col("episode_uid") == "ep-c")
    assert fr["frame_index"].to_list() == list(range(20))
    assert fr["timestamp_ns"][1] == 50_000_000
    assert [a[0] for a in fr["action"].to_list()] == list(range(10, 30))  # published frames
    assert s.frames == 40 + 61 + 20
    assert "--trim-idle" in s.command


def test_fps_resamples_joints_linearly_and_actions_nearest(lab, tmp_path):
    s = export_dataset(lab, "lab", "parquet", tmp_path / "r", fps=8.0)
    fr = pl.read_parquet(tmp_path / "r/train/frames.parquet").filter(
        pl.col("episode_uid") == "ep-b")
    # 61 frames at 20 fps span 3 s: 25 frames at 8 fps
    assert fr.height == 25 and s.fps == 8.0
    t = np.arange(25) / 8.0
    pos = np.array(fr["joint_pos"].to_list())
    np.testing.assert_allclose(pos, t[:, None] * np.array([1, 2, 3]) / 10, atol=1e-6)
    act = np.array(fr["action"].to_list())[:, 0]
    np.testing.assert_array_equal(act, np.floor(t * 20 + 0.5))  # a published frame index
    assert fr["timestamp_ns"].to_list() == [round(k * 1e9 / 8) for k in range(25)]
    ep = pl.read_parquet(tmp_path / "r/train/episodes.parquet")
    assert set(ep["fps"]) == {8.0}


def test_target_folder_rules(lab, tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match=r"exists and is not empty.*--force"):
        export_dataset(lab, "lab", "parquet", target)
    assert (target / "keep.txt").read_text() == "mine"
    export_dataset(lab, "lab", "parquet", target, force=True)
    assert not (target / "keep.txt").exists() and (target / "train").is_dir()
    empty = tmp_path / "empty"
    empty.mkdir()
    export_dataset(lab, "lab", "parquet", empty)  # an empty folder is fine
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="is a file"):
        export_dataset(lab, "lab", "parquet", tmp_path / "file", force=True)


def test_a_failed_export_leaves_nothing_behind(lab, tmp_path):
    vdir = lab.version_dir("lab")
    (vdir / "frames" / "part-00000.parquet").write_bytes(b"not parquet")
    with pytest.raises(Exception):  # noqa: B017 - any reader error; the point is the cleanup
        export_dataset(lab, "lab", "parquet", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".x.")]
