"""Recording format 1.0: what the writer writes, the reader gives back, unchanged."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from schemas.episode import Stream
from schemas.frame_sources import H5Frames, VideoFrames
from schemas.limits import Limits
from schemas.recording import read_recording, sha256_file
from schemas.recording_writer import write_recording


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_has_no_findings_and_keeps_metadata(good, episode):
    res = read_recording(good)
    assert res.findings == []
    md, want = res.episode.metadata, episode.metadata
    for key in ("robot_model", "robot_serial", "operator_id", "collection_mode", "task", "site",
                "started_at", "task_id", "scene"):
        assert getattr(md, key) == getattr(want, key), key
    assert md.robot_uid is None
    assert md.success is True
    assert md.extra == {"shift": "night", "lab_humidity": pytest.approx(0.41)}


def test_round_trip_keeps_streams_exactly(good, episode):
    streams = read_recording(good).episode.streams
    assert set(streams) == set(episode.streams)
    for name, want in episode.streams.items():
        got = streams[name]
        np.testing.assert_array_equal(got.timestamps, want.timestamps)
        np.testing.assert_array_equal(got.values, want.values)
        assert got.values.dtype == want.values.dtype and got.timestamps.dtype == np.int64
        assert (got.kind, got.names, got.unit, got.rate_hz, got.space) == (
            want.kind, want.names, want.unit, want.rate_hz, want.space)


def test_in_file_frames_come_back_lazily_and_identical(good, episode):
    cams = read_recording(good).episode.cameras
    head = cams["cam_head"]
    assert isinstance(head.frames, H5Frames)
    assert head.frames.dataset_path == "/cameras/cam_head/frames"
    assert (head.encoding, head.width, head.height, head.mount) == ("rgb8", 24, 16, "head")
    np.testing.assert_array_equal(head.intrinsics, [20.0, 20.0, 12.0, 8.0])
    np.testing.assert_array_equal(head.extrinsics, np.eye(4))
    got = np.stack(list(head.frames.iter_frames()))
    np.testing.assert_array_equal(got, episode.cameras["cam_head"].frames.frames)
    depth = cams["cam_depth"]
    assert depth.is_depth and depth.pixel_format == "depth16"
    got = np.stack(list(depth.frames.iter_frames()))
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, episode.cameras["cam_depth"].frames.frames)


def test_sidecar_video_is_found_hashed_and_decoded_as_rgb(good):
    ep = read_recording(good).episode
    wrist = ep.cameras["cam_wrist"]
    assert wrist.encoding == "video" and isinstance(wrist.frames, VideoFrames)
    assert wrist.video_path == (good.parent / "cam_wrist.mp4").resolve()
    assert ep.source.sidecars == {str(wrist.video_path): _sha(wrist.video_path)}
    frames = list(wrist.frames.iter_frames())
    assert len(frames) == wrist.n_frames
    red, green, blue = (float(frames[3][..., c].mean()) for c in range(3))
    assert frames[3].shape == (48, 64, 3) and red > 150 and green < 60 and blue < 60


def test_events_and_source_info(good, episode):
    ep = read_recording(good).episode
    assert ep.events == episode.events
    assert ep.source.path == good.resolve() and ep.source.layout == "embodiq"
    assert ep.source.size == good.stat().st_size
    assert ep.source.sha256 == _sha(good) == sha256_file(good)


def test_reading_never_modifies_inputs(good):
    video = good.parent / "cam_wrist.mp4"
    before = (_sha(good), _sha(video), good.stat().st_mtime_ns)
    ep = read_recording(good).episode
    for cam in ep.cameras.values():
        sum(1 for _ in cam.frames.iter_frames())
    assert (_sha(good), _sha(video), good.stat().st_mtime_ns) == before


def test_read_only_input_is_readable(good):
    good.chmod(0o444)
    try:
        assert read_recording(good).findings == []
    finally:
        good.chmod(0o644)


def test_success_absent_is_unknown_and_zero_is_false(good):
    with h5py.File(good, "r+") as f:
        f.attrs["success"] = np.int64(0)
    assert read_recording(good).episode.metadata.success is False
    with h5py.File(good, "r+") as f:
        del f.attrs["success"]
    assert read_recording(good).episode.metadata.success is None


def test_any_minor_version_is_read(good):
    with h5py.File(good, "r+") as f:
        f.attrs["format_version"] = "1.7"
    res = read_recording(good)
    assert res.episode is not None and res.findings == []


def test_unknown_root_attributes_are_kept_as_plain_values(good):
    with h5py.File(good, "r+") as f:
        f.attrs["gains"] = np.array([1.5, 2.5])
        f.attrs["rig"] = np.bytes_(b"rig-4")
        f.attrs["nothing"] = h5py.Empty("f8")
    extra = read_recording(good).episode.metadata.extra
    assert extra["gains"] == [1.5, 2.5] and extra["rig"] == "rig-4" and extra["nothing"] is None


def test_internal_soft_links_and_userblock_are_accepted(tmp_path, episode):
    """A soft link that stays inside the file is harmless; so is a user block before HDF5."""
    path = write_recording(episode, tmp_path / "ep.h5")
    with h5py.File(path, "r+") as f:
        f["streams/action_alias"] = h5py.SoftLink("/streams/action")
        f["streams/jp_alias"] = h5py.SoftLink("joint_pos")  # relative to /streams
    res = read_recording(path)
    assert res.findings == []
    assert set(res.episode.streams) >= {"action", "action_alias", "jp_alias"}
    ub = tmp_path / "ub.h5"
    with h5py.File(ub, "w", userblock_size=512) as f, h5py.File(path, "r") as src:
        for key, val in src.attrs.items():
            f.attrs[key] = val
        src.copy("streams", f)
    with open(ub, "r+b") as fh:
        fh.write(b"written by rig 4")
    res = read_recording(ub)
    assert res.episode is not None and res.findings == []


def test_symlinked_sidecar_inside_the_folder_is_refused(good):
    """The format refuses a sidecar that is a symbolic link, wherever it points."""
    os.replace(good.parent / "cam_wrist.mp4", good.parent / "real.mp4")
    (good.parent / "cam_wrist.mp4").symlink_to("real.mp4")
    res = read_recording(good)
    assert res.episode is None
    assert [(f.check_id, f.stream) for f in res.findings] == [("schema.unsafe", "cam_wrist")]
    assert "names 'cam_wrist.mp4', a symbolic link to 'real.mp4'" in res.findings[0].message


def test_defaults_are_the_documented_limits():
    assert Limits() == Limits(max_samples_per_stream=10**8, max_frames_per_camera=2 * 10**6,
                              max_frame_width=4096, max_frame_height=4096)


def test_failed_write_leaves_no_file_behind(tmp_path, episode):
    bad = Stream("bad", "other", np.arange(2, dtype=np.int64),
                 np.array([[object()], [object()]], dtype=object), ["x"], "1", 1.0)
    broken = dataclasses.replace(episode, cameras={}, streams={**episode.streams, "bad": bad})
    with pytest.raises(TypeError):
        write_recording(broken, tmp_path / "ep.h5")
    assert list(tmp_path.iterdir()) == []
