"""Source adapters on the real public samples and on generated files in each layout."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from checks.registry import run_episode_checks
from pipelines.mapping import MappingError, load_mapping
from pipelines.runner import ingest
from pipelines.sources import discover, read_source
from pipelines.store import Store
from robots.profile import get_profile
from schemas.quality_profile import load_quality_profile
from tests.pipelines.act_files import write_act

PROFILE = load_quality_profile()


def _check(ep):
    return run_episode_checks(ep, get_profile(ep.metadata.robot_model), PROFILE)


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
        write_act(tmp_path / "in" / f"episode_{i}.hdf5", compressed=bool(i), seed=i)
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


def _with_imu(path, values):
    with h5py.File(path, "r+") as f:
        g = f["streams/imu"]
        del g["values"]
        g["values"] = values


@pytest.mark.parametrize(("planted", "kept"), [(-5e38, True), (float("inf"), False)])
def test_a_finite_value_no_published_table_holds_fails_the_gate_at_reading(tmp_path, planted,
                                                                           kept):
    from pipelines.synthetic import EpisodePlan, generate_episode
    from schemas.recording_writer import write_recording

    ep = generate_episode(get_profile("unitree-h1"), EpisodePlan(seed=2, cameras=()))
    path = write_recording(ep, tmp_path / "take.h5")
    values = ep.streams["imu"].values.astype(np.float64)
    values[7, 2], values[9, 1] = planted, np.nan
    _with_imu(path, values)
    res = read_source(discover([path])[0][0])
    assert res.episode is not None  # still checked: every check copes with the value
    errors = [f for f in res.findings if f.severity.value == "error"]
    if not kept:  # an infinity is value.nonfinite's, found by the checks
        assert errors == []
        return
    [f] = errors
    assert (f.check_id, f.stream, f.value) == ("schema.stream", "imu", planted)
    assert f.message == ("take.h5: stream 'imu' holds -5e+38 (sample 7, column 2), beyond "
                         "±3.4e38: no sensor reads that, and the published frames table's "
                         "float32 columns cannot hold it")
    assert f.t_start_ns == int(ep.streams["imu"].timestamps[7])
    # float32 data cannot hold such a value at all; the largest float64 a float32 holds passes
    values[7, 2] = np.finfo(np.float32).max
    _with_imu(path, values)
    assert not [f for f in read_source(discover([path])[0][0]).findings
                if f.severity.value == "error"]
