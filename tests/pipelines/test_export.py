"""Training exports from a real published version: LeRobot v3.0 and plain Parquet."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipelines.cli.main import app
from pipelines.export import ExportError, export_dataset
from pipelines.export.splits import assign, parse_splits
from pipelines.runner import ingest
from pipelines.store import Store
from pipelines.synthetic import CameraPlan, EpisodePlan, generate_episode, plant_defect
from robots.profile import get_profile
from schemas.recording_writer import write_recording

LEROBOT_PY = Path(os.environ.get("LRPY", "/tmp/lerobot-env/venv/bin/python"))


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    inbox = tmp_path_factory.mktemp("rec")
    h1 = get_profile("unitree-h1")
    for i in range(6):
        plan = EpisodePlan(duration_s=4.0, seed=100 + i, operator_id=f"op_{i % 3}",
                           task="open the drawer" if i % 2 else "pick up the cup",
                           idle_head_s=1.0 if i == 0 else 0.0, idle_tail_s=0.8 if i == 0 else 0,
                           cameras=(CameraPlan("cam_head", "rgb8"),))
        write_recording(generate_episode(h1, plan), inbox / f"ep_{i}.h5")
    bad = plant_defect(generate_episode(h1, EpisodePlan(duration_s=4.0, seed=200, cameras=())),
                       "value.nonfinite")
    write_recording(bad, inbox / "ep_nan.h5")
    st = Store(tmp_path_factory.mktemp("store"))
    assert ingest(st, [inbox], "lab").version == 1
    return st


def test_lerobot_v3_layout_and_numbers(store, tmp_path):
    out = tmp_path / "lr"
    s = export_dataset(store, "lab", "lerobot", out, split="train=0.5,val=0.5", seed=3)
    info = json.loads((out / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 30.0
    assert info["total_episodes"] == 6 == s.episodes and info["robot_type"] == "unitree-h1"
    feats = info["features"]
    assert feats["observation.state"]["shape"] == [19]
    assert feats["observation.state"]["names"] == get_profile("unitree-h1").joint_names
    assert feats["observation.images.cam_head"]["dtype"] == "video"
    assert all("/" not in k for k in feats)
    ranges = [tuple(map(int, r.split(":"))) for r in info["splits"].values()]
    assert sorted(ranges)[0][0] == 0 and sorted(ranges)[-1][1] == 6
    data = pq.read_table(out / "data/chunk-000/file-000.parquet")
    assert data.num_rows == info["total_frames"] == s.frames
    eps = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    published = pl.read_parquet(store.version_dir("lab") / "episodes.parquet")
    uids = dict(zip(published["episode_uid"], published["robot_uid"], strict=True))
    frames = pads.dataset(store.version_dir("lab") / "frames").to_table()
    for e in eps:
        assert e["robot_uid"] == uids[e["episode_uid"]]
        rows = data.slice(e["dataset_from_index"], e["length"])
        mine = np.stack(rows.column("observation.state").to_numpy(zero_copy_only=False))
        pub = frames.filter(pads.field("episode_uid") == e["episode_uid"])
        theirs = np.stack(pub.column("joint_pos").to_numpy(zero_copy_only=False))
        np.testing.assert_array_equal(mine, theirs)
        assert e["stats/observation.state/count"] == [e["length"]]
    tasks = pq.read_table(out / "meta/tasks.parquet").to_pylist()
    assert {t["__index_level_0__"] for t in tasks} == {"open the drawer", "pick up the cup"}
    stats = json.loads((out / "meta/stats.json").read_text())
    assert stats["observation.state"]["count"] == [s.frames]


def test_splits_are_deterministic_stable_and_grouped(store, tmp_path):
    splits = parse_splits("train=0.7,val=0.2,test=0.1")
    before = {f"ep-{i}": assign(f"ep-{i}", splits, 7) for i in range(200)}
    after = {f"ep-{i}": assign(f"ep-{i}", splits, 7) for i in range(400)}
    assert all(after[k] == v for k, v in before.items())  # adding episodes moves none
    assert set(before.values()) == {"train", "val", "test"}
    out = tmp_path / "g"
    export_dataset(store, "lab", "parquet", out, split="train=0.5,val=0.5",
                   group_by="operator_id")
    seen: dict[str, set[str]] = {}
    for split in ("train", "val"):
        if (out / split).is_dir():
            for op in pl.read_parquet(out / split / "episodes.parquet")["operator_id"]:
                seen.setdefault(op, set()).add(split)
    assert all(len(v) == 1 for v in seen.values())


def test_parquet_export_with_card(store, tmp_path):
    out = tmp_path / "pq"
    s = export_dataset(store, "lab", "parquet", out, where="task LIKE '%cup%'")
    ep = pl.read_parquet(out / "train" / "episodes.parquet")
    assert set(ep["task"]) == {"pick up the cup"} and ep.height == s.episodes == 3
    fr = pl.read_parquet(out / "train" / "frames.parquet")
    assert fr.height == s.frames == ep["n_frames"].sum()
    card = (out / "README.md").read_text()
    assert "pick up the cup" in card and "unitree-h1" in card and "Splits" in card


def test_trim_idle_and_fps(store, tmp_path):
    full = export_dataset(store, "lab", "parquet", tmp_path / "a")
    trimmed = export_dataset(store, "lab", "parquet", tmp_path / "b", trim_idle=True)
    assert trimmed.frames < full.frames
    half = export_dataset(store, "lab", "parquet", tmp_path / "c", fps=15.0)
    assert abs(half.frames - full.frames / 2) <= 6


def test_bad_requests_are_refused_clearly(store, tmp_path):
    with pytest.raises(ExportError, match="not a valid filter"):
        export_dataset(store, "lab", "parquet", tmp_path / "x", where="grade IN (")
    with pytest.raises(ExportError, match="add up to"):
        export_dataset(store, "lab", "parquet", tmp_path / "x", split="train=0.5")
    with pytest.raises(ExportError, match="selects no episode"):
        export_dataset(store, "lab", "parquet", tmp_path / "x", where="grade = 'Z'")
    # failed episodes have no frames: a filter matching them keeps only the passed ones
    assert export_dataset(store, "lab", "parquet", tmp_path / "z", where="true").episodes == 6
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_dataset(store, "lab", "parquet", target)
    export_dataset(store, "lab", "parquet", target, force=True)
    assert not (target / "keep.txt").exists() and (target / "train").is_dir()
    res = CliRunner().invoke(app, ["export", "nope", "--format", "lerobot", "--out",
                                   str(tmp_path / "y"), "--store", str(store.root)])
    assert res.exit_code == 2 and "dataset 'nope'" in res.stderr


@pytest.mark.lerobot
def test_export_loads_in_lerobot(store, tmp_path):
    if not LEROBOT_PY.is_file():
        pytest.skip(f"LeRobot environment not found at {LEROBOT_PY} "
                    "(build it with ../shared/tools/lerobot/setup.sh)")
    out = tmp_path / "lr"
    export_dataset(store, "lab", "lerobot", out, split="train=0.8,val=0.2")
    setup = Path(__file__).resolve().parents[3] / "shared/tools/lerobot/setup.sh"
    script = (f"source {setup} {LEROBOT_PY.parents[2]} >/dev/null 2>&1; "
              f"$LRPY -c \"from lerobot.datasets.lerobot_dataset import LeRobotDataset; "
              f"ds = LeRobotDataset('local/lab', root='{out}'); x = ds[5]; "
              f"print(len(ds), ds.num_episodes, float(x['observation.state'][0]), "
              f"tuple(x['observation.images.cam_head'].shape))\" && $LRDOC {out} --ci")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    n, n_ep, first, shape = proc.stdout.strip().splitlines()[0].split(" ", 3)
    data = pq.read_table(out / "data/chunk-000/file-000.parquet")
    assert int(n) == data.num_rows and int(n_ep) == 6
    assert float(first) == pytest.approx(data.column("observation.state")[5][0].as_py(),
                                         rel=1e-6)
    assert "(3, 120, 160)" in shape and '"FAIL": 0' in proc.stdout
