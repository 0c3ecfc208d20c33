"""Source adapters on the real public samples and on generated files in each layout."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from checks.registry import run_episode_checks
from pipelines.mapping import MappingError, load_mapping
from pipelines.runner import ingest
from pipelines.sources import discover, read_source
from pipelines.store import Store
from pipelines.synthetic import EpisodePlan, generate_episode
from robots.profile import get_profile
from schemas.quality_profile import load_quality_profile

PROFILE = load_quality_profile()


def _ids(findings, severity=None):
    return {f.check_id for f in findings if severity is None or f.severity.value == severity}


def _check(ep):
    return run_episode_checks(ep, get_profile(ep.metadata.robot_model), PROFILE)


def write_act_episode(path: Path, *, compressed: bool, nan: bool = False, seed: int = 0) -> Path:
    """An episode in ACT's exact layout, made from a clean ALOHA trajectory."""
    ep = generate_episode(get_profile("aloha"), EpisodePlan(duration_s=3.0, seed=seed,
                                                            cameras=()))
    q = ep.streams["joint_pos"].values
    action = ep.streams["action"].values[: len(q)]
    if nan:
        q = q.copy()
        q[40:43, 5] = np.nan
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 255, (len(q), 48, 64, 3), dtype=np.uint8)
    with h5py.File(path, "w") as f:
        f.attrs["sim"] = False
        f.attrs["compress"] = compressed
        obs = f.create_group("observations")
        obs["qpos"] = q
        obs["qvel"] = np.gradient(q, axis=0) * 50
        obs["effort"] = ep.streams["joint_effort"].values[: len(q)]
        f["action"] = action
        if compressed:
            enc = [cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 90])[1] for im in imgs]
            width = max(len(e) for e in enc)
            padded = np.zeros((len(enc), width), dtype=np.uint8)
            for i, e in enumerate(enc):
                padded[i, : len(e)] = e.ravel()
            obs["images/cam_high"] = padded
            f["compress_len"] = np.array([[len(e) for e in enc]], dtype=np.float32)
        else:
            obs["images/cam_high"] = imgs
    return path


@pytest.mark.parametrize("compressed", [False, True])
def test_aloha_episode_reads_and_checks(tmp_path, compressed):
    path = write_act_episode(tmp_path / "episode_0.hdf5", compressed=compressed)
    refs, bad = discover([tmp_path])
    assert not bad and [(r.layout, r.episode_key) for r in refs] == [("aloha", None)]
    res = read_source(refs[0])
    ep = res.episode
    assert ep.metadata.robot_model == "aloha" and len(ep.streams["qpos"].names) == 14
    assert any(f.check_id == "schema.inferred" and "clock" in f.message for f in res.findings)
    frames = list(ep.cameras["cam_high"].frames.iter_frames())
    assert len(frames) == ep.cameras["cam_high"].n_frames and frames[0].shape == (48, 64, 3)
    bad = [f for f in _check(ep) if f.severity.value in ("error", "warning")]
    assert not bad, [f.message for f in bad]
    assert path.exists()


def test_aloha_planted_defect_found_through_adapter(tmp_path):
    write_act_episode(tmp_path / "episode_1.hdf5", compressed=True, nan=True)
    ep = read_source(discover([tmp_path])[0][0]).episode
    assert "value.nonfinite" in _ids(_check(ep), "error")


def test_robomimic_real_demos(shared_data):
    refs, bad = discover([shared_data / "robomimic-robosuite-demos"])
    assert not bad
    keys = [(r.path.name, r.episode_key) for r in refs]
    assert ("SawyerLift.hdf5", "demo_1") in keys and len(refs) == 6
    res = read_source(next(r for r in refs if r.path.name == "SawyerLift.hdf5"))
    ep = res.episode
    # zero-width datasets (the unused left arm) are tolerated, not streams
    assert "left_dpos" not in ep.streams and "right_dpos" in ep.streams
    assert any(f.check_id == "schema.inferred" and "clock" in f.message for f in res.findings)
    # no joint-position dataset: the Sawyer's joints come from the simulator state
    assert ep.metadata.robot_model == "sawyer" and ep.streams["joint_position"].names[0] == (
        "right_j0")
    assert not [f for f in _check(ep) if f.check_id == "schema.stream"]
    # BaxterPegInHole holds nothing but states: no action, and the gate says so, naming the
    # layout
    baxter = read_source(next(r for r in refs if r.path.name == "BaxterPegInHole.hdf5")).episode
    assert any(f.check_id == "schema.stream" and "robomimic" in f.message and "action" in
               f.message for f in _check(baxter))


