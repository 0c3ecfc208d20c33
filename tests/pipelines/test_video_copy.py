"""Curation publishes a sidecar video already on the dataset clock without re-encoding it
(copied byte for byte, or remuxed into MP4), and re-encodes every other: in each case frame
``k`` of the published video is the source frame mapped to row ``k``, and the video has as many
frames as the episode has rows."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import av
import numpy as np
import pytest

from pipelines.frames import frames_table, nearest_indices, write_camera_video
from pipelines.processing import curate
from pipelines.store import Store
from pipelines.video_copy import StreamProbe, probe_stream, publish_mode
from schemas.episode import Camera, Episode, EpisodeMetadata, Stream
from schemas.frame_sources import VideoFrames
from schemas.recording_writer import write_video

W, H, FPS, N = 160, 120, 30.0, 60
T0 = 1_762_000_000_000_000_000
PERIOD = 1e9 / FPS


def scene(n: int, seed: int = 0) -> np.ndarray:
    """Sharp blocks sliding a few pixels a frame: neighbouring frames differ clearly."""
    rng = np.random.default_rng(seed)
    tex = np.repeat(np.repeat(rng.integers(30, 226, (H // 4 + 60, W // 4 + 60, 3),
                                           dtype=np.uint8), 4, 0), 4, 1)
    return np.stack([tex[(2 * i) % 200:(2 * i) % 200 + H, (3 * i) % 200:(3 * i) % 200 + W]
                     for i in range(n)])


def clock(n: int, period: float = PERIOD, start: int = T0, jitter_ns: int = 0) -> np.ndarray:
    ts = start + np.round(np.arange(n) * period).astype(np.int64)
    if jitter_ns:
        wiggle = np.random.default_rng(1).integers(-jitter_ns, jitter_ns + 1, n)
        wiggle[[0, -1]] = 0
        ts = ts + wiggle
    return ts


def episode(cam: Camera, end_ns: int | None = None) -> Episode:
    """``cam`` with a 50 Hz joint stream from the camera's first frame to ``end_ns`` (default:
    a little after its last), so the camera decides where the clock starts."""
    end = int(cam.timestamps[-1]) + 50_000_000 if end_ns is None else end_ns
    ts = np.arange(int(cam.timestamps[0]), end + 1, 20_000_000, dtype=np.int64)
    q = np.sin(np.arange(len(ts)) / 25.0)[:, None] * np.ones((1, 2))
    md = EpisodeMetadata("unitree-h1", "H1A0000001", "op_07", "teleop_vr", "pick", "lab",
                         "2025-11-01T12:00:00Z")
    return Episode(md, streams={"joint_pos": Stream("joint_pos", "joint_position", ts, q,
                                                    ["j0", "j1"], "rad", 50.0)},
                   cameras={cam.name: cam})


def sidecar(path: Path, frames: np.ndarray, ts: np.ndarray) -> Camera:
    if path.suffix == ".mp4":
        write_video(path, iter(frames), FPS, W, H)
    else:
        encode_with_pyav(path, frames)
    return Camera("cam_wrist", ts, "video", FPS, W, H, frames=VideoFrames(path),
                  video_path=path)


def encode_with_pyav(path: Path, frames: np.ndarray, codec: str = "mpeg4",
                     bframes: int = 0) -> None:
    with av.open(str(path), "w") as c:
        st = c.add_stream(codec, rate=int(FPS))
        st.width, st.height, st.pix_fmt = W, H, "yuv420p"
        if codec == "libx264":
            st.options = {"bf": str(bframes), "crf": "18"}
        else:
            st.max_b_frames = bframes
        for f in frames:
            for pkt in st.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)


def decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def publish(ep: Episode, tmp_path: Path) -> tuple[str, Path, int, np.ndarray]:
    """The camera published as curation does: mode, path, frames written, mapped frame
    indices (the source frame of each row)."""
    res = frames_table(ep, "ep-test", FPS)
    cam = ep.cameras["cam_wrist"]
    mode = publish_mode(cam, res.grid.times_ns, FPS)
    out = tmp_path / "published" / "cam_wrist.mp4"
    n = write_camera_video(cam, res.grid, out)
    assert n == res.table.num_rows == res.grid.n
    return mode, out, n, nearest_indices(cam.timestamps, res.grid.times_ns)


def assert_rows_are_source_frames(out: Path, src: Path, idx: np.ndarray) -> None:
    """Frame k of the published video is, exactly, the source's decoded frame idx[k]."""
    got, want = decode(out), decode(src)
    assert len(got) == len(idx)
    assert np.array_equal(got, want[idx])


