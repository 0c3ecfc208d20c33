"""What the reader refuses outright: files that reach outside themselves, that declare more than
the limits, or that are not (whole) HDF5 recordings. Each comes back as ``episode=None`` with a
finding naming the file or HDF5 path, and never as an exception."""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest

from schemas.limits import Limits
from schemas.recording import read_recording


def _refused(path: Path, check_id: str, needle: str, limits: Limits | None = None):
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    res = read_recording(path, limits) if limits else read_recording(path)
    assert res.episode is None, res.findings
    assert any(f.check_id == check_id and needle in f.message for f in res.findings), [
        (f.check_id, f.message) for f in res.findings]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    return res


# ------------------------------------------------------------------------------------- links
def test_external_link_is_refused(good, tmp_path):
    other = tmp_path / "secret.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.arange(3)
    with h5py.File(good, "r+") as f:
        f["streams/joint_pos/extra"] = h5py.ExternalLink(str(other), "/data")
    res = _refused(good, "schema.unsafe", "/streams/joint_pos/extra is an external link to")
    assert "self-contained" in res.findings[0].message


def test_external_link_to_a_missing_file_is_refused_without_opening_it(good, tmp_path):
    with h5py.File(good, "r+") as f:
        f["streams/ghost"] = h5py.ExternalLink(str(tmp_path / "absent.h5"), "/streams/x")
    _refused(good, "schema.unsafe", "/streams/ghost is an external link")


def test_dangling_soft_link_is_refused(good):
    with h5py.File(good, "r+") as f:
        f["streams/alias"] = h5py.SoftLink("/nowhere")
    _refused(good, "schema.unsafe", "/streams/alias is a soft link to '/nowhere', which does not "
             "resolve inside the file")


def test_soft_link_through_an_external_link_is_refused(good, tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_group("g")["values"] = np.zeros((3, 3))
    with h5py.File(good, "r+") as f:
        f["ext"] = h5py.ExternalLink(str(other), "/g")
        f["streams/joint_pos/mirror"] = h5py.SoftLink("/ext/values")
    res = _refused(good, "schema.unsafe", "/streams/joint_pos/mirror is a soft link to "
                   "'/ext/values'")
    assert any("/ext is an external link" in f.message for f in res.findings)


def test_soft_link_loop_is_refused(good):
    with h5py.File(good, "r+") as f:
        f["streams/a"] = h5py.SoftLink("/streams/b")
        f["streams/b"] = h5py.SoftLink("/streams/a")
    _refused(good, "schema.unsafe", "/streams/a is a soft link")


def test_hard_link_cycle_is_walked_once(good):
    with h5py.File(good, "r+") as f:
        f["streams/joint_pos/up"] = f["/streams"]  # a group containing itself
    res = read_recording(good)
    assert res.findings == [] and res.episode is not None


def test_virtual_dataset_is_refused(good, tmp_path):
    with h5py.File(good, "r+") as f:
        layout = h5py.VirtualLayout(shape=(4,), dtype=np.int64)
        layout[:] = h5py.VirtualSource(str(tmp_path / "elsewhere.h5"), "x", shape=(4,))
        f.create_virtual_dataset("streams/joint_pos/virtual", layout)
    _refused(good, "schema.unsafe", "/streams/joint_pos/virtual is a virtual dataset")


def test_external_storage_is_refused(good, tmp_path):
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.zeros(8, dtype=np.int64).tobytes())
    with h5py.File(good, "r+") as f:
        del f["streams/imu.base/timestamps"]
        f["streams/imu.base"].create_dataset("timestamps", shape=(8,), dtype=np.int64,
                                             external=[(str(raw), 0, 64)])
    _refused(good, "schema.unsafe", "/streams/imu.base/timestamps keeps its data in external "
             "raw files")


# ---------------------------------------------------------------------------------- sidecars
@pytest.mark.parametrize("name", ["../cam_wrist.mp4", "/etc/passwd", "sub/cam_wrist.mp4",
                                  "sub\\cam_wrist.mp4", "..", ""])
def test_sidecar_name_leaving_the_folder_is_refused(good, name):
    with h5py.File(good, "r+") as f:
        f["cameras/cam_wrist"].attrs["video"] = name
    res = _refused(good, "schema.camera", "/cameras/cam_wrist attr 'video' is")
    assert "plain file name in the recording's folder" in res.findings[0].message
    assert res.findings[0].stream == "cam_wrist"