def test_robomimic_mapping_names_the_state(shared_data, tmp_path):
    m = tmp_path / "door.toml"
    m.write_text('robot_model = "panda"\nrate_hz = 20.0\n'
                 '[streams.states]\nkind = "joint_position"\ncolumns = [1, 8]\n'
                 '[streams.actions]\nkind = "action"\nspace = "joint_velocity"\n')
    ref = discover([shared_data / "robomimic-robosuite-demos" / "door-panda.hdf5"])[0][0]
    ep = read_source(ref, load_mapping(m)).episode
    states = ep.streams["states"]
    assert states.kind == "joint_position" and states.values.shape[1] == 7
    assert not [f for f in _check(ep) if f.check_id == "schema.stream"]


def test_lerobot_v21_unitree_g1(shared_data):
    root = shared_data / "lerobot-v21-unitree-g1"
    refs, bad = discover([root])
    assert not bad and len(refs) == 100 and refs[0].episode_key == "episode_000000"
    with_video = read_source(refs[1]).episode
    assert with_video.streams["joint_pos"].n_samples == 393
    cam = next(iter(with_video.cameras.values()))
    assert sum(1 for _ in cam.frames.iter_frames()) >= cam.n_frames - 2
    missing = read_source(refs[0])
    cams = [f for f in missing.findings if f.check_id == "schema.camera"]
    assert cams and "missing" in cams[0].message and missing.episode is not None
    assert len(refs[0].files()) >= 2


def test_lerobot_v30_reachy2_contradictions(shared_data):
    refs, _ = discover([shared_data / "lerobot-v30-reachy2"])
    assert len(refs) == 3
    res = read_source(refs[1])
    msgs = [f.message for f in res.findings if f.check_id == "schema.metadata"]
    assert any("14983" in m and "899" in m for m in msgs)
    assert any("'train' = 0:50" in m for m in msgs)
    assert res.episode.streams["joint_pos"].n_samples == 300


def test_mcap_ros2_bag(shared_data):
    refs, bad = discover([shared_data / "ros2-mcap-sensor-msgs"])
    assert not bad and len(refs) == 1 and refs[0].layout == "mcap"
    ep = read_source(refs[0]).episode
    js = ep.streams["joint_state"]
    assert js.n_samples == 15 and js.kind == "joint_position"
    assert "imu" in ep.streams and {"image", "compressed_image"} <= set(ep.cameras)
    frame = next(iter(ep.cameras["compressed_image"].frames.iter_frames()))
    assert frame.ndim == 3
    # the bag has no action topic: the gate says what is missing
    assert any(f.check_id == "schema.stream" and "'action'" in f.message for f in _check(ep))


def test_bad_mapping_names_the_key(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text('robot_modle = "aloha"\n')
    with pytest.raises(MappingError, match="robot_modle"):
        load_mapping(p)


def test_forced_layout_reports_what_is_wrong(tmp_path):
    p = tmp_path / "x.hdf5"
    with h5py.File(p, "w") as f:
        f["nothing"] = np.zeros(3)
    refs, _ = discover([p], layout="aloha")
    res = read_source(refs[0])
    assert res.episode is None and res.findings[0].check_id == "schema.unreadable"


@pytest.mark.slow
def test_ingest_an_aloha_folder(tmp_path):
    (tmp_path / "in").mkdir()
    for i in range(2):
        write_act_episode(tmp_path / "in" / f"episode_{i}.hdf5", compressed=bool(i), seed=i)
    summary = ingest(Store(tmp_path / "s"), [tmp_path / "in"], "aloha-lab")
    assert summary.version == 1 and summary.counts["passed"] == 2


@pytest.mark.slow
def test_ingest_a_lerobot_dataset_quarantines_per_episode(shared_data, tmp_path):
    store = Store(tmp_path / "s")
    summary = ingest(store, [shared_data / "lerobot-v30-reachy2"], "reachy2",
                     write_report=False)
    assert len(summary.outcomes) == 3 and summary.version == 1
    assert all(o.grade == "F" for o in summary.outcomes)  # its info.json contradicts the data
    qdirs = list(store.quarantine_dir.iterdir())
    assert len(qdirs) == 1  # one copy of the shared files, one findings file per episode
    assert len(list(qdirs[0].glob("findings-reachy2@episode_*.json"))) == 3
    assert (qdirs[0] / "files" / "meta" / "info.json").is_file()
