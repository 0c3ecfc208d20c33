"""robomimic / robosuite demonstration files: the real robosuite samples and generated files in
robomimic's layout with planted defects."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from checks.registry import run_episode_checks
from pipelines.adapters.robomimic import ADAPTER
from pipelines.sources import discover, read_source
from robots.profile import get_profile
from schemas.quality_profile import load_quality_profile

PROFILE = load_quality_profile()


def _checks(ep):
    return run_episode_checks(ep, get_profile(ep.metadata.robot_model), PROFILE)


def write_robomimic(path: Path, n_demos: int = 3, steps: int = 60, nan_demo: int | None = None,
                    control_freq: float | None = 20.0) -> Path:
    """A file in robomimic's layout: demos from demo_0, obs and next_obs, images, masks."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        kwargs = {"robots": ["Panda"]} | ({"control_freq": control_freq} if control_freq else {})
        data.attrs["env_args"] = json.dumps({"env_name": "Lift", "type": 1,
                                             "env_kwargs": kwargs})
        data.attrs["total"] = n_demos * steps
        for d in range(n_demos):
            g = data.create_group(f"demo_{d}")
            g.attrs["num_samples"] = steps
            t = np.arange(steps) / 20.0
            q = 0.3 * np.sin(t[:, None] * (1 + np.arange(7)) * 0.5 + d)
            if d == nan_demo:
                q[25, 3] = np.nan
            g["obs/robot0_joint_pos"] = q
            g["obs/robot0_eef_pos"] = rng.normal(0, 0.01, (steps, 3)).cumsum(0)
            g["obs/robot0_gripper_qpos"] = np.full((steps, 2), 0.02) + 0.001 * np.sin(t)[:, None]
            g["obs/agentview_image"] = rng.integers(0, 255, (steps, 24, 32, 3), dtype=np.uint8)
            g["next_obs/robot0_joint_pos"] = np.roll(q, -1, axis=0)
            g["actions"] = np.clip(np.gradient(q, axis=0) * 5, -1, 1)
            g["states"] = rng.normal(size=(steps, 32))
            g["rewards"] = np.zeros(steps)
            g["dones"] = np.r_[np.zeros(steps - 1), 1.0]
        f["mask/train"] = np.array([f"demo_{d}".encode() for d in range(n_demos - 1)])
        f["mask/valid"] = np.array([f"demo_{n_demos - 1}".encode()])
    return path


def test_one_entry_per_demo_in_numeric_order(tmp_path):
    path = write_robomimic(tmp_path / "lift.hdf5", n_demos=12)
    refs, bad = discover([tmp_path])
    assert not bad and {r.layout for r in refs} == {"robomimic"}
    assert [r.episode_key for r in refs] == [f"demo_{i}" for i in range(12)]
    assert all(r.files() == [path.resolve()] for r in refs)


def test_generated_demo_maps_onto_the_episode(tmp_path):
    path = write_robomimic(tmp_path / "lift.hdf5")
    res = ADAPTER.read(path, "demo_2")
    ep = res.episode
    assert ep.source.episode_key == "demo_2"
    js = ep.streams["robot0_joint_pos"]
    assert js.kind == "joint_position" and js.rate_hz == 20.0 and js.values.shape == (60, 7)
    assert ep.primary_action.name == "actions"
    assert not any(name.startswith("next_obs") for name in ep.streams)  # shifted copies
    assert {"rewards", "dones"}.isdisjoint(ep.streams)
    assert ep.streams["robot0_eef_pos"].kind == "ee_pose"
    assert ep.streams["robot0_gripper_qpos"].kind == "gripper"
    frames = list(ep.cameras["agentview_image"].frames.iter_frames())
    assert len(frames) == 60 and frames[0].shape == (24, 32, 3)
    assert ep.metadata.task == "robosuite Lift"
    assert ep.metadata.extra["filter_keys"] == "valid"
    inferred = [f for f in res.findings if f.check_id == "schema.inferred"]
    assert not any(f.stream == "clock" for f in inferred)  # env_args names the rate
    assert any(f.stream == "robot0_joint_pos" and "joint names" in f.message
               for f in inferred)