# --- published as it is ------------------------------------------------------------------------


def test_video_on_the_clock_is_copied_byte_for_byte(tmp_path):
    cam = sidecar(tmp_path / "cam_wrist.mp4", scene(N), clock(N, jitter_ns=2_000_000))
    cam.video_path.chmod(0o444)  # sources are often read-only; the copy must not be
    os.utime(cam.video_path, ns=(T0, T0))  # nor does it take the source's times
    mode, out, n, idx = publish(episode(cam), tmp_path)
    assert mode == "copy" and n == N and np.array_equal(idx, np.arange(N))
    assert sha(out) == sha(cam.video_path)
    assert out.stat().st_mode & 0o200
    assert out.stat().st_mtime_ns != T0
    assert [p.name for p in out.parent.iterdir()] == ["cam_wrist.mp4"]  # no temporary left
    assert_rows_are_source_frames(out, cam.video_path, idx)


@pytest.mark.parametrize(("suffix", "codec", "bframes"),
                         [(".avi", "mpeg4", 0), (".mkv", "libx264", 2),
                          (".h264", "libx264", 0)])  # a raw stream: packets without times
def test_video_on_the_clock_in_another_container_is_remuxed(tmp_path, suffix, codec, bframes):
    src = tmp_path / f"cam_wrist{suffix}"
    encode_with_pyav(src, scene(N), codec, bframes)
    cam = Camera("cam_wrist", clock(N), "video", FPS, W, H, frames=VideoFrames(src),
                 video_path=src)
    mode, out, n, idx = publish(episode(cam), tmp_path)
    assert mode == "remux" and n == N
    with av.open(str(out)) as c:
        assert "mp4" in c.format.name.split(",") and len(c.streams) == 1
    assert_rows_are_source_frames(out, src, idx)


def test_frames_after_the_last_row_are_left_out_of_the_remux(tmp_path):
    """The joints stop 5 frames before the camera: the clock ends there, and the trailing
    packets (in presentation order) are not copied."""
    ts = clock(N)
    cam = sidecar(tmp_path / "cam_wrist.mp4", scene(N), ts)
    mode, out, n, idx = publish(episode(cam, end_ns=int(ts[N - 6]) + 1_000_000), tmp_path)
    assert mode == "remux" and n == N - 5 and np.array_equal(idx, np.arange(N - 5))
    assert_rows_are_source_frames(out, cam.video_path, idx)


# --- re-encoded ----------------------------------------------------------------------------


def assert_rows_show_mapped_frames(out: Path, src_frames: np.ndarray, idx: np.ndarray) -> None:
    """After a lossy re-encode, frame k is nearest (in pixels) to the source frame mapped to
    row k among it and its neighbours."""
    got = decode(out).astype(np.int16)
    assert len(got) == len(idx)
    src = src_frames.astype(np.int16)
    for k, i in enumerate(idx):
        err = {j: np.abs(got[k] - src[j]).mean() for j in (i - 1, i, i + 1)
               if 0 <= j < len(src)}
        others = [e for j, e in err.items() if j != i]
        assert err[i] < 0.5 * min(others), (k, i, err)


def test_faster_camera_is_re_timed_and_re_encoded(tmp_path):
    frames = scene(2 * N)
    cam = sidecar(tmp_path / "cam_wrist.mp4", frames, clock(2 * N, PERIOD / 2))
    cam.rate_hz = 2 * FPS
    mode, out, n, idx = publish(episode(cam), tmp_path)
    assert mode == "encode" and n == N
    assert np.array_equal(idx, 2 * np.arange(N))
    assert_rows_show_mapped_frames(out, frames, idx)


def test_camera_starting_before_the_clock_is_re_encoded(tmp_path):
    """The joints start 3 frames late: rows begin at camera frame 3, so frame k is not row k."""
    frames = scene(N)
    ts = clock(N)
    cam = sidecar(tmp_path / "cam_wrist.mp4", frames, ts)
    ep = episode(cam)
    joints = ep.streams["joint_pos"]
    keep = joints.timestamps >= ts[3]
    ep.streams["joint_pos"] = Stream("joint_pos", "joint_position", joints.timestamps[keep],
                                     joints.values[keep], joints.names, "rad", 50.0)
    mode, out, _, idx = publish(ep, tmp_path)
    assert mode == "encode" and idx[0] == 3
    assert_rows_show_mapped_frames(out, frames, idx)


