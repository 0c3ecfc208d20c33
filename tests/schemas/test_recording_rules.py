"""One real file per structural rule of recording format 1.0: the finding names the HDF5 path
and the rule, and the valid rest of the episode still comes back."""

from __future__ import annotations

from collections.abc import Callable

import h5py
import numpy as np
import pytest

from schemas.recording import read_recording

Mutation = Callable[[h5py.File], None]


def drop(path: str, attr: str) -> Mutation:
    def f(h: h5py.File) -> None:
        del h[path].attrs[attr]
    return f


def put(path: str, attr: str, value) -> Mutation:
    def f(h: h5py.File) -> None:
        h[path].attrs[attr] = value
    return f


def replace(path: str, data) -> Mutation:
    def f(h: h5py.File) -> None:
        del h[path]
        h[path] = data
    return f


def delete(path: str) -> Mutation:
    def f(h: h5py.File) -> None:
        del h[path]
    return f


def both(*mutations: Mutation) -> Mutation:
    def f(h: h5py.File) -> None:
        for m in mutations:
            m(h)
    return f


def _break(path, mutate: Mutation):
    with h5py.File(path, "r+") as f:
        mutate(f)
    return read_recording(path)


def _assert_found(res, check_id: str, needle: str, stream: str | None):
    hits = [f for f in res.findings if f.check_id == check_id and needle in f.message]
    assert hits, [(f.check_id, f.message) for f in res.findings]
    assert all(f.severity == "error" for f in res.findings)
    if stream is not None:
        assert hits[0].stream == stream
    return hits[0]


# --------------------------------------------------------------------------- root attributes
REQUIRED = ("robot_model", "robot_serial", "operator_id", "collection_mode", "task", "site",
            "started_at")


@pytest.mark.parametrize("attr", REQUIRED)
def test_missing_required_attribute_is_one_finding_and_becomes_empty(good, attr):
    res = _break(good, drop("/", attr))
    hit = _assert_found(res, "schema.metadata", f"root attribute '{attr}' is missing", attr)
    assert len(res.findings) == 1 and hit.stream == attr
    assert res.episode is not None and getattr(res.episode.metadata, attr) == ""
    assert res.episode.streams and res.episode.cameras  # the numeric checks can still run


METADATA = [
    ("empty task", put("/", "task", "  "), "'task' is empty", "task"),
    ("site as a number", put("/", "site", 7), "'site' is 7; it must be a UTF-8 string", "site"),
    ("operator with a space", put("/", "operator_id", "Zhang San"),
     "'operator_id' is 'Zhang San'; it must match [A-Za-z0-9_-]{1,64}", "operator_id"),
    ("operator too long", put("/", "operator_id", "x" * 65), "[A-Za-z0-9_-]{1,64}",
     "operator_id"),
    ("unknown collection mode", put("/", "collection_mode", "telepathy"),
     "'collection_mode' is 'telepathy'; it must be one of teleop_vr", "collection_mode"),
    ("started_at without offset", put("/", "started_at", "2026-11-02T09:15:00"),
     "has no UTC offset", "started_at"),
    ("started_at not a time", put("/", "started_at", "yesterday"),
     "'started_at' is 'yesterday', not an ISO 8601 time", "started_at"),
    ("success not 0/1", put("/", "success", 7), "'success' is 7; it must be the integer 1 or 0",
     "success"),
    ("success as text", put("/", "success", "yes"), "'success' is 'yes'", "success"),
    ("robot_uid not text", put("/", "robot_uid", 12), "'robot_uid' is 12", "robot_uid"),
]


@pytest.mark.parametrize(("label", "mutate", "needle", "attr"), METADATA,
                         ids=[m[0] for m in METADATA])
def test_invalid_root_attribute(good, label, mutate, needle, attr):
    res = _break(good, mutate)
    _assert_found(res, "schema.metadata", needle, attr)
    assert len(res.findings) == 1 and res.episode is not None


def test_started_at_with_z_offset_is_valid(good):
    assert _break(good, put("/", "started_at", "2026-11-02T01:15:00Z")).findings == []


def test_every_broken_attribute_gets_its_own_finding(good):
    res = _break(good, both(drop("/", "task"), put("/", "operator_id", "a b"),
                            put("/", "collection_mode", "x")))
    assert sorted(f.stream for f in res.findings) == ["collection_mode", "operator_id", "task"]


