"""Video checks: each planted defect is found at its place, a clean textured moving video (in
the file or an MP4 sidecar) raises nothing, and the pass over a camera is made once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from checks.catalog.video import scan_camera, scan_cameras
from checks.registry import run_episode_checks
from schemas.episode import ArrayFrames, Camera, Episode, EpisodeMetadata, Stream
from schemas.findings import Finding, Severity
from schemas.frame_sources import H5Frames, VideoFrames
from schemas.quality_profile import load_quality_profile
from schemas.recording_writer import write_video

PROFILE = load_quality_profile("default")
VIDEO_IDS = ("video.unreadable", "video.frame_count", "video.resolution", "video.frozen",
             "video.dark", "video.overexposed", "video.blur")
W, H, FPS, SECONDS = 160, 120, 30.0, 4.0
N = int(FPS * SECONDS)
T0 = 1_762_000_000_000_000_000
CAM_TS = T0 + np.round(np.arange(N) * 1e9 / FPS).astype(np.int64)


def textured_frames(n: int = N, seed: int = 1) -> np.ndarray:
    """A sharp random block texture sliding under the camera: mid-grey, never still."""
    rng = np.random.default_rng(seed)
    tex = np.repeat(np.repeat(rng.integers(40, 216, (H // 4 + 60, W // 4 + 60, 3),
                                           dtype=np.uint8), 4, 0), 4, 1)
    out = np.empty((n, H, W, 3), np.uint8)
    for i in range(n):
        y, x = (i * 1) % 200, (i * 2) % 200
        out[i] = tex[y:y + H, x:x + W]
    return out


def joints(moving: bool, seconds: float = SECONDS, rate: float = 50.0) -> Stream:
    n = int(seconds * rate) + 1
    ts = T0 + np.round(np.arange(n) * 1e9 / rate).astype(np.int64)
    t = np.arange(n) / rate
    rng = np.random.default_rng(0)
    q = np.full((n, 3), 0.2) + rng.normal(0, 1e-4, (n, 3))  # encoder noise
    if moving:
        q[:, 0] += 0.4 * np.sin(2 * np.pi * 0.3 * t)
        q[:, 1] += 0.2 * np.sin(2 * np.pi * 0.2 * t + 1.0)
    return Stream("joint_pos", "joint_position", ts, q, ["j0", "j1", "j2"], "rad", rate)


def episode(cam: Camera, moving: bool = True) -> Episode:
    md = EpisodeMetadata("unitree-h1", "H1A0000001", "op_07", "teleop_vr", "pick", "lab",
                         "2025-11-01T12:00:00Z")
    return Episode(md, streams={"joint_pos": joints(moving)}, cameras={cam.name: cam})


def array_camera(frames: np.ndarray, name: str = "cam_head", **kw) -> Camera:
    ts = kw.pop("timestamps", CAM_TS[:len(frames)])
    enc = kw.pop("encoding", "depth16" if frames.dtype == np.uint16 else "rgb8")
    return Camera(name, ts, enc, FPS, kw.pop("width", frames.shape[2]),
                  kw.pop("height", frames.shape[1]), frames=ArrayFrames(frames),
                  pixel_format="depth16" if enc == "depth16" else "rgb8", **kw)


def mp4_camera(tmp_path: Path, frames: np.ndarray, name: str = "cam_wrist") -> Camera:
    path = tmp_path / f"{name}.mp4"
    n = write_video(path, iter(frames), FPS, frames.shape[2], frames.shape[1])
    return Camera(name, CAM_TS[:n], "video", FPS, frames.shape[2], frames.shape[1],
                  frames=VideoFrames(path), video_path=path)


def video_findings(ep: Episode, profile=PROFILE) -> list[Finding]:
    return run_episode_checks(ep, None, profile, only=VIDEO_IDS)


def serious(findings: list[Finding]) -> list[str]:
    return [f"{f.check_id}: {f.message}" for f in findings if f.severity is not Severity.INFO]


def only(findings: list[Finding], check_id: str) -> Finding:
    hits = [f for f in findings if f.check_id == check_id]
    assert len(hits) == 1, [f.message for f in findings]
    return hits[0]


def at(frac: float) -> int:
    return int(CAM_TS[int(N * frac)])


@pytest.fixture(scope="module")
def clean_frames() -> np.ndarray:
    return textured_frames()


# --- clean -----------------------------------------------------------------------------------


def test_clean_stored_frames_raise_nothing(clean_frames):
    assert serious(video_findings(episode(array_camera(clean_frames)))) == []


def test_clean_mp4_sidecar_raises_nothing(clean_frames, tmp_path):
    assert serious(video_findings(episode(mp4_camera(tmp_path, clean_frames)))) == []


def test_clean_video_with_a_still_robot_raises_nothing(clean_frames, tmp_path):
    static = np.repeat(clean_frames[:1], N, axis=0)  # a still scene seen by a still robot
    assert serious(video_findings(episode(mp4_camera(tmp_path, static), moving=False))) == []


# --- frozen ----------------------------------------------------------------------------------


def _freeze(frames: np.ndarray, a: float, b: float) -> np.ndarray:
    out = frames.copy()
    i0, i1 = int(N * a), int(N * b)
    out[i0:i1 + 1] = frames[i0]
    return out


@pytest.mark.parametrize("store", ["array", "mp4"])
def test_frozen_frames_while_the_joints_move(clean_frames, tmp_path, store):
    frames = _freeze(clean_frames, 0.30, 0.55)
    cam = array_camera(frames) if store == "array" else mp4_camera(tmp_path, frames)
    f = only(video_findings(episode(cam)), "video.frozen")
    assert f.severity is Severity.WARNING and f.stream == cam.name
    assert f.t_start_ns == at(0.30) and f.t_end_ns == at(0.55)
    assert f.value == pytest.approx((at(0.55) - at(0.30)) / 1e9)
    assert f.threshold == 0.5 and "robot moves" in f.message
    assert serious(video_findings(episode(cam))) == [f"video.frozen: {f.message}"]


def test_same_frozen_frames_while_the_robot_is_still_are_not_frozen(clean_frames):
    cam = array_camera(_freeze(clean_frames, 0.30, 0.55))
    assert not [f for f in video_findings(episode(cam, moving=False))
                if f.check_id == "video.frozen"]


def test_short_freeze_is_tolerated(clean_frames):
    frames = clean_frames.copy()
    frames[60:72] = frames[60]  # 0.37 s
    assert serious(video_findings(episode(array_camera(frames)))) == []


def test_longest_frozen_run_is_the_place(clean_frames):
    frames = _freeze(_freeze(clean_frames, 0.10, 0.25), 0.50, 0.80)
    f = only(video_findings(episode(array_camera(frames))), "video.frozen")
    assert (f.t_start_ns, f.t_end_ns) == (at(0.50), at(0.80))
    assert f"{int(N * 0.25) - int(N * 0.10) + 1 + int(N * 0.80) - int(N * 0.50) + 1}" \
        in f.message


def test_strict_profile_blocks_frozen_video(clean_frames):
    cam = array_camera(_freeze(clean_frames, 0.30, 0.55))
    f = only(video_findings(episode(cam), load_quality_profile("strict")), "video.frozen")
    assert f.severity is Severity.ERROR


# --- frozen means the picture does not change: real encoded videos --------------------------


def table_scene(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A still scene: smooth shading, flat boxes with sharp edges and a little sensor grain."""
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 200, (h // 24 + 2, w // 24 + 2, 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float64)
    for _ in range(12):
        x, y = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        img[y:y + int(rng.integers(10, h // 4)), x:x + int(rng.integers(10, w // 4))] = \
            rng.integers(20, 235, 3)
    return np.clip(img + rng.normal(0, 3, (h, w, 1)), 0, 255).astype(np.uint8)


def small_object_frames(w: int, h: int, n: int, stop: tuple[int, int] | None = None,
                        noise: float = 0.0, moving: bool = True) -> Iterator[np.ndarray]:
    """A 12x12 px dark square gliding 4 px a frame over a still scene; between the frames
    ``stop`` (inclusive) the camera repeats one frame, as a stalled driver does. ``noise``
    adds fresh grain to every frame (the repeated ones too) before encoding."""
    scene = table_scene(w, h)
    rng = np.random.default_rng(1)
    for i in range(n):
        k = 0 if not moving else (stop[0] if stop and stop[0] <= i <= stop[1] else i)
        f = scene.copy()
        x, y = 20 + (4 * k) % (w - 52), h // 2 + int(20 * np.sin(k / 10))
        f[y:y + 12, x:x + 12] = 20
        if noise:
            f = np.clip(f + rng.normal(0, noise, f.shape), 0, 255).astype(np.uint8)
        yield f


def x264_camera(path: Path, frames: Iterator[np.ndarray], w: int, h: int, crf: int,
                n: int) -> Camera:
    """An H.264 sidecar written with PyAV at constant quality ``crf`` (codec noise grows with
    it); the encoder's own key frame interval."""
    import av

    with av.open(str(path), "w") as c:
        st = c.add_stream("libx264", rate=int(FPS))
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"crf": str(crf), "preset": "veryfast"}
        for f in frames:
            for pkt in st.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)
    ts = T0 + np.round(np.arange(n) * 1e9 / FPS).astype(np.int64)
    return Camera("cam_head", ts, "video", FPS, w, h, frames=VideoFrames(path), video_path=path)


def take(cam: Camera, moving: bool) -> Episode:
    seconds = (cam.n_frames - 1) / FPS
    return replace(episode(cam), streams={"joint_pos": joints(moving, seconds)})


#: width, height, x264 quality (higher: more codec noise) and grain added before encoding
ENCODINGS = [(320, 240, 23, 1.5), (640, 480, 30, 1.5), (1280, 720, 23, 0.0),
             (1280, 720, 30, 0.0)]


def frozen_findings(ep: Episode, profile=PROFILE) -> list[Finding]:
    """The smooth scene measures as soft (``video.blur``), which is not what these judge."""
    return [f for f in video_findings(ep, profile) if f.check_id == "video.frozen"]


@pytest.mark.slow
def test_small_object_over_a_still_scene_in_a_60_s_take_is_not_frozen(tmp_path):
    """The false frozen video: a whole-frame mean barely moves when a small object does."""
    n = int(60 * FPS)
    cam = x264_camera(tmp_path / "head.mp4", small_object_frames(320, 240, n),
                      320, 240, 28, n)
    sc = scan_camera(cam, False, False)
    assert sc.decoded == n and np.median(sc.diff[1:]) < 0.5  # the old whole-frame figure
    assert frozen_findings(take(cam, moving=True)) == []


@pytest.mark.parametrize(("w", "h", "crf", "noise"), ENCODINGS)
def test_small_object_over_a_still_scene_is_not_frozen(tmp_path, w, h, crf, noise):
    n = 90
    cam = x264_camera(tmp_path / "head.mp4", small_object_frames(w, h, n, noise=noise), w, h,
                      crf, n)
    assert frozen_findings(take(cam, moving=True)) == []


@pytest.mark.parametrize(("w", "h", "crf", "noise"), ENCODINGS)
def test_repeated_frame_with_codec_noise_is_frozen_at_its_place(tmp_path, w, h, crf, noise):
    """Frames 30-60 (1 s) repeat one picture; encoded, then decoded, they differ by codec noise
    (and by the grain added before encoding) only."""
    n, a, b = 90, 30, 60
    cam = x264_camera(tmp_path / "head.mp4",
                      small_object_frames(w, h, n, stop=(a, b), noise=noise), w, h, crf, n)
    [f] = frozen_findings(take(cam, moving=True))
    assert f.severity is Severity.WARNING and f.stream == "cam_head"
    ts = cam.timestamps
    # the codec may take a frame or two to settle on the repeated picture
    assert ts[a] <= f.t_start_ns <= ts[a + 2] and ts[b - 1] <= f.t_end_ns <= ts[b]
    assert f.value == pytest.approx((f.t_end_ns - f.t_start_ns) / 1e9) and f.value >= 0.9


@pytest.mark.parametrize(("w", "h", "crf", "noise"), ENCODINGS)
def test_still_scene_from_a_still_robot_is_not_frozen(tmp_path, w, h, crf, noise):
    n = 90
    cam = x264_camera(tmp_path / "head.mp4",
                      small_object_frames(w, h, n, noise=noise, moving=False), w, h, crf, n)
    assert frozen_findings(take(cam, moving=False)) == []
    # the same still picture while the robot moves is a frozen camera
    [f] = frozen_findings(take(cam, moving=True))
    assert f.value >= 2.9


def test_frozen_block_size_and_threshold_come_from_the_profile(tmp_path):
    n = 90
    cam = x264_camera(tmp_path / "head.mp4", small_object_frames(320, 240, n), 320, 240, 23, n)
    p = tmp_path / "coarse.toml"
    p.write_text('[checks."video.frozen"]\nblock_px = 640\nmax_block_diff = 0.5\n')
    [f] = frozen_findings(take(cam, moving=True), load_quality_profile(p))
    assert f.value >= 2.9  # one block over the whole frame: back to the whole-frame mean


# --- exposure and focus ----------------------------------------------------------------------


@pytest.mark.parametrize("store", ["array", "mp4"])
def test_dark_frames(clean_frames, tmp_path, store):
    frames = clean_frames.copy()
    i0, i1 = int(N * 0.50), int(N * 0.70)
    frames[i0:i1 + 1] = (frames[i0:i1 + 1] * 0.04).astype(np.uint8)
    cam = array_camera(frames) if store == "array" else mp4_camera(tmp_path, frames)
    f = only(video_findings(episode(cam)), "video.dark")
    assert f.severity is Severity.WARNING and f.stream == cam.name
    assert f.t_start_ns == at(0.50) and f.t_end_ns == at(0.70)
    assert f.value == pytest.approx((i1 - i0 + 1) / N) and f.threshold == 0.1
    assert "15" in f.message and "10%" in f.message


@pytest.mark.parametrize("store", ["array", "mp4"])
def test_blown_out_frames(clean_frames, tmp_path, store):
    frames = clean_frames.copy()
    i0, i1 = int(N * 0.20), int(N * 0.45)
    frames[i0:i1 + 1] = np.clip(frames[i0:i1 + 1].astype(np.int16) + 200, 0, 255)
    cam = array_camera(frames) if store == "array" else mp4_camera(tmp_path, frames)
    f = only(video_findings(episode(cam)), "video.overexposed")
    assert f.t_start_ns == at(0.20) and f.t_end_ns == at(0.45)
    assert not [x for x in video_findings(episode(cam)) if x.check_id == "video.dark"]


@pytest.mark.parametrize("store", ["array", "mp4"])
def test_heavily_blurred_frames(clean_frames, tmp_path, store):
    frames = clean_frames.copy()
    i0, i1 = int(N * 0.40), int(N * 0.75)
    for i in range(i0, i1 + 1):
        frames[i] = cv2.GaussianBlur(frames[i], (0, 0), 6)
    cam = array_camera(frames) if store == "array" else mp4_camera(tmp_path, frames)
    f = only(video_findings(episode(cam)), "video.blur")
    assert f.severity is Severity.WARNING
    assert f.t_start_ns == at(0.40) and f.t_end_ns == at(0.75)
    assert f.value == pytest.approx((i1 - i0 + 1) / N, abs=0.02) and f.threshold == 0.2


def test_large_frames_are_measured_at_640_wide(clean_frames):
    """Every figure is taken on the frame scaled down to 640 px wide (area average)."""
    big = np.stack([cv2.resize(f, (1280, 960), interpolation=cv2.INTER_NEAREST)
                    for f in clean_frames[:5]])
    sc = scan_camera(array_camera(big), want_luma=True, want_blur=True)
    from checks.kernels.video import laplacian_variance

    grey = cv2.cvtColor(big[2], cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (640, 480), interpolation=cv2.INTER_AREA)
    assert sc.sharpness[2] == pytest.approx(laplacian_variance(small))
    assert sc.sharpness[2] != pytest.approx(laplacian_variance(grey), rel=0.05)
    # luma and the change from the previous frame are taken on the same 640-wide plane
    before = cv2.resize(cv2.cvtColor(big[1], cv2.COLOR_RGB2GRAY), (640, 480),
                        interpolation=cv2.INTER_AREA)
    assert sc.luma[2] == pytest.approx(float(small.mean()))
    assert sc.diff[2] == pytest.approx(float(np.abs(small.astype(int) - before).mean()))


# --- decoding, counts and sizes ---------------------------------------------------------------


def test_truncated_mp4_is_unreadable(clean_frames, tmp_path):
    cam = mp4_camera(tmp_path, clean_frames)
    data = cam.video_path.read_bytes()
    cam.video_path.write_bytes(data[:len(data) // 2])
    findings = video_findings(episode(cam))
    f = only(findings, "video.unreadable")
    assert f.severity is Severity.ERROR and f.stream == "cam_wrist"
    assert str(cam.video_path) in f.message and "cannot be opened" in f.message
    assert f.t_start_ns == int(CAM_TS[0])
    # reported once: not also as a frame count or any figure
    assert [x.check_id for x in findings] == ["video.unreadable"]


def test_not_a_video_is_unreadable(tmp_path):
    path = tmp_path / "cam.mp4"
    path.write_bytes(b"this is not a video\n" * 50)
    cam = Camera("cam", CAM_TS, "video", FPS, W, H, frames=VideoFrames(path), video_path=path)
    assert "cam.mp4" in only(video_findings(episode(cam)), "video.unreadable").message


def test_missing_sidecar_is_unreadable(tmp_path):
    path = tmp_path / "gone.mp4"
    cam = Camera("cam", CAM_TS, "video", FPS, W, H, frames=VideoFrames(path), video_path=path)
    assert "gone.mp4" in only(video_findings(episode(cam)), "video.unreadable").message


def test_camera_without_frames_is_unreadable():
    cam = Camera("cam", CAM_TS, "video", FPS, W, H, frames=None)
    assert "no frames" in only(video_findings(episode(cam)), "video.unreadable").message


@dataclass
class FailingFrames:
    """Stored frames whose reading breaks after ``good`` frames (a damaged chunk)."""

    frames: np.ndarray
    good: int

    def iter_frames(self) -> Iterator[np.ndarray]:
        for i, f in enumerate(self.frames):
            if i == self.good:
                raise OSError("can't read data (inflate() failed)")
            yield f

    def describe(self) -> str:
        return "rec.h5:/cameras/cam_head/frames"


def test_decode_error_mid_stream_names_the_frame(clean_frames):
    cam = replace(array_camera(clean_frames), frames=FailingFrames(clean_frames, 47))
    f = only(video_findings(episode(cam)), "video.unreadable")
    assert "frame 47" in f.message and "rec.h5:/cameras/cam_head/frames" in f.message
    assert f.t_start_ns == int(CAM_TS[47]) and f.value == 47


def test_missing_frames_dataset_is_unreadable(tmp_path, clean_frames):
    import h5py

    path = tmp_path / "rec.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("cameras/cam_head/timestamps", data=CAM_TS)
    cam = replace(array_camera(clean_frames), frames=H5Frames(path, "/cameras/cam_head/frames"))
    f = only(video_findings(episode(cam)), "video.unreadable")
    assert "rec.h5" in f.message and "frame 0" in f.message


def test_more_timestamps_than_frames(clean_frames, tmp_path):
    cam = mp4_camera(tmp_path, clean_frames[:N - 10])
    cam = replace(cam, timestamps=CAM_TS)
    f = only(video_findings(episode(cam)), "video.frame_count")
    assert f.severity is Severity.ERROR and f.value == -10 and f.threshold == 2
    assert f"{N - 10} frames" in f.message and f"{N} timestamps" in f.message


def test_frame_count_within_tolerance(clean_frames):
    cam = replace(array_camera(clean_frames[:N - 2]), timestamps=CAM_TS)
    assert serious(video_findings(episode(cam))) == []


def test_wrong_width_attribute(clean_frames, tmp_path):
    cam = replace(mp4_camera(tmp_path, clean_frames), width=W * 2)
    f = only(video_findings(episode(cam)), "video.resolution")
    assert f.severity is Severity.ERROR
    assert f"{W}x{H}" in f.message and f"{2 * W}x{H}" in f.message


# --- depth -----------------------------------------------------------------------------------


def _depth(n: int = N) -> np.ndarray:
    """A dark, smooth depth map (millimetres) that changes every frame by a few millimetres
    (more than ``max_block_diff``, as a live depth sensor's noise does)."""
    y, x = np.mgrid[0:H, 0:W]
    base = (800 + 2 * x + y).astype(np.uint16)
    return np.stack([base + np.uint16(3 * (i % 7)) for i in range(n)])


def test_depth_camera_gets_no_luma_or_blur_findings():
    cam = array_camera(_depth(), name="cam_depth")
    assert cam.is_depth
    sc = scan_camera(cam, want_luma=True, want_blur=True)
    assert sc.decoded == N and sc.luma == [] and sc.sharpness == []
    assert serious(video_findings(episode(cam))) == []


def test_depth_camera_frozen_while_moving():
    frames = _depth()
    frames[30:70] = frames[30]
    f = only(video_findings(episode(array_camera(frames, name="cam_depth"))), "video.frozen")
    assert (f.t_start_ns, f.t_end_ns) == (int(CAM_TS[30]), int(CAM_TS[69]))


# --- one pass, enabled flags -----------------------------------------------------------------


@dataclass
class CountingFrames:
    frames: np.ndarray
    passes: int = 0

    def iter_frames(self) -> Iterator[np.ndarray]:
        self.passes += 1
        yield from self.frames

    def describe(self) -> str:
        return "counted"


def test_one_pass_per_camera_for_all_video_checks(clean_frames):
    head, wrist = CountingFrames(clean_frames), CountingFrames(clean_frames[:, ::-1])
    ep = episode(replace(array_camera(clean_frames), frames=head))
    ep.cameras["cam_wrist"] = replace(array_camera(clean_frames, name="cam_wrist"), frames=wrist)
    assert serious(video_findings(ep)) == []
    assert (head.passes, wrist.passes) == (1, 1)


def test_cameras_scanned_side_by_side_equal_one_by_one(clean_frames, tmp_path):
    """Parallel scans give each camera exactly the figures of its own sequential scan, in
    order, and a broken camera spoils no other."""
    dark = clean_frames.copy()
    dark[40:80] //= 20
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    cams = [mp4_camera(tmp_path, clean_frames, "cam_a"), mp4_camera(tmp_path, dark, "cam_b"),
            array_camera(clean_frames[:, ::-1], name="cam_c"), array_camera(_depth(), "cam_d"),
            Camera("cam_e", CAM_TS, "video", FPS, W, H, frames=VideoFrames(broken),
                   video_path=broken)]
    one_by_one = [scan_camera(c, True, True) for c in cams]
    side_by_side = scan_cameras(cams, True, True, workers=len(cams))
    assert side_by_side == one_by_one
    assert [sc.decoded for sc in side_by_side] == [N, N, N, N, 0]
    assert "broken.mp4" in side_by_side[4].error
    assert scan_cameras(cams[:2], True, True, workers=2) == one_by_one[:2]


def test_disabled_checks_are_neither_run_nor_measured(clean_frames, tmp_path):
    p = tmp_path / "no-blur.toml"
    p.write_text('[checks."video.blur"]\nenabled = false\n'
                 '[checks."video.dark"]\nenabled = false\n'
                 '[checks."video.overexposed"]\nenabled = false\n')
    prof = load_quality_profile(p)
    frames = clean_frames.copy()
    frames[: N // 2] //= 12  # dark
    for i in range(N // 2, N):
        frames[i] = cv2.GaussianBlur(frames[i], (0, 0), 6)
    ep = episode(array_camera(frames))
    assert serious(video_findings(ep, prof)) == []
    from checks.registry import EpisodeContext, all_checks

    ctx = EpisodeContext(ep, None, prof)
    all_checks()["video.frozen"].call(ctx)
    sc = ctx.cache["video.scan.cam_head"]
    assert sc.decoded == N and sc.luma == [] and sc.sharpness == []


def test_threshold_override_in_a_profile(clean_frames, tmp_path):
    p = tmp_path / "picky.toml"
    p.write_text('[checks."video.blur"]\nlevel = 1e9\nmax_share = 0.5\nseverity = "error"\n')
    f = only(video_findings(episode(array_camera(clean_frames)), load_quality_profile(p)),
             "video.blur")
    assert f.severity is Severity.ERROR and f.value == 1.0 and f.threshold == 0.5
