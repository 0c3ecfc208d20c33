"""Hostile recordings: soft-link cycles, camera names that are not names, sidecars that are links.

Each is refused with a ``schema.*`` error naming the HDF5 path (never graded, never a path the
pipeline writes to), and the file is left as it was."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import h5py
import pytest

from schemas.recording import MAX_LINK_DEPTH, read_recording


def _refused(path: Path, check_id: str, needle: str):
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    res = read_recording(path)
    assert res.episode is None, res.findings
    hits = [f for f in res.findings if f.check_id == check_id and needle in f.message]
    assert hits, [(f.check_id, f.message) for f in res.findings]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    return hits


# ---------------------------------------------------------------------------- soft-link cycles
@pytest.mark.parametrize("links, first", [
    ({"/a": "/b", "/b": "/a"}, "/a"),
    ({"/a": "/b", "/b": "/c", "/c": "/a"}, "/a"),
    ({"/streams/s": "s"}, "/streams/s"),  # relative, to itself
    ({"/loop": "/loop/x"}, "/loop"),  # a chain through itself
    ({"/g1": "/g2/x", "/g2": "/g1/y"}, "/g1"),
])
def test_soft_link_chain_that_loops_is_refused(good, links, first):
    with h5py.File(good, "r+") as f:
        for name, target in links.items():
            f[name] = h5py.SoftLink(target)
    hits = _refused(good, "schema.unsafe", f"{first} is a soft link to")
    assert f"which loops (a chain of more than {MAX_LINK_DEPTH} soft links" in hits[0].message


@pytest.mark.parametrize("name, target", [
    ("/streams/joint_pos/up", "/streams"),  # a group that holds the link
    ("/streams/joint_pos/root", "/"),
    ("/cameras/cam_head/self", "/cameras/cam_head"),
    ("/streams/here", "."),
])
def test_soft_link_back_to_its_own_group_is_refused(good, name, target):
    """Such a link resolves, but following links from it never ends: it used to grade A."""
    with h5py.File(good, "r+") as f:
        f[name] = h5py.SoftLink(target)
    hits = _refused(good, "schema.unsafe", f"{name} is a soft link to '{target}'")
    assert "contains the link itself" in hits[0].message


def test_soft_link_to_a_sibling_is_still_accepted(good):
    with h5py.File(good, "r+") as f:
        f["streams/joint_pos/twin"] = h5py.SoftLink("/streams/action/values")
        f["cameras/cam_head/clock"] = h5py.SoftLink("timestamps")
    res = read_recording(good)
    assert res.episode is not None and res.findings == []


# -------------------------------------------------------------------------------- camera names
@pytest.mark.parametrize("name", ["Cam_Head", "cam head", "..cam", "cam\n", "-cam", "9cam",
                                  "c" * 65])
def test_camera_name_breaking_the_rule_is_refused(good, name):
    with h5py.File(good, "r+") as f:
        f.move("cameras/cam_head", f"cameras/{name}")
    res = read_recording(good)
    bad = [f for f in res.findings if f.check_id == "schema.camera" and f.stream == name]
    assert bad and "does not match [a-z][a-z0-9_.]{0,63}" in bad[0].message
    assert name not in res.episode.cameras
    assert set(res.episode.cameras) == {"cam_depth", "cam_wrist"}


# -------------------------------------------------------------------------------- sidecars
def test_absolute_sidecar_is_refused_even_inside_the_folder(good):
    with h5py.File(good, "r+") as f:
        f["cameras/cam_wrist"].attrs["video"] = str(good.parent / "cam_wrist.mp4")
    _refused(good, "schema.camera", "plain file name in the recording's folder")


def test_sidecar_link_to_a_file_outside_is_refused(good, tmp_path_factory):
    secret = tmp_path_factory.mktemp("secret") / "id_rsa"
    secret.write_bytes(b"-----BEGIN PRIVATE KEY-----")
    os.replace(good.parent / "cam_wrist.mp4", good.parent / "moved.mp4")
    (good.parent / "cam_wrist.mp4").symlink_to(secret)
    hits = _refused(good, "schema.unsafe", "attr 'video' names 'cam_wrist.mp4', a symbolic link")
    assert hits[0].stream == "cam_wrist" and "not a symbolic link" in hits[0].message



def test_video_swapped_for_a_link_after_reading_is_not_opened(good, tmp_path_factory):
    """The lazy frame source refuses a link even when it appears after the reader checked."""
    res = read_recording(good)
    cam = res.episode.cameras["cam_wrist"]
    secret = tmp_path_factory.mktemp("secret") / "secret.mp4"
    os.replace(cam.video_path, secret)
    cam.video_path.symlink_to(secret)
    with pytest.raises(OSError, match="is a symbolic link; it is not opened"):
        next(iter(cam.frames.iter_frames()))
    from schemas.frame_sources import probe_video

    with pytest.raises(OSError, match="is a symbolic link"):
        probe_video(cam.video_path)