FORMAT = [
    ("format missing", drop("/", "format"), "root attribute 'format' is missing"),
    ("another format", put("/", "format", "rosbag"), "'format' is 'rosbag', not"),
    ("version missing", drop("/", "format_version"), "'format_version' is missing"),
    ("another major", put("/", "format_version", "2.0"), "\"2.0\", which is not supported"),
    ("version not major.minor", put("/", "format_version", "one"), "\"major.minor\""),
    ("version as a number", put("/", "format_version", 1.0), "is 1.0; it must be"),
]


@pytest.mark.parametrize(("label", "mutate", "needle"), FORMAT, ids=[m[0] for m in FORMAT])
def test_wrong_format_is_refused(good, label, mutate, needle):
    res = _break(good, mutate)
    assert res.episode is None
    _assert_found(res, "schema.format", needle, None)


# ----------------------------------------------------------------------------------- streams
STREAMS = [
    ("names count", put("/streams/joint_pos", "names", ["a", "b"]),
     "/streams/joint_pos/values has 3 columns but attr 'names' lists 2 (one name per column "
     "is required)", "joint_pos"),
    ("names missing", drop("/streams/joint_pos", "names"),
     "/streams/joint_pos attr 'names' is missing", "joint_pos"),
    ("names not strings", put("/streams/joint_pos", "names", [1, 2, 3]),
     "/streams/joint_pos attr 'names' is an array of shape (3,); it must be a list of strings",
     "joint_pos"),
    ("unknown kind", put("/streams/imu.base", "kind", "vibes"),
     "/streams/imu.base attr 'kind' is 'vibes'; it must be one of joint_position", "imu.base"),
    ("kind missing", drop("/streams/imu.base", "kind"), "/streams/imu.base attr 'kind' is missing",
     "imu.base"),
    ("unit missing", drop("/streams/imu.base", "unit"), "/streams/imu.base attr 'unit' is missing",
     "imu.base"),
    ("zero rate", put("/streams/imu.base", "rate_hz", 0.0),
     "/streams/imu.base attr 'rate_hz' is 0.0; the nominal sampling rate must be a number "
     "between 0.1 and 100000 Hz", "imu.base"),
    ("rate as text", put("/streams/imu.base", "rate_hz", "100"), "attr 'rate_hz' is '100'",
     "imu.base"),
    ("rate missing", drop("/streams/imu.base", "rate_hz"), "attr 'rate_hz' is missing",
     "imu.base"),
    ("action without space", drop("/streams/action", "space"),
     "/streams/action attr 'space' is missing; an action stream must declare one of", "action"),
    ("action with unknown space", put("/streams/action", "space", "task_space"),
     "/streams/action attr 'space' is 'task_space'", "action"),
    ("float timestamps", replace("/streams/imu.base/timestamps", np.arange(120.0)),
     "/streams/imu.base/timestamps is float64 with shape (120,); it must be int64 [T]",
     "imu.base"),
    ("2-D timestamps", replace("/streams/imu.base/timestamps",
                               np.zeros((120, 2), dtype=np.int64)),
     "/streams/imu.base/timestamps is int64 with shape (120, 2)", "imu.base"),
    ("timestamps missing", delete("/streams/imu.base/timestamps"),
     "/streams/imu.base/timestamps is missing", "imu.base"),
    ("integer values", replace("/streams/imu.base/values", np.zeros((120, 6), dtype=np.int32)),
     "/streams/imu.base/values is int32 with shape (120, 6); it must be float32 or float64",
     "imu.base"),
    ("1-D values", replace("/streams/imu.base/values", np.zeros(120)),
     "/streams/imu.base/values is float64 with shape (120,)", "imu.base"),
    ("values a group", both(delete("/streams/imu.base/values"),
                            lambda h: h.create_group("/streams/imu.base/values")),
     "/streams/imu.base/values is a group; it must be a dataset", "imu.base"),
    ("no samples", both(replace("/streams/imu.base/values", np.zeros((0, 6))),
                        replace("/streams/imu.base/timestamps", np.zeros(0, dtype=np.int64))),
     "/streams/imu.base/values has shape (0, 6); at least one sample", "imu.base"),
    ("no columns", replace("/streams/imu.base/values", np.zeros((120, 0))),
     "/streams/imu.base/values has shape (120, 0)", "imu.base"),
    ("length mismatch", replace("/streams/imu.base/timestamps", np.arange(5, dtype=np.int64)),
     "/streams/imu.base/timestamps has 5 entries but /streams/imu.base/values has 120 rows",
     "imu.base"),
    ("upper-case name", lambda h: h.move("/streams/imu.base", "/streams/IMU"),
     "/streams/IMU: the stream name 'IMU' does not match [a-z][a-z0-9_.]{0,63}", "IMU"),
    ("name starting with a digit", lambda h: h.move("/streams/imu.base", "/streams/1imu"),
     "/streams/1imu: the stream name", "1imu"),
    ("stream as a dataset", lambda h: h.create_dataset("/streams/loose", data=np.zeros(3)),
     "/streams/loose is a dataset; a stream must be a group", "loose"),
]