def test_clock_from_the_mapping_when_env_args_lacks_it(tmp_path):
    path = write_robomimic(tmp_path / "lift.hdf5", control_freq=None, n_demos=1)
    res = ADAPTER.read(path, "demo_0", {"_source": "lift.toml", "rate_hz": 10.0})
    assert res.episode.streams["actions"].rate_hz == 10.0
    clock = [f for f in res.findings if f.stream == "clock"]
    assert clock and clock[0].severity.value == "info" and "lift.toml" in clock[0].message


def test_planted_nan_found_through_the_adapter(tmp_path):
    path = write_robomimic(tmp_path / "lift.hdf5", nan_demo=1)
    errors = {d: {f.check_id for f in _checks(ADAPTER.read(path, d).episode)
                  if f.severity.value == "error"} for d in ("demo_0", "demo_1")}
    assert "value.nonfinite" in errors["demo_1"]
    assert "value.nonfinite" not in errors["demo_0"]


def test_missing_demo_is_unreadable_not_a_crash(tmp_path):
    path = write_robomimic(tmp_path / "lift.hdf5", n_demos=1)
    res = ADAPTER.read(path, "demo_9")
    assert res.episode is None and res.findings[0].check_id == "schema.unreadable"
    assert "demo_9" in res.findings[0].message and str(path) in res.findings[0].message


@pytest.mark.parametrize(("name", "demos"), [("SawyerLift.hdf5", 2), ("BaxterPegInHole.hdf5", 2),
                                             ("door-panda.hdf5", 1), ("wipe-panda.hdf5", 1)])
def test_real_robosuite_files(shared_data, name, demos):
    path = shared_data / "robomimic-robosuite-demos" / name
    refs, bad = discover([path])
    assert not bad and [r.episode_key for r in refs] == [f"demo_{i}" for i in
                                                         range(1, demos + 1)]
    for ref in refs:
        res = read_source(ref)
        ep = res.episode
        assert ep is not None and ep.streams, res.findings
        # zero-width datasets (SawyerLift's unused left arm) are tolerated, not streams
        assert all(s.values.shape[1] > 0 for s in ep.streams.values())
        assert ep.metadata.started_at.startswith(("2018-10-24", "2020-09-04"))
        assert any(f.stream == "started_at" for f in res.findings)


# ------------------------------------------------- joints recovered from robosuite's states
#: sample file -> (robot profile, joints robosuite's robot model puts first in qpos, nq: the
#: qpos width, so that the state's qvel starts at column 1 + nq)
ROBOSUITE = {
    "SawyerLift.hdf5": ("sawyer", 8, 17),  # 8 arm/head + 2 fingers + 7 (the cube's free joint)
    "BaxterPegInHole.hdf5": ("baxter", 15, 15),
    "door-panda.hdf5": ("franka-panda", 7, 11),  # 7 arm + 2 fingers + door hinge and latch
    "wipe-panda.hdf5": ("franka-panda", 7, 7),  # no gripper joints at all
}


def _states(path: Path, key: str) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return f[f"data/{key}/states"][()]


