"""ALOHA / ACT episodes generated in ACT's exact layout, with planted defects."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from checks.registry import run_episode_checks
from pipelines.adapters.aloha import ADAPTER
from pipelines.sources import discover, read_source
from robots.profile import get_profile
from schemas.quality_profile import load_quality_profile
from tests.pipelines.act_files import ACT_CAMERAS, write_act

PROFILE = load_quality_profile()
def _checks(ep):
    return run_episode_checks(ep, get_profile(ep.metadata.robot_model), PROFILE)


@pytest.mark.parametrize("compressed", [False, True])
def test_act_episode_is_one_clean_entry(tmp_path, compressed):
    write_act(tmp_path / "episode_0.hdf5", compressed=compressed, cameras=ACT_CAMERAS)
    refs, bad = discover([tmp_path])
    assert not bad and [(r.layout, r.episode_key) for r in refs] == [("aloha", None)]
    res = read_source(refs[0])
    ep = res.episode
    assert ep.metadata.robot_model == "aloha"
    assert ep.streams["qpos"].names == get_profile("aloha").joint_names
    assert {"qpos", "qvel", "effort", "action"} <= set(ep.streams)
    inferred = {f.stream for f in res.findings if f.check_id == "schema.inferred"}
    assert {"qpos", "robot_serial", "operator_id", "site", "task"} <= inferred
    assert all(f.severity.value == "info" for f in res.findings)
    assert ep.streams["qpos"].rate_hz == 50.0
    assert np.diff(ep.streams["qpos"].timestamps).tolist() == [20_000_000] * (
        ep.streams["qpos"].n_samples - 1)
    for idx, cam in enumerate(ACT_CAMERAS):
        frames = ep.cameras[cam].frames.iter_frames()
        first = next(frames)
        assert first.shape == (32, 40, 3)
        assert abs(float(first.mean()) - (20 + 50 * idx)) < 3  # the right camera's images
        assert 1 + sum(1 for _ in frames) == ep.cameras[cam].n_frames
    serious = [f.message for f in _checks(ep) if f.severity.value in ("error", "warning")]
    assert not serious


def test_compressed_rows_decode_one_by_one_in_order(tmp_path):
    path = write_act(tmp_path / "episode_3.hdf5", compressed=True)
    ep = ADAPTER.read(path, None).episode
    cam = ep.cameras["cam_low"]
    means = [float(fr.mean()) for fr in cam.frames.iter_frames()]
    assert len(means) == cam.n_frames
    assert np.allclose([m - 70 for m in means[:12]], [i % 10 for i in range(12)], atol=0.6)


def test_joint_beyond_its_limit_found_through_the_adapter(tmp_path):
    upper = get_profile("aloha").joint("vx300s_left/shoulder").upper

    def beyond(q):
        q[30:40, 1] = upper + 0.3

    write_act(tmp_path / "episode_1.hdf5", compressed=False, qpos_edit=beyond)
    found = [f for f in _checks(read_source(discover([tmp_path])[0][0]).episode)
             if f.check_id == "value.joint_limit"]
    assert found and found[0].severity.value == "error"
    assert "vx300s_left/shoulder" in found[0].message


def test_nan_in_qpos_found_through_the_adapter(tmp_path):
    def nan(q):
        q[10, 4] = np.nan

    write_act(tmp_path / "episode_2.hdf5", compressed=True, qpos_edit=nan)
    ids = {f.check_id for f in _checks(ADAPTER.read(tmp_path / "episode_2.hdf5", None).episode)
           if f.severity.value == "error"}
    assert "value.nonfinite" in ids


def test_mobile_aloha_base_action(tmp_path):
    path = write_act(tmp_path / "episode_0.hdf5", compressed=False, mobile=True)
    ep = ADAPTER.read(path, None).episode
    base = ep.streams["base_action"]
    assert base.kind == "action" and base.space == "other"
    assert base.names == ["linear_vel", "angular_vel"]
    assert ep.primary_action.name == "action"  # the arms, not the base


def test_undecodable_camera_is_a_finding_for_that_camera_only(tmp_path):
    path = write_act(tmp_path / "episode_0.hdf5", compressed=True)
    with h5py.File(path, "a") as f:
        f["observations/images/cam_low"][...] = 7  # not an image any more
    res = ADAPTER.read(path, None)
    cams = [f for f in res.findings if f.check_id == "schema.camera"]
    assert len(cams) == 1 and cams[0].stream == "cam_low" and str(path) in cams[0].message
    assert "cam_high" in res.episode.cameras and "cam_low" not in res.episode.cameras


def test_missing_action_is_unreadable_with_the_file_named(tmp_path):
    path = write_act(tmp_path / "episode_0.hdf5", compressed=False)
    with h5py.File(path, "a") as f:
        del f["observations/qpos"]
        f["observations/qpos"] = np.zeros(5)  # one-dimensional: not ACT's layout
    res = ADAPTER.read(path, None)
    assert res.episode is None and res.findings[0].check_id == "schema.unreadable"
    assert str(path) in res.findings[0].message and "qpos" in res.findings[0].message


def test_mapping_rate_and_metadata(tmp_path):
    path = write_act(tmp_path / "episode_0.hdf5", compressed=False)
    m = {"_source": "lab.toml", "rate_hz": 25.0, "operator_id": "op_3", "site": "lab-a"}
    res = ADAPTER.read(path, None, m)
    ep = res.episode
    assert ep.streams["qpos"].rate_hz == 25.0 and ep.metadata.operator_id == "op_3"
    msgs = [f.message for f in res.findings if f.check_id == "schema.inferred"]
    assert any("operator_id" in s and "lab.toml" in s for s in msgs)
    assert any("25 Hz" in s for s in msgs)


def test_a_profile_in_the_stores_robots_folder_names_the_joints(tmp_path):
    """A user's profile dropped into ``<store>/robots/`` is the robot's profile for ALOHA
    episodes too: its joint names name the qpos columns, so the profile checks see its joints."""
    from typer.testing import CliRunner

    from pipelines.cli.main import app

    store = tmp_path / "store"
    (store / "robots").mkdir(parents=True)
    shipped = get_profile("aloha").path.read_text(encoding="utf-8")
    (store / "robots" / "lab-aloha.toml").write_text(
        shipped.replace('id = "aloha"', 'id = "lab-aloha"')
        .replace('aliases = ["aloha", "aloha_bimanual", "viperx_bimanual"]', "")
        .replace('product_model = "VX3002"', 'product_model = "VX3099"'), encoding="utf-8")
    mapping = tmp_path / "lab.toml"
    mapping.write_text('robot_model = "lab-aloha"\nrobot_serial = "a-7"\nrate_hz = 50.0\n')
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_act(inbox / "episode_0.hdf5", compressed=False)
    res = CliRunner().invoke(app, ["check", str(inbox), "--store", str(store), "--mapping",
                                   str(mapping), "--json", "--workers", "1"])
    [entry] = json.loads(res.stdout)["episodes"]
    messages = [f["message"] for f in entry["findings"]]
    assert any("profile 'lab-aloha' order" in m for m in messages), messages
    assert entry["passed"] and res.exit_code == 0, messages


def test_a_stream_without_columns_leaves_no_episode_to_check(tmp_path):
    path = write_act(tmp_path / "episode_0.hdf5", compressed=False)
    with h5py.File(path, "r+") as f:
        n = f["observations/qpos"].shape[0]
        del f["observations/qpos"]
        f["observations/qpos"] = np.zeros((n, 0))
    res = read_source(discover([path])[0][0])
    assert res.episode is None
    assert [(f.check_id, f.stream, f.message) for f in res.findings
            if f.severity.value == "error"] == [
        ("schema.stream", "qpos", f"episode_0.hdf5: stream 'qpos' has values of shape ({n}, 0): "
                                  "one row per sample and at least one column are required")]