def test_sidecar_symlink_leaving_the_folder_is_refused(good, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.mp4"
    os.replace(good.parent / "cam_wrist.mp4", outside)
    (good.parent / "cam_wrist.mp4").symlink_to(outside)
    _refused(good, "schema.unsafe", "names 'cam_wrist.mp4', a symbolic link to")


# ------------------------------------------------------------------------------------ limits
def test_huge_declared_stream_is_refused_without_reading_it(good):
    with h5py.File(good, "r+") as f:
        g = f["streams/imu.base"]
        del g["values"], g["timestamps"]
        # 8 TB declared, nothing written: reading it would be the bug
        g.create_dataset("values", shape=(10**10, 100), dtype=np.float64, chunks=(1024, 100))
        g.create_dataset("timestamps", shape=(10**10,), dtype=np.int64, chunks=(4096,))
    assert good.stat().st_size < 10**6
    _refused(good, "schema.unsafe", "/streams/imu.base/values declares 10,000,000,000 samples, "
             "over the limit of 100,000,000 per stream")


def test_custom_sample_and_column_limits(good):
    _refused(good, "schema.unsafe", "/streams/imu.base/timestamps declares 120 samples",
             Limits(max_samples_per_stream=100))
    _refused(good, "schema.unsafe", "/streams/joint_pos/values declares 3 columns, over the "
             "limit of 2", Limits(max_columns_per_stream=2))
    _refused(good, "schema.unsafe", "/events declares 2 events", Limits(max_samples_per_stream=1))


def test_declared_frame_count_over_the_limit(good):
    with h5py.File(good, "r+") as f:
        g = f.create_group("cameras/cam_long")
        g.create_dataset("frames", shape=(10**7, 16, 24, 3), dtype=np.uint8,
                         chunks=(1, 16, 24, 3))
        g.create_dataset("timestamps", shape=(10**7,), dtype=np.int64, chunks=(4096,))
    _refused(good, "schema.unsafe", "/cameras/cam_long/frames declares 10,000,000 frames, over "
             "the limit of 2,000,000 per camera")


@pytest.mark.parametrize(("limits", "needle"), [
    (Limits(max_frame_width=20), "/cameras/cam_head attr 'width' declares 24 pixels"),
    (Limits(max_frame_height=10), "/cameras/cam_head attr 'height' declares 16 pixels"),
    (Limits(max_frame_width=20), "/cameras/cam_head/frames declares 24 pixel columns"),
    (Limits(max_frames_per_camera=10), "/cameras/cam_head/timestamps declares 12 frames"),
])
def test_frame_size_limits(good, limits, needle):
    _refused(good, "schema.unsafe", needle, limits)


def test_sidecar_header_is_held_to_the_limits(good):
    with h5py.File(good, "r+") as f:
        f["cameras/cam_wrist"].attrs["width"] = 10  # the attributes lie; the header does not
    _refused(good, "schema.unsafe", "/cameras/cam_wrist: the sidecar cam_wrist.mp4 declares "
             "64x48 frames, over the limit of 50x4096", Limits(max_frame_width=50))


# ------------------------------------------------------------------------------- unreadable
@pytest.mark.parametrize(("content", "needle"), [
    (b"", "is empty (0 bytes)"),
    (b"robot_model,task\nh1,cup\n", "is not an HDF5 file"),
    (b"\x89HDF\r\n\x1a\n" + b"\0" * 50, "is truncated or corrupt"),
])
def test_not_hdf5_is_unreadable(tmp_path, content, needle):
    p = tmp_path / "episode.h5"
    p.write_bytes(content)
    res = _refused(p, "schema.unreadable", needle)
    assert str(p) in res.findings[0].message and len(res.findings) == 1


def test_truncated_file_is_unreadable(good):
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 3])
    res = _refused(good, "schema.unreadable", "is truncated or corrupt")
    assert str(good) in res.findings[0].message


def test_missing_path_and_directory_are_unreadable(tmp_path):
    res = read_recording(tmp_path / "nope.h5")
    assert res.episode is None and "does not exist" in res.findings[0].message
    res = read_recording(tmp_path)
    assert res.episode is None and "is not a file" in res.findings[0].message


def test_hdf5_that_is_not_a_recording_is_a_format_finding(tmp_path):
    p = tmp_path / "other.h5"
    with h5py.File(p, "w") as f:
        f["data"] = np.arange(3)
    _refused(p, "schema.format", "root attribute 'format' is missing")


def test_corrupt_chunk_is_unreadable_and_names_the_dataset(good):
    with h5py.File(good, "r+") as f:
        g = f["streams/imu.base"]
        del g["values"]
        ds = g.create_dataset("values", shape=(120, 6), dtype=np.float64, chunks=(120, 6),
                              compression="gzip")
        ds.id.write_direct_chunk((0, 0), b"this is not deflate data" * 10)
    res = _refused(good, "schema.unreadable", "/streams/imu.base/values cannot be read or decoded")
    assert str(good) in res.findings[0].message


def test_unknown_compression_filter_is_unreadable(good):
    with h5py.File(good, "r+") as f:
        g = f["cameras/cam_head"]
        del g["frames"]
        ds = g.create_dataset("frames", shape=(12, 16, 24, 3), dtype=np.uint8,
                              chunks=(1, 16, 24, 3), compression=32999,
                              allow_unknown_filter=True)
        ds.id.write_direct_chunk((0, 0, 0, 0), zlib.compress(b"\0" * 1152))
    _refused(good, "schema.unreadable", "/cameras/cam_head/frames is compressed with HDF5 "
             "filter 32999")