@pytest.mark.parametrize("name", sorted(ROBOSUITE))
def test_robosuite_joints_are_recovered_from_the_states(shared_data, name):
    pid, n, nq = ROBOSUITE[name]
    path = shared_data / "robomimic-robosuite-demos" / name
    prof = get_profile(pid)
    tol = float(PROFILE.settings("value.joint_limit")["tolerance_rad"])
    for ref in discover([path])[0]:
        res = read_source(ref)
        ep = res.episode
        assert ep.metadata.robot_model == pid
        js = ep.streams["joint_position"]
        assert js.kind == "joint_position" and js.names == prof.joint_names[:n]
        states = _states(path, ref.episode_key)
        np.testing.assert_array_equal(js.values, states[:, 1:1 + n])
        # they are the joints: inside the profile's limits (MuJoCo's soft limits let Baxter's
        # wrists pass by 4 mrad, inside the check's tolerance) ...
        lo, hi, _ = prof.limits_for(js.names)
        assert np.all(js.values >= lo - tol) and np.all(js.values <= hi + tol), ref.episode_key
        # ... continuous, and each column moves as the state's qvel of the same joint says
        assert np.abs(np.diff(js.values, axis=0)).max() < 0.1
        qvel = states[:, 1 + nq:1 + nq + n]
        for i in range(n):
            step = np.diff(js.values[:, i])
            if step.std() > 0:
                assert np.corrcoef(step, qvel[1:, i])[0, 1] > 0.9, (ref.episode_key, js.names[i])
        said = {f.stream: f.message for f in res.findings if f.check_id == "schema.inferred"}
        assert f"states[:, 1:{1 + n}]" in said["joint_position"] and pid in said["robot_model"]
        findings = _checks(ep)
        assert not [f for f in findings if f.check_id in ("schema.robot", "value.joint_limit")]
        errors = {f.check_id for f in findings if f.severity.value == "error"}
        # Baxter's demos hold nothing but states: no action (the only error); the others pass
        assert errors == ({"schema.stream"} if pid == "baxter" else set()), ref.episode_key


def test_a_joint_beyond_its_limit_in_the_states_fails_the_demo(shared_data, tmp_path):
    """The recovered joints are what the grade is decided on: push Sawyer's right_j1 past its
    upper limit in a copy of the file and the demo fails on value.joint_limit."""
    path = tmp_path / "SawyerLift.hdf5"
    path.write_bytes((shared_data / "robomimic-robosuite-demos" / "SawyerLift.hdf5").read_bytes())
    upper = get_profile("sawyer").joint("right_j1").upper
    with h5py.File(path, "r+") as f:
        states = f["data/demo_1/states"]
        rows = states[100:130]
        rows[:, 3] = upper + 0.2  # qpos: right_j0, head_pan, right_j1
        states[100:130] = rows
    ep = ADAPTER.read(path, "demo_1").episode
    bad = [f for f in _checks(ep) if f.check_id == "value.joint_limit"]
    assert bad and bad[0].severity.value == "error" and "right_j1" in bad[0].message
    assert ep.streams["joint_position"].timestamps[100] == round(
        _states(path, "demo_1")[100, 0] * 1e9)


def test_robosuite_clock_is_the_simulation_time_when_it_increases(shared_data):
    base = shared_data / "robomimic-robosuite-demos"
    door = read_source(discover([base / "door-panda.hdf5"])[0][0])
    t = _states(base / "door-panda.hdf5", "demo_1")[:, 0]
    ep = door.episode
    assert all(np.array_equal(s.timestamps, np.round(t * 1e9).astype(np.int64))
               for s in ep.streams.values())
    assert ep.streams["joint_position"].rate_hz == 20.0  # env_info's control_freq
    clock = [f.message for f in door.findings if f.stream == "clock"]
    assert clock and "simulation time" in clock[0]
    # robosuite 0.1's SawyerLift: no control_freq; the rate is the simulation time's mean
    sawyer = read_source(discover([base / "SawyerLift.hdf5"])[0][0]).episode
    js = sawyer.streams["joint_position"]
    assert js.rate_hz == pytest.approx((js.n_samples - 1) / ((js.timestamps[-1] -
                                                               js.timestamps[0]) / 1e9))
    # BaxterPegInHole's simulation time repeats steps: the control-frequency clock, and why
    baxter = read_source(discover([base / "BaxterPegInHole.hdf5"])[0][0])
    assert np.any(np.diff(_states(base / "BaxterPegInHole.hdf5", "demo_1")[:, 0]) <= 0)
    assert baxter.episode.streams["joint_position"].rate_hz == 20.0
    clock = [f.message for f in baxter.findings if f.stream == "clock"]
    assert "does not increase" in clock[0]


