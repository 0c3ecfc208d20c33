"""ROS 2 recordings in MCAP: the real sensor_msgs bag and generated bags with planted defects."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from mcap_ros2.writer import Writer

from checks.registry import run_episode_checks
from pipelines.adapters.mcap import ADAPTER
from pipelines.sources import discover, read_source
from pipelines.synthetic import EpisodePlan, generate_episode
from robots.profile import get_profile
from schemas.quality_profile import load_quality_profile

PROFILE = load_quality_profile()
SEP = "=" * 80


def _stamped(fields: str) -> str:
    """A ROS 2 message definition: a ``std_msgs/Header`` and then ``fields``, with the
    definitions it depends on appended as ``ros2msg`` wants them."""
    return (f"std_msgs/Header header\n{fields}\n{SEP}\nMSG: std_msgs/Header\n"
            f"builtin_interfaces/Time stamp\nstring frame_id\n{SEP}\n"
            "MSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec")


JOINT_STATE = _stamped("string[] name\nfloat64[] position\nfloat64[] velocity\nfloat64[] effort")
IMAGE = _stamped("uint32 height\nuint32 width\nstring encoding\nuint8 is_bigendian\n"
                 "uint32 step\nuint8[] data")
COMPRESSED = _stamped("string format\nuint8[] data")
START_NS = 1_700_000_000_000_000_000
MAPPING = {"_source": "arm.toml", "robot_model": "aloha", "robot_serial": "ALOHA0001",
           "topics": {"/leader/joint_states": {"stream": "action", "kind": "action",
                                               "space": "joint_position"}}}


def _header(t_ns: int, zero: bool) -> dict:
    if zero:
        return {"stamp": {"sec": 0, "nanosec": 0}, "frame_id": ""}
    return {"stamp": {"sec": t_ns // 1_000_000_000, "nanosec": t_ns % 1_000_000_000},
            "frame_id": "base"}


def _picture(k: int) -> np.ndarray:
    """A smooth RGB picture (JPEG keeps it) whose red channel says which frame it is."""
    y, x = np.mgrid[0:24, 0:32]
    return np.stack([np.full((24, 32), 10 * k), 6 * x, 8 * y], axis=-1).astype(np.uint8)


def write_bag(path: Path, *, zero_stamps: bool = False, nan_at: int | None = None,
              with_action: bool = True, image_step_pad: int = 0) -> Path:
    """An ALOHA arm pair recorded as ROS 2 topics: follower state, leader commands, cameras."""
    prof = get_profile("aloha")
    ep = generate_episode(prof, EpisodePlan(duration_s=2.0, rate_hz=50.0, cameras=(), seed=5))
    q, a = ep.streams["joint_pos"].values, ep.streams["action"].values
    qd = np.gradient(q, axis=0) * 50
    with open(path, "wb") as fh:
        w = Writer(fh)
        js = w.register_msgdef("sensor_msgs/msg/JointState", JOINT_STATE)
        img = w.register_msgdef("sensor_msgs/msg/Image", IMAGE)
        cimg = w.register_msgdef("sensor_msgs/msg/CompressedImage", COMPRESSED)
        for i in range(len(q)):
            t = START_NS + i * 20_000_000
            pos = q[i].copy()
            if i == nan_at:
                pos[2] = np.nan
            w.write_message("/follower/joint_states", js, {
                "header": _header(t, zero_stamps), "name": prof.joint_names,
                "position": pos.tolist(), "velocity": qd[i].tolist(), "effort": []},
                log_time=t, publish_time=t)
            if with_action and i < len(a):
                w.write_message("/leader/joint_states", js, {
                    "header": _header(t, zero_stamps), "name": prof.joint_names,
                    "position": a[i].tolist(), "velocity": [], "effort": []},
                    log_time=t, publish_time=t)
            if i % 5 == 0:
                frame = _picture(i // 5)
                raw = np.zeros((24, 32 * 3 + image_step_pad), dtype=np.uint8)
                raw[:, : 32 * 3] = frame[..., ::-1].reshape(24, -1)  # bgr8
                w.write_message("/cam_high/image_raw", img, {
                    "header": _header(t, False), "height": 24, "width": 32,
                    "encoding": "bgr8", "is_bigendian": 0, "step": 32 * 3 + image_step_pad,
                    "data": raw.tobytes()}, log_time=t, publish_time=t)
                jpg = cv2.imencode(".jpg", frame[..., ::-1])[1].tobytes()
                w.write_message("/cam_wrist/compressed", cimg, {
                    "header": _header(t, False), "format": "jpeg", "data": jpg},
                    log_time=t, publish_time=t)
        w.finish()
    return path


def test_generated_bag_maps_topics_onto_the_episode(tmp_path):
    write_bag(tmp_path / "run.mcap", image_step_pad=4)
    refs, bad = discover([tmp_path])
    assert not bad and [(r.layout, r.episode_key) for r in refs] == [("mcap", None)]
    res = read_source(refs[0], MAPPING)
    ep = res.episode
    state = ep.streams["follower_joint_states"]
    assert state.kind == "joint_position" and state.names == get_profile("aloha").joint_names
    assert state.timestamps[0] == START_NS and abs(state.rate_hz - 50.0) < 0.01
    assert ep.streams["follower_joint_states_vel"].kind == "joint_velocity"
    assert "follower_joint_states_effort" not in ep.streams  # empty effort fields
    action = ep.streams["action"]
    assert action.kind == "action" and action.space == "joint_position"
    assert {"cam_high_image_raw", "cam_wrist_compressed"} == set(ep.cameras)
    raw = list(ep.cameras["cam_high_image_raw"].frames.iter_frames())
    jpg = list(ep.cameras["cam_wrist_compressed"].frames.iter_frames())
    assert len(raw) == len(jpg) == ep.cameras["cam_high_image_raw"].n_frames == (len(
        state.timestamps) + 4) // 5
    assert raw[0].shape == jpg[0].shape == (24, 32, 3)
    assert np.array_equal(raw[3], _picture(3))  # bgr8 rows with padding, as RGB
    assert np.abs(jpg[3].astype(int) - _picture(3)).mean() < 4
    assert not [f for f in res.findings if f.stream and "clock" in f.message]
    errors = [f.message for f in _checks(ep) if f.severity.value == "error"]
    assert not errors


def test_zero_header_stamps_fall_back_to_log_time(tmp_path):
    path = write_bag(tmp_path / "run.mcap", zero_stamps=True)
    res = ADAPTER.read(path, None, MAPPING)
    state = res.episode.streams["follower_joint_states"]
    assert state.timestamps[0] == START_NS and state.timestamps[1] == START_NS + 20_000_000
    fallback = [f for f in res.findings if f.check_id == "schema.inferred"
                and "log time" in f.message]
    assert {f.stream for f in fallback} == {"follower_joint_states", "leader_joint_states"}
    assert all(f.severity.value == "info" for f in fallback)


def test_planted_nan_found_through_the_adapter(tmp_path):
    path = write_bag(tmp_path / "run.mcap", nan_at=33)
    found = [f for f in _checks(ADAPTER.read(path, None, MAPPING).episode)
             if f.check_id == "value.nonfinite"]
    assert found and found[0].severity.value == "error"


def test_bag_without_an_action_topic(tmp_path):
    path = write_bag(tmp_path / "run.mcap", with_action=False)
    ep = ADAPTER.read(path, None, MAPPING).episode
    missing = [f for f in _checks(ep) if f.check_id == "schema.stream"]
    assert missing and "'action'" in missing[0].message and "mcap" in missing[0].message


def test_truncated_bag_is_unreadable(tmp_path):
    path = write_bag(tmp_path / "run.mcap")
    data = path.read_bytes()
    bad = tmp_path / "cut.mcap"
    bad.write_bytes(data[: len(data) // 3])
    res = ADAPTER.read(bad, None, MAPPING)
    assert res.episode is None and res.findings[0].check_id == "schema.unreadable"
    assert str(bad) in res.findings[0].message


def test_real_ros2_bag(shared_data):
    refs, bad = discover([shared_data / "ros2-mcap-sensor-msgs"])
    assert not bad and len(refs) == 1 and refs[0].layout == "mcap"
    res = read_source(refs[0])
    ep = res.episode
    js = ep.streams["joint_state"]
    assert js.n_samples == 15 and js.kind == "joint_position"
    assert ep.streams["imu"].values.shape == (1, 10)
    for cam in ("image", "compressed_image"):
        frame = next(iter(ep.cameras[cam].frames.iter_frames()))
        assert frame.ndim == 3 and frame.shape[2] == 3
    # one-message topics have no measurable rate: the mapping's is used and said so
    assert any(f.check_id == "schema.inferred" and f.stream == "imu" for f in res.findings)
    missing = [f for f in _checks(ep) if f.check_id == "schema.stream"]
    assert missing and "'action'" in missing[0].message


def test_real_bag_with_a_mapping_naming_the_action(shared_data, tmp_path):
    mapping = {"_source": "m.toml", "topics": {"/joint_state": {"stream": "cmd",
                                                                "kind": "action"},
                                               "/image": {"skip": True}}}
    ref = discover([shared_data / "ros2-mcap-sensor-msgs"])[0][0]
    ep = read_source(ref, mapping).episode
    assert ep.streams["cmd"].kind == "action" and "image" not in ep.cameras
    assert not ep.streams_of_kind("joint_position")


def _checks(ep):
    return run_episode_checks(ep, get_profile(ep.metadata.robot_model), PROFILE)