def test_every_problem_of_a_stream_is_reported(good):
    res = _break(good, both(drop("/streams/imu.base", "unit"),
                            put("/streams/imu.base", "rate_hz", -1.0),
                            put("/streams/imu.base", "names", ["x"])))
    msgs = sorted(f.message for f in res.findings)
    assert len(msgs) == 3 and all(m.startswith("/streams/imu.base") for m in msgs)


@pytest.mark.parametrize(("missing", "kind"), [("/streams/action", "action"),
                                               ("/streams/joint_pos", "joint_position")])
def test_required_stream_kinds(good, missing, kind):
    res = _break(good, delete(missing))
    _assert_found(res, "schema.stream", f"/streams has no '{kind}' stream", None)
    assert res.episode is not None


def test_no_streams_group_at_all(good):
    res = _break(good, delete("/streams"))
    assert sorted(f.message.split("'")[1] for f in res.findings) == ["action", "joint_position"]


# ----------------------------------------------------------------------------------- cameras
CAMERAS = [
    ("frames but encoding video", put("/cameras/cam_head", "encoding", "video"),
     "/cameras/cam_head/frames is stored but attr 'encoding' says 'video'", "cam_head"),
    ("unknown encoding", put("/cameras/cam_head", "encoding", "h265"),
     "/cameras/cam_head attr 'encoding' is 'h265'", "cam_head"),
    ("encoding missing", drop("/cameras/cam_head", "encoding"),
     "/cameras/cam_head attr 'encoding' is missing", "cam_head"),
    ("frame width mismatch", put("/cameras/cam_head", "width", 99),
     "/cameras/cam_head/frames are 24x16 but attrs say width 99, height 16", "cam_head"),
    ("frame count mismatch", replace("/cameras/cam_head/timestamps",
                                     np.arange(3, dtype=np.int64)),
     "/cameras/cam_head/frames holds 12 frames but /cameras/cam_head/timestamps has 3",
     "cam_head"),
    ("depth declared as rgb8", put("/cameras/cam_depth", "encoding", "rgb8"),
     "/cameras/cam_depth/frames is uint16 (12, 16, 24); rgb8 frames must be uint8", "cam_depth"),
    ("rgb declared as depth16", put("/cameras/cam_head", "encoding", "depth16"),
     "/cameras/cam_head/frames is uint8 (12, 16, 24, 3); depth16 frames must be uint16",
     "cam_head"),
    ("float frames", replace("/cameras/cam_head/frames", np.zeros((12, 16, 24, 3), np.float32)),
     "/cameras/cam_head/frames is float32", "cam_head"),
    ("frames and video", put("/cameras/cam_head", "video", "cam_wrist.mp4"),
     "/cameras/cam_head has both a 'frames' dataset and attr 'video'", "cam_head"),
    ("neither frames nor video", delete("/cameras/cam_head/frames"),
     "/cameras/cam_head has neither a 'frames' dataset nor attr 'video'", "cam_head"),
    ("video with rgb8 encoding", put("/cameras/cam_wrist", "encoding", "rgb8"),
     "/cameras/cam_wrist attr 'video' names a sidecar but attr 'encoding' is 'rgb8'",
     "cam_wrist"),
    ("missing sidecar", put("/cameras/cam_wrist", "video", "gone.mp4"),
     "/cameras/cam_wrist attr 'video' names 'gone.mp4', which does not exist beside ep.h5",
     "cam_wrist"),
    ("width missing", drop("/cameras/cam_head", "width"),
     "/cameras/cam_head attr 'width' is missing", "cam_head"),
    ("height zero", put("/cameras/cam_head", "height", 0),
     "/cameras/cam_head attr 'height' is 0; it must be a positive integer", "cam_head"),
    ("rate missing", drop("/cameras/cam_head", "rate_hz"),
     "/cameras/cam_head attr 'rate_hz' is missing", "cam_head"),
    ("int32 timestamps", replace("/cameras/cam_head/timestamps", np.arange(12, dtype=np.int32)),
     "/cameras/cam_head/timestamps is int32 with shape (12,); it must be int64 [N]", "cam_head"),
    ("timestamps missing", delete("/cameras/cam_head/timestamps"),
     "/cameras/cam_head/timestamps is missing", "cam_head"),
    ("three intrinsics", put("/cameras/cam_head", "intrinsics", np.zeros(3)),
     "/cameras/cam_head attr 'intrinsics' is an array of shape (3,); it must be 4 numbers",
     "cam_head"),
    ("text intrinsics", put("/cameras/cam_head", "intrinsics", ["a", "b", "c", "d"]),
     "/cameras/cam_head attr 'intrinsics'", "cam_head"),
    ("3x3 extrinsics", put("/cameras/cam_head", "extrinsics", np.eye(3)),
     "/cameras/cam_head attr 'extrinsics' is an array of shape (3, 3); it must be a 4x4",
     "cam_head"),
    ("mount not text", put("/cameras/cam_head", "mount", 3),
     "/cameras/cam_head attr 'mount' is 3", "cam_head"),
    ("camera as a dataset", lambda h: h.create_dataset("/cameras/loose", data=np.zeros(3)),
     "/cameras/loose is a dataset; a camera must be a group", "loose"),
]