def test_robosuite_actions_are_not_joint_space_unless_they_are(shared_data):
    base = shared_data / "robomimic-robosuite-demos"
    for name in ("door-panda.hdf5", "wipe-panda.hdf5"):  # OSC_POSE: end-effector deltas
        ep = read_source(discover([base / name])[0][0]).episode
        act = ep.primary_action
        assert act.name == "actions" and act.space == "ee" and not act.is_joint_space
        assert ep.streams["joint_torques"].names == get_profile("franka-panda").joint_names[:7]
    # robosuite 0.1 stored what the teleoperation commanded: joint velocities of the arm (not
    # the head, which it never drives), end-effector deltas and the gripper
    ep = read_source(discover([base / "SawyerLift.hdf5"])[0][0]).episode
    act = ep.primary_action
    assert act.name == "joint_velocities" and act.space == "joint_velocity"
    assert act.names == ["right_j0"] + [f"right_j{i}" for i in range(1, 7)]
    assert {ep.streams[n].space for n in ("right_dpos", "right_dquat")} == {"ee"}
    assert ep.streams["gripper_actuations"].kind == "action"


def _raw_demo(path: Path, env_info: dict | None, width: int, env: str | None = None) -> Path:
    """A raw robosuite demo: states (increasing time first) and OSC actions only."""
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        if env_info is not None:
            data.attrs["env_info"] = json.dumps(env_info)
        if env:
            data.attrs["env"] = env
        g = data.create_group("demo_1")
        states = np.zeros((40, width))
        states[:, 0] = 0.05 * np.arange(1, 41)
        states[:, 1:8] = 0.1 * np.sin(np.arange(40)[:, None] / 10 + np.arange(7)) - 1.0
        g["states"] = states
        g["actions"] = np.zeros((40, 7))
    return path


def test_recovery_needs_a_profile_and_room_for_qpos(tmp_path):
    panda = {"env_name": "Lift", "robots": ["Panda"], "control_freq": 20,
             "controller_configs": {"type": "OSC_POSE"}}
    ok = ADAPTER.read(_raw_demo(tmp_path / "ok.hdf5", panda, 1 + 9 + 9), "demo_1").episode
    assert ok.metadata.robot_model == "franka-panda"
    assert ok.streams["joint_position"].values.shape == (40, 7)
    # 1 + 7 + 6 columns: qpos may be as short as 7 (nq >= nv) but the 7th column could be a
    # velocity too; nothing is guessed
    narrow = ADAPTER.read(_raw_demo(tmp_path / "n.hdf5", panda, 1 + 7 + 6), "demo_1").episode
    assert "joint_position" not in narrow.streams
    # a robot without a profile: no joints, no robot_model, and the gate says so
    iiwa = {**panda, "robots": "IIWA"}
    res = ADAPTER.read(_raw_demo(tmp_path / "i.hdf5", iiwa, 1 + 9 + 9), "demo_1")
    assert "joint_position" not in res.episode.streams and not res.episode.metadata.robot_model
    assert any(f.check_id == "schema.stream" for f in _checks(res.episode))
    # robosuite 0.1 names the robot in the environment's name only
    old = ADAPTER.read(_raw_demo(tmp_path / "o.hdf5", None, 1 + 9 + 9, env="PandaLift"),
                       "demo_1").episode
    assert old.metadata.robot_model == "franka-panda"
    # the mapping's robot_model wins over the file's, through the aliases too
    mapped = ADAPTER.read(tmp_path / "i.hdf5", "demo_1", {"robot_model": "Panda"})
    assert mapped.episode.metadata.robot_model == "franka-panda"
    assert "joint_position" in mapped.episode.streams