def test_video_with_a_frame_more_than_its_timestamps_is_re_encoded(tmp_path):
    """Copying would publish one frame more than the rows; frame k is timestamp k's."""
    frames = scene(N + 1)
    cam = sidecar(tmp_path / "cam_wrist.mp4", frames, clock(N))
    assert probe_stream(cam.video_path).n_packets == N + 1
    mode, out, n, idx = publish(episode(cam), tmp_path)
    assert mode == "encode" and n == N
    assert_rows_show_mapped_frames(out, frames, idx)


def test_reordered_stream_with_trailing_frames_is_re_encoded(tmp_path):
    """With B-frames, dropping trailing packets could drop a frame a kept one refers to."""
    src = tmp_path / "cam_wrist.mp4"
    frames = scene(N)
    encode_with_pyav(src, frames, "libx264", bframes=2)
    assert not probe_stream(src).in_order
    ts = clock(N)
    cam = Camera("cam_wrist", ts, "video", FPS, W, H, frames=VideoFrames(src), video_path=src)
    mode, out, n, idx = publish(episode(cam, end_ns=int(ts[N - 6]) + 1_000_000), tmp_path)
    assert mode == "encode" and n == N - 5
    assert_rows_show_mapped_frames(out, decode(src), idx)


def test_declared_size_other_than_the_video_is_re_encoded(tmp_path):
    cam = sidecar(tmp_path / "cam_wrist.mp4", scene(N), clock(N))
    res = frames_table(episode(cam), "ep", FPS)
    cam.width = 2 * W
    assert publish_mode(cam, res.grid.times_ns, FPS) == "encode"


def test_unreadable_sidecar_is_not_copied(tmp_path):
    path = tmp_path / "cam_wrist.mp4"
    path.write_bytes(b"not a video" * 100)
    cam = Camera("cam_wrist", clock(N), "video", FPS, W, H, frames=VideoFrames(path),
                 video_path=path)
    res = frames_table(episode(cam), "ep", FPS)
    assert probe_stream(path) is None
    assert publish_mode(cam, res.grid.times_ns, FPS) == "encode"


# --- through curation ----------------------------------------------------------------------


def test_curation_stages_the_copied_video(tmp_path):
    cam = sidecar(tmp_path / "cam_wrist.mp4", scene(N), clock(N))
    store = Store(tmp_path / "store")
    cur = curate(store, "demo", episode(cam), "ep-copy", FPS)
    staged = Path(cur.path) / "videos" / "cam_wrist.mp4"
    assert cur.cameras == ["cam_wrist"] and cur.n_frames == N
    assert sha(staged) == sha(cam.video_path)
    assert cam.video_path.is_file()  # the source is left as it was


def test_av1_video_on_the_clock_is_remuxed_not_re_encoded(shared_data, tmp_path):
    """The G1 sample's videos are AV1, which FFmpeg decodes with libdav1d. The probe once
    named the decoder instead of the codec, and the remux looked up an encoder of that name,
    so every such video was re-encoded; now it is remuxed, frame k exactly at row k."""
    from pipelines.mapping import load_mapping
    from pipelines.sources import SourceRef

    root = shared_data / "lerobot-v21-unitree-g1"
    mapping = load_mapping(Path(__file__).parents[2] / "pipelines" / "mappings"
                           / "lerobot-unitree-g1-inspire.toml")
    ep = SourceRef(root.resolve(), "lerobot", "episode_000001").read(mapping).episode
    assert ep is not None
    cam = ep.cameras["cam_high"]
    src = Path(cam.frames.path)
    probe = probe_stream(src)
    assert probe is not None and probe.codec == "av1"
    res = frames_table(ep, "ep-av1", FPS)
    assert publish_mode(cam, res.grid.times_ns, FPS) == "remux"
    out = tmp_path / "published" / "cam_high.mp4"
    assert write_camera_video(cam, res.grid, out) == res.grid.n
    idx = nearest_indices(cam.timestamps, res.grid.times_ns)
    assert np.array_equal(idx, np.arange(res.grid.n))
    assert probe_stream(out) == StreamProbe(True, 1, "av1", cam.width, cam.height, res.grid.n,
                                            True)
    assert_rows_are_source_frames(out, src, idx)
