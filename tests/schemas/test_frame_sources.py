"""Lazy frame sources: frames come one at a time, never the whole camera at once."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import h5py
import numpy as np
import pytest

from schemas.episode import FrameSource
from schemas.frame_sources import H5Frames, VideoFrames, probe_video
from schemas.recording_writer import write_video


def test_h5_frames_yield_single_frames_in_order(tmp_path):
    path = tmp_path / "frames.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("cam", shape=(500, 8, 8, 3), dtype=np.uint8, chunks=(1, 8, 8, 3))
        for i in range(0, 500, 50):
            block = np.zeros((50, 8, 8, 3), dtype=np.uint8)
            block[:, 0, 0, 0] = np.arange(i, i + 50) % 256
            ds[i:i + 50] = block
    src = H5Frames(path, "cam", chunk_frames=7)
    assert isinstance(src, FrameSource) and src.describe() == f"{path}:cam"
    seen = []
    for frame in src.iter_frames():
        assert frame.shape == (8, 8, 3) and frame.dtype == np.uint8
        seen.append(int(frame[0, 0, 0]))
    assert seen == [i % 256 for i in range(500)]


def test_h5_frames_never_load_the_whole_dataset(tmp_path):
    """1,000,000 declared 256x256 RGB frames (196 GB) with nothing written: taking the first
    few frames only works if the source reads chunk by chunk."""
    path = tmp_path / "long.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("cameras/cam/frames", shape=(10**6, 256, 256, 3), dtype=np.uint8,
                         chunks=(1, 256, 256, 3))
    assert path.stat().st_size < 10**6
    first = list(islice(H5Frames(path, "/cameras/cam/frames").iter_frames(), 40))
    assert len(first) == 40 and all(fr.shape == (256, 256, 3) for fr in first)


def test_h5_frames_convert_big_endian_depth(tmp_path):
    path = tmp_path / "depth.h5"
    data = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5) * 100
    with h5py.File(path, "w") as f:
        f.create_dataset("d", data=data.astype(">u2"))
    frames = list(H5Frames(path, "d").iter_frames())
    assert frames[2].dtype == np.dtype("=u2")
    np.testing.assert_array_equal(np.stack(frames), data)


def test_h5_frames_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.h5"
    with pytest.raises(OSError, match=r"missing\.h5"):
        next(H5Frames(missing, "cam").iter_frames())
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as f:
        f["other"] = np.zeros(3)
    with pytest.raises(OSError, match=r"f\.h5:cam: no frames dataset"):
        next(H5Frames(path, "cam").iter_frames())
    with pytest.raises(ValueError, match="chunk_frames"):
        H5Frames(path, "cam", chunk_frames=0)


@pytest.fixture(scope="module")
def blue_video(tmp_path_factory) -> Path:
    frames = np.zeros((15, 48, 64, 3), dtype=np.uint8)
    frames[..., 2] = 220  # blue in RGB; a BGR mix-up would show it as red
    path = tmp_path_factory.mktemp("video") / "blue.mp4"
    assert write_video(path, iter(frames), fps=15.0, width=64, height=48) == 15
    return path


def test_video_frames_stream_rgb(blue_video):
    src = VideoFrames(blue_video)
    assert isinstance(src, FrameSource) and src.describe() == str(blue_video)
    n = 0
    for frame in src.iter_frames():
        assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
        assert frame[..., 2].mean() > 180 and frame[..., 0].mean() < 50
        n += 1
    assert n == 15


def test_probe_video_reads_the_header(blue_video):
    n, w, h, fps = probe_video(blue_video)
    assert (n, w, h) == (15, 64, 48) and fps == pytest.approx(15.0)


def test_video_errors_name_the_file(tmp_path):
    with pytest.raises(OSError, match=r"gone\.mp4: the video file does not exist"):
        next(VideoFrames(tmp_path / "gone.mp4").iter_frames())
    with pytest.raises(OSError, match=r"gone\.mp4"):
        probe_video(tmp_path / "gone.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(OSError, match=r"junk\.mp4"):
        next(VideoFrames(junk).iter_frames())
    with pytest.raises(OSError, match=r"junk\.mp4"):
        probe_video(junk)