def test_robomimic_joint_obs_take_the_profile_joint_names(tmp_path):
    """robomimic's obs/robot0_joint_pos holds the robot's joints in model order: with the
    robot resolved (env_args robots ["Panda"]) the columns are the profile's joints."""
    path = write_robomimic(tmp_path / "lift.hdf5", n_demos=1)
    res = ADAPTER.read(path, "demo_0")
    ep = res.episode
    assert ep.metadata.robot_model == "franka-panda"
    assert ep.streams["robot0_joint_pos"].names == get_profile("franka-panda").joint_names[:7]
    assert "joint_position" not in ep.streams  # a joint-position dataset exists: no recovery
    assert not [f for f in _checks(ep) if f.check_id == "schema.robot"]


def test_a_profile_in_the_stores_robots_folder_resolves_the_robot(tmp_path):
    """A robot only the store's ``robots/`` folder has a profile for (here by its alias
    ``IIWA``) is the demo's robot, and its joints are recovered from the states."""
    from typer.testing import CliRunner

    from pipelines.cli.main import app

    store = tmp_path / "store"
    (store / "robots").mkdir(parents=True)
    joints = "".join(f'[[joints]]\nname = "iiwa_j{i}"\nlower = -2.9\nupper = 2.9\n'
                     for i in range(7))
    (store / "robots" / "lab-iiwa.toml").write_text(
        f'id = "lab-iiwa"\nkind = "arm"\naliases = ["IIWA"]\n{joints}')
    inbox = tmp_path / "in"
    inbox.mkdir()
    iiwa = {"env_name": "Lift", "robots": ["IIWA"], "control_freq": 20,
            "controller_configs": {"type": "OSC_POSE"}}
    _raw_demo(inbox / "iiwa.hdf5", iiwa, 1 + 9 + 9)
    res = CliRunner().invoke(app, ["check", str(inbox), "--store", str(store), "--json",
                                   "--workers", "1"])
    [entry] = json.loads(res.stdout)["episodes"]
    messages = [f["message"] for f in entry["findings"]]
    assert any("'lab-iiwa'" in m and "robot_model" in m for m in messages), messages
    assert any("states[:, 1:8] as iiwa_j0" in m for m in messages), messages


@pytest.mark.parametrize(("freq", "shown"), [(1e308, "1e+308 Hz is above 100000 Hz"),
                                             (2e5, "200000 Hz is above 100000 Hz"),
                                             (1e-300, "1e-300 Hz is below 0.1 Hz")])
def test_a_control_frequency_no_robot_has_leaves_no_episode_to_check(tmp_path, recwarn, freq,
                                                                     shown):
    # the rate comes from the file: every check and the dataset clock would divide by it
    path = write_robomimic(tmp_path / "lift.hdf5", control_freq=freq, n_demos=1)
    res = read_source(discover([path])[0][0])
    assert res.episode is None
    assert [(f.check_id, f.message) for f in res.findings] == [
        ("schema.stream", f"{path}: /data attr env_args declares control_freq {shown}, "
                          f"{'faster' if 'above' in shown else 'slower'} than any robot "
                          "recording")]
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_any_adapters_rate_above_the_limit_leaves_no_episode_to_check(tmp_path):
    # a rate no adapter refused itself (here a mapping's, beside a file without env_args)
    path = write_robomimic(tmp_path / "lift.hdf5", control_freq=None, n_demos=1)
    ref = discover([path])[0][0]
    res = read_source(ref, {"_source": "lift.toml", "rate_hz": 2e5})
    assert res.episode is None
    errors = [(f.check_id, f.message) for f in res.findings if f.severity.value == "error"]
    assert {c for c, _ in errors} == {"schema.stream", "schema.camera"}
    assert ("schema.stream", "lift.hdf5#demo_0: stream 'actions': 200000 Hz is above 100000 Hz, "
            "faster than any robot recording") in errors
    assert any(m.startswith("lift.hdf5#demo_0: camera 'agentview_image': 200000 Hz")
               for _, m in errors)
