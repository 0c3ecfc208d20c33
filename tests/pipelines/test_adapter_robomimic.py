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
