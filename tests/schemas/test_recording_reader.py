"""Recording format 1.0: round trip, and one real file per structural rule it must refuse."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from pipelines.synthetic import CameraPlan, EpisodePlan, generate_episode
from robots.profile import get_profile
from schemas.frame_sources import H5Frames
from schemas.limits import Limits
from schemas.recording import read_recording
from schemas.recording_writer import write_recording

PLAN = EpisodePlan(duration_s=2.0, cameras=(CameraPlan("cam_head", "rgb8"),
                                            CameraPlan("cam_wrist", "video"),
                                            CameraPlan("cam_depth", "depth16", mount="chest")))


@pytest.fixture(scope="module")
def episode():
    return generate_episode(get_profile("unitree-h1"), PLAN)


@pytest.fixture
def good(tmp_path, episode) -> Path:
    return write_recording(episode, tmp_path / "ep.h5")


def _ids(path: Path, limits: Limits | None = None) -> list[tuple[str, str]]:
    res = read_recording(path, limits)
    return [(f.check_id, f.message) for f in res.findings]


def test_round_trip_keeps_everything(good, episode):
    res = read_recording(good)
    assert res.findings == []
    ep = res.episode
    assert ep.metadata.robot_model == "unitree-h1" and ep.metadata.success is True
    assert set(ep.streams) == set(episode.streams)
    for name, s in episode.streams.items():
        r = ep.streams[name]
        np.testing.assert_array_equal(r.timestamps, s.timestamps)
        np.testing.assert_array_equal(r.values, s.values)
        assert (r.kind, r.names, r.unit, r.rate_hz, r.space) == (s.kind, s.names, s.unit,
                                                                 s.rate_hz, s.space)
    assert ep.cameras["cam_head"].encoding == "rgb8"
    head = list(ep.cameras["cam_head"].frames.iter_frames())
    want = list(episode.cameras["cam_head"].frames.iter_frames())
    assert len(head) == len(want) and np.array_equal(head[3], want[3])
    depth = next(iter(ep.cameras["cam_depth"].frames.iter_frames()))
    assert depth.dtype == np.uint16 and depth.shape == (120, 160)
    wrist = ep.cameras["cam_wrist"]
    assert wrist.video_path.is_file()
    n = sum(1 for _ in wrist.frames.iter_frames())
    assert n == wrist.n_frames
    assert [e.label for e in ep.events] == ["reach", "place"]
    assert ep.source.sidecars and ep.source.sha256 == hashlib.sha256(good.read_bytes()).hexdigest()


def test_unknown_root_attributes_are_kept(good):
    with h5py.File(good, "r+") as f:
        f.attrs["lab_humidity"] = 0.41
        f.attrs["shift"] = "night"
    extra = read_recording(good).episode.metadata.extra
    assert extra["lab_humidity"] == pytest.approx(0.41) and extra["shift"] == "night"


def test_any_minor_version_is_read_another_major_refused(good):
    with h5py.File(good, "r+") as f:
        f.attrs["format_version"] = "1.7"
    assert read_recording(good).episode is not None
    with h5py.File(good, "r+") as f:
        f.attrs["format_version"] = "2.0"
    res = read_recording(good)
    assert res.episode is None and res.findings[0].check_id == "schema.format"


def _drop(attr: str) -> Callable[[h5py.File], None]:
    def f(h: h5py.File) -> None:
        del h.attrs[attr]
    return f


def _set(path: str, attr: str, value) -> Callable[[h5py.File], None]:
    def f(h: h5py.File) -> None:
        h[path].attrs[attr] = value
    return f


def _replace(path: str, data) -> Callable[[h5py.File], None]:
    def f(h: h5py.File) -> None:
        del h[path]
        h[path] = data
    return f


RULES = [
    ("format missing", _drop("format"), "schema.format", "'format'"),
    ("robot_serial missing", _drop("robot_serial"), "schema.metadata", "'robot_serial'"),
    ("operator with a space", _set("/", "operator_id", "Zhang San"), "schema.metadata",
     "operator_id"),
    ("unknown collection mode", _set("/", "collection_mode", "telepathy"), "schema.metadata",
     "collection_mode"),
    ("started_at without offset", _set("/", "started_at", "2026-11-02T09:15:00"),
     "schema.metadata", "started_at"),
    ("success not 0/1", _set("/", "success", 7), "schema.metadata", "success"),
    ("names count", _set("/streams/joint_pos", "names", ["a", "b"]), "schema.stream",
     "/streams/joint_pos/values has 19 columns but attr 'names' lists 2"),
    ("unknown kind", _set("/streams/imu", "kind", "vibes"), "schema.stream", "/streams/imu"),
    ("zero rate", _set("/streams/imu", "rate_hz", 0.0), "schema.stream", "rate_hz"),
    ("action without space", lambda h: h["/streams/action"].attrs.__delitem__("space"),
     "schema.stream", "/streams/action attr 'space'"),
    ("float timestamps", _replace("/streams/imu/timestamps", np.arange(401, dtype=np.float64)),
     "schema.stream", "/streams/imu/timestamps"),
    ("length mismatch", _replace("/streams/imu/timestamps", np.arange(5, dtype=np.int64)),
     "schema.stream", "/streams/imu/timestamps has 5 entries"),
    ("no action stream", lambda h: h.__delitem__("/streams/action"), "schema.stream",
     "no 'action' stream"),
    ("bad stream name", lambda h: h.move("/streams/imu", "/streams/IMU"), "schema.stream",
     "/streams/IMU"),
    ("encoding mismatch", _set("/cameras/cam_head", "encoding", "video"), "schema.camera",
     "/cameras/cam_head/frames is stored but attr 'encoding' says 'video'"),
    ("frame size mismatch", _set("/cameras/cam_head", "width", 99), "schema.camera",
     "/cameras/cam_head/frames are 160x120 but attrs say width 99"),
    ("depth as rgb", _set("/cameras/cam_depth", "encoding", "rgb8"), "schema.camera",
     "/cameras/cam_depth/frames"),
    ("sidecar with ..", _set("/cameras/cam_wrist", "video", "../cam_wrist.mp4"),
     "schema.camera", "no '..'"),
    ("absolute sidecar", _set("/cameras/cam_wrist", "video", "/etc/passwd"), "schema.camera",
     "/cameras/cam_wrist attr 'video'"),
    ("missing sidecar", _set("/cameras/cam_wrist", "video", "gone.mp4"), "schema.camera",
     "'gone.mp4', which does not exist"),
    ("bad intrinsics", _set("/cameras/cam_head", "intrinsics", np.zeros(3)), "schema.camera",
     "intrinsics"),
]


@pytest.mark.parametrize(("label", "mutate", "check_id", "needle"), RULES,
                         ids=[r[0] for r in RULES])
def test_each_rule_names_path_and_rule(good, label, mutate, check_id, needle):
    with h5py.File(good, "r+") as f:
        mutate(f)
    found = _ids(good)
    assert any(cid == check_id and needle in msg for cid, msg in found), found


def test_external_link_is_refused_before_reading(good, tmp_path):
    other = tmp_path / "secret.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.arange(3)
    with h5py.File(good, "r+") as f:
        f["streams/joint_pos/extra"] = h5py.ExternalLink(str(other), "/data")
    res = read_recording(good)
    assert res.episode is None
    assert res.findings[0].check_id == "schema.unsafe"
    assert "/streams/joint_pos/extra is an external link" in res.findings[0].message


def test_dangling_soft_link_is_refused(good):
    with h5py.File(good, "r+") as f:
        f["streams/alias"] = h5py.SoftLink("/nowhere")
    res = read_recording(good)
    assert res.episode is None and "soft link" in res.findings[0].message


def test_virtual_dataset_is_refused(good, tmp_path):
    with h5py.File(good, "r+") as f:
        layout = h5py.VirtualLayout(shape=(4,), dtype=np.int64)
        layout[:] = h5py.VirtualSource(str(tmp_path / "elsewhere.h5"), "x", shape=(4,))
        f.create_virtual_dataset("streams/virtual", layout)
    res = read_recording(good)
    assert res.episode is None and "virtual dataset" in res.findings[0].message


def test_external_storage_is_refused(good, tmp_path):
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.zeros(8, dtype=np.int64).tobytes())
    with h5py.File(good, "r+") as f:
        f.create_dataset("extra_data", shape=(8,), dtype=np.int64, external=[(str(raw), 0, 64)])
    res = read_recording(good)
    assert res.episode is None and "external files" in res.findings[0].message


def test_oversize_declaration_refused_without_reading(tmp_path, episode):
    path = write_recording(episode, tmp_path / "big.h5")
    with h5py.File(path, "r+") as f:
        # a huge chunked dataset with no data written: reading it would be the bug
        f.create_dataset("streams/huge/values", shape=(10**9, 64), dtype=np.float64,
                         chunks=(1024, 64))
    assert path.stat().st_size < 10**7
    res = read_recording(path, Limits(max_samples_per_stream=10**6))
    assert res.episode is None
    assert "declares 1,000,000,000 samples" in res.findings[0].message


def test_oversize_frames_refused(good):
    res = read_recording(good, Limits(max_frame_width=100))
    assert res.episode is None and res.findings[0].check_id == "schema.unsafe"


@pytest.mark.parametrize("content", [b"", b"just some text\n", b"\x89HDF\r\n\x1a\n" + b"\0" * 50])
def test_not_hdf5_or_broken_is_unreadable(tmp_path, content):
    p = tmp_path / "x.h5"
    p.write_bytes(content)
    res = read_recording(p)
    assert res.episode is None and res.findings[0].check_id == "schema.unreadable"
    assert str(p) in res.findings[0].message


def test_truncated_file_is_unreadable(good):
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 3])
    res = read_recording(good)
    assert res.episode is None and res.findings[0].check_id == "schema.unreadable"


def test_reader_never_modifies_input(good):
    before = hashlib.sha256(good.read_bytes()).hexdigest()
    read_recording(good)
    assert hashlib.sha256(good.read_bytes()).hexdigest() == before


def test_h5_frames_stream_in_chunks(tmp_path):
    path = tmp_path / "frames.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("cam", shape=(500, 8, 8, 3), dtype=np.uint8, chunks=(1, 8, 8, 3))
        for i in range(500):
            ds[i] = i % 256
    src = H5Frames(path, "cam", chunk_frames=7)
    it = src.iter_frames()
    first = next(it)
    assert first.shape == (8, 8, 3)
    rest = [int(fr[0, 0, 0]) for fr in it]
    assert len(rest) == 499 and rest[-1] == 499 % 256