PARTS = [("schema.stream", *m) for m in STREAMS] + [("schema.camera", *m) for m in CAMERAS]


@pytest.mark.parametrize(("check_id", "label", "mutate", "needle", "name"), PARTS,
                         ids=[f"{m[0].split('.')[1]}: {m[1]}" for m in PARTS])
def test_malformed_stream_or_camera_is_left_out_with_its_finding(good, check_id, label, mutate,
                                                                 needle, name):
    res = _break(good, mutate)
    _assert_found(res, check_id, needle, name)
    ep = res.episode
    assert ep is not None
    if check_id == "schema.stream":  # the required streams survive another stream's fault
        assert name not in ep.streams and {"joint_pos", "action"} - {name} <= set(ep.streams)
    else:  # a camera's fault leaves every stream whole
        assert name not in ep.cameras and set(ep.streams) == {"joint_pos", "action", "imu.base"}


@pytest.mark.parametrize("part", ["streams", "cameras"])
def test_streams_or_cameras_as_a_dataset_is_one_finding(good, part):
    res = _break(good, replace(f"/{part}", np.zeros(3)))
    _assert_found(res, f"schema.{part[:-1]}",
                  f"/{part} is a dataset; it must be a group of {part[:-1]} groups", None)
    assert res.episode is not None and not getattr(res.episode, part)


# ------------------------------------------------------------------------------------ events
EVENTS = [
    ("not compound", replace("/events", np.arange(4, dtype=np.int64)), "int64 with shape (4,)"),
    ("no label", replace("/events", np.zeros(2, dtype=[("t_start", "i8"), ("t_end", "i8")])),
     "/events must be a compound [K] dataset"),
    ("float times", replace("/events", np.zeros(2, dtype=[("t_start", "f8"), ("t_end", "i8"),
                                                          ("label", "S8")])),
     "/events must be a compound"),
    ("a group", both(delete("/events"), lambda h: h.create_group("events")), "it is a group"),
]


@pytest.mark.parametrize(("label", "mutate", "needle"), EVENTS, ids=[m[0] for m in EVENTS])
def test_malformed_events(good, label, mutate, needle):
    res = _break(good, mutate)
    _assert_found(res, "schema.stream", needle, "events")
    assert res.episode is not None and res.episode.events == []


def test_events_are_optional_and_fixed_length_labels_read(good):
    assert _break(good, delete("/events")).findings == []
    dt = [("t_start", ">i8"), ("t_end", "<i8"), ("label", "S8")]
    res = _break(good, lambda h: h.create_dataset("events", data=np.array([(1, 2, b"reset")],
                                                                          dtype=dt)))
    assert res.findings == [] and res.episode.events[0].label == "reset"
