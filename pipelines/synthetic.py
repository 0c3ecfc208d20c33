"""Synthetic teleoperation recordings in format 1.0, clean or with planted defects.

Used by ``embodiq demo``, the tests and the benchmarks. A clean recording is meant to be
indistinguishable, for every check, from a good real one: smooth joint motion inside the profile's
limits with encoder noise, actions leading the state by a tracking lag, an IMU at its own rate,
slightly jittered epoch-nanosecond clocks, one camera stored in the file and one sidecar MP4 whose
image moves with the robot and carries sensor noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from robots.profile import RobotProfile
from schemas.episode import (
    ArrayFrames,
    Camera,
    Episode,
    EpisodeMetadata,
    Event,
    FrameSource,
    Stream,
)

EPOCH_NS = 1_762_000_000_000_000_000  # 2025-11-01, a realistic wall clock
#: The defects :func:`plant_defect` knows, by the check that must find them.
DefectFn = Callable[[Episode, np.random.Generator], Episode]
_DEFECTS: dict[str, DefectFn] = {}


@dataclass
class CameraPlan:
    name: str
    encoding: str = "rgb8"  # rgb8 (stored), video (sidecar MP4) or depth16 (stored)
    rate_hz: float = 30.0
    width: int = 160
    height: int = 120
    mount: str = "head"


@dataclass
class EpisodePlan:
    duration_s: float = 6.0
    rate_hz: float = 50.0
    imu_rate_hz: float = 200.0
    action_lead_s: float = 0.1
    seed: int = 0
    robot_serial: str = "H1A0000001"
    operator_id: str = "op_07"
    site: str = "shanghai-tg-01"
    task: str = "pick up the red cup and place it on the tray"
    task_id: str | None = "pick_cup_v1"
    scene: str | None = "kitchen-03"
    collection_mode: str = "teleop_vr"
    success: bool | None = True
    start_ns: int | None = None
    cameras: Sequence[CameraPlan] = field(default_factory=lambda: (
        CameraPlan("cam_head", "rgb8", mount="head"),
        CameraPlan("cam_wrist", "video", mount="wrist_right"),
    ))
    #: Seconds of stillness at the start and end (operators reach for the controls).
    idle_head_s: float = 0.0
    idle_tail_s: float = 0.0


def _clock(start_ns: int, n: int, rate_hz: float, rng: np.random.Generator,
           jitter: float = 0.02) -> np.ndarray:
    period = 1e9 / rate_hz
    t = start_ns + np.arange(n, dtype=np.float64) * period
    t += rng.normal(0.0, jitter * period, size=n)
    ts = np.round(t).astype(np.int64)
    ts[0] = start_ns
    return np.maximum.accumulate(ts)


def _joint_trajectory(profile: RobotProfile, t: np.ndarray, rng: np.random.Generator,
                      plan: EpisodePlan) -> np.ndarray:
    """Smooth motion: per joint a sum of slow sinusoids around a comfortable pose."""
    lo = np.array([j.lower for j in profile.joints])
    hi = np.array([j.upper for j in profile.joints])
    vmax = np.array([j.velocity if np.isfinite(j.velocity) else 2.0 for j in profile.joints])
    rng_ = hi - lo
    centre = lo + rng_ * rng.uniform(0.35, 0.65, size=lo.size)
    out = np.repeat(centre[None, :], t.size, axis=0)
    duration = max(plan.duration_s, 1e-9)
    # envelope: still during idle head/tail, smooth ramp in between
    active0, active1 = plan.idle_head_s, duration - plan.idle_tail_s
    ramp = np.clip(np.minimum(t - active0, active1 - t) / 0.5, 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)
    for k in range(3):
        freq = rng.uniform(0.15, 0.45, size=lo.size) * (k + 1)
        amp = rng_ * rng.uniform(0.03, 0.08, size=lo.size) / (k + 1)
        # keep peak speed well below the limit
        amp = np.minimum(amp, 0.25 * vmax / (2 * np.pi * freq))
        phase = rng.uniform(0, 2 * np.pi, size=lo.size)
        out += ramp[:, None] * amp * np.sin(2 * np.pi * freq * t[:, None] + phase)
    return out


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A blocky, colourful scene: sharp edges survive video compression (no blur alarm)."""
    small = rng.integers(40, 215, size=(h // 8 + 2, w // 8 + 2, 3), dtype=np.uint8)
    tex = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)
    return np.tile(tex, (2, 2, 1))


@dataclass
class _SceneFrames:
    """Frames rendered on demand: a textured scene that pans with the robot's motion."""

    texture: np.ndarray
    offsets: np.ndarray  # [N, 2] pixel offsets
    width: int
    height: int
    seed: int
    depth: bool = False

    def iter_frames(self) -> Iterator[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        th, tw = self.texture.shape[:2]
        for dy, dx in self.offsets:
            y, x = int(dy) % (th // 2), int(dx) % (tw // 2)
            frame = self.texture[y:y + self.height, x:x + self.width].astype(np.int16)
            frame += rng.integers(-3, 4, size=frame.shape, dtype=np.int16)  # sensor noise
            frame = np.clip(frame, 0, 255).astype(np.uint8)
            if self.depth:
                yield (600 + frame[..., 0].astype(np.uint16) * 8)
            else:
                yield frame

    def describe(self) -> str:
        return f"synthetic scene {self.width}x{self.height}, {len(self.offsets)} frames"


def generate_episode(profile: RobotProfile, plan: EpisodePlan | None = None) -> Episode:
    """A clean episode for ``profile`` following ``plan``."""
    plan = plan or EpisodePlan()
    rng = np.random.default_rng(plan.seed)
    start = plan.start_ns if plan.start_ns is not None else EPOCH_NS + plan.seed * 3_600 * 10**9
    n = max(int(round(plan.duration_s * plan.rate_hz)) + 1, 2)
    ts = _clock(start, n, plan.rate_hz, rng)
    t_rel = (ts - start) / 1e9
    names = profile.joint_names

    q_clean = _joint_trajectory(profile, t_rel, np.random.default_rng(plan.seed + 1), plan)
    q = q_clean + rng.normal(0.0, 1e-4, size=q_clean.shape)  # encoder noise
    lead = _joint_trajectory(profile, t_rel + plan.action_lead_s,
                             np.random.default_rng(plan.seed + 1), plan)
    dq = np.gradient(q_clean, t_rel, axis=0) + rng.normal(0.0, 1e-3, size=q.shape)
    efforts = np.array([j.effort if np.isfinite(j.effort) else 10.0 for j in profile.joints])
    tau = 0.05 * efforts * np.sin(q_clean) + rng.normal(0, 0.01, size=q.shape) * efforts * 0.01

    imu_n = max(int(round(plan.duration_s * plan.imu_rate_hz)) + 1, 2)
    imu_ts = _clock(start + 1_000_000, imu_n, plan.imu_rate_hz, rng)
    imu_t = (imu_ts - start) / 1e9
    acc = np.stack([0.3 * np.sin(0.7 * imu_t), 0.2 * np.cos(0.5 * imu_t),
                    9.81 + 0.1 * np.sin(1.1 * imu_t)], axis=1)
    gyr = np.stack([0.05 * np.sin(0.9 * imu_t), 0.04 * np.cos(0.6 * imu_t),
                    0.02 * np.sin(0.3 * imu_t)], axis=1)
    imu = np.concatenate([acc, gyr], axis=1) + rng.normal(0, 0.02, size=(imu_n, 6))

    streams = {
        "joint_pos": Stream("joint_pos", "joint_position", ts, q.astype(np.float64), names,
                            "rad", plan.rate_hz),
        "joint_vel": Stream("joint_vel", "joint_velocity", ts.copy(), dq.astype(np.float32),
                            names, "rad/s", plan.rate_hz),
        "joint_effort": Stream("joint_effort", "joint_effort", ts.copy(),
                               tau.astype(np.float32), names, "N*m", plan.rate_hz),
        "action": Stream("action", "action", ts + 200_000, lead.astype(np.float64), names,
                         "rad", plan.rate_hz, space="joint_position"),
        "imu": Stream("imu", "imu", imu_ts, imu.astype(np.float32),
                      ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"], "1",
                      plan.imu_rate_hz),
    }

    cameras: dict[str, Camera] = {}
    # the camera pans with the first joints' motion, plus a slow drift while active
    speed = np.linalg.norm(np.gradient(q_clean[:, : min(6, q.shape[1])], t_rel, axis=0), axis=1)
    for i, cp in enumerate(plan.cameras):
        nf = max(int(round(plan.duration_s * cp.rate_hz)) + 1, 2)
        cts = _clock(start + 2_000_000 * (i + 1), nf, cp.rate_hz, rng, jitter=0.01)
        cts[-1] = min(cts[-1], ts[-1] + 10_000_000)
        cam_speed = np.interp((cts - start) / 1e9, t_rel, speed)
        moving = cam_speed > 1e-3
        step = np.where(moving, 1.0 + 20.0 * cam_speed, 0.0) * (30.0 / cp.rate_hz)
        pos = np.cumsum(step)
        offsets = np.stack([pos * 0.5, pos], axis=1)
        tex = _texture(np.random.default_rng(plan.seed * 31 + i), cp.height, cp.width)
        frames = _SceneFrames(tex, offsets, cp.width, cp.height, seed=plan.seed * 17 + i,
                              depth=cp.encoding == "depth16")
        cameras[cp.name] = Camera(
            name=cp.name, timestamps=cts, encoding=cp.encoding, rate_hz=cp.rate_hz,
            width=cp.width, height=cp.height, frames=frames, mount=cp.mount,
            video_path=Path(f"{cp.name}.mp4") if cp.encoding == "video" else None,
            intrinsics=np.array([cp.width * 0.9, cp.width * 0.9, cp.width / 2, cp.height / 2]),
            pixel_format="depth16" if cp.encoding == "depth16" else "rgb8",
        )

    md = EpisodeMetadata(
        robot_model=profile.id, robot_serial=plan.robot_serial, operator_id=plan.operator_id,
        collection_mode=plan.collection_mode, task=plan.task, site=plan.site,
        started_at=_iso(start), task_id=plan.task_id, scene=plan.scene, success=plan.success,
    )
    events = [Event(int(ts[0]), int(ts[n // 2]), "reach"), Event(int(ts[n // 2]), int(ts[-1]),
                                                              "place")]
    return Episode(metadata=md, streams=streams, cameras=cameras, events=events)


def _iso(t_ns: int) -> str:
    from datetime import UTC, datetime, timedelta, timezone

    dt = datetime.fromtimestamp(t_ns / 1e9, tz=UTC).astimezone(timezone(timedelta(hours=8)))
    return dt.isoformat(timespec="milliseconds")


# ------------------------------------------------------------------------- planted defects
def defect(check_id: str) -> Callable[[DefectFn], DefectFn]:
    """Register a function that plants the defect ``check_id`` must find."""

    def deco(fn: DefectFn) -> DefectFn:
        _DEFECTS[check_id] = fn
        return fn

    return deco


def known_defects() -> list[str]:
    return sorted(_DEFECTS)


def plant_defect(episode: Episode, check_id: str, seed: int = 0) -> Episode:
    """Return ``episode`` with the defect that ``check_id`` must find planted in it."""
    if check_id not in _DEFECTS:
        raise KeyError(f"no planted defect for '{check_id}' (known: {', '.join(known_defects())})")
    return _DEFECTS[check_id](episode, np.random.default_rng(seed))


def _with_stream(ep: Episode, name: str, **changes) -> Episode:
    streams = dict(ep.streams)
    streams[name] = replace(ep.streams[name], **changes)
    return replace(ep, streams=streams)


def _with_camera(ep: Episode, name: str, **changes) -> Episode:
    cams = dict(ep.cameras)
    cams[name] = replace(ep.cameras[name], **changes)
    return replace(ep, cameras=cams)


def _frames_of(ep: Episode, name: str) -> np.ndarray:
    """The camera's frames as one writable array, to plant a defect in."""
    return np.stack(list(_frames(ep.cameras[name]).iter_frames()))


def _profile_of(ep: Episode) -> RobotProfile | None:
    from robots.profile import get_profile

    return get_profile(ep.metadata.robot_model)


@defect("value.nonfinite")
def _nan(ep: Episode, rng: np.random.Generator) -> Episode:
    s = ep.streams["joint_pos"]
    v = s.values.copy()
    i = s.n_samples // 3
    v[i:i + 5, 2] = np.nan
    return _with_stream(ep, "joint_pos", values=v)


@defect("value.joint_limit")
def _beyond_limit(ep: Episode, rng: np.random.Generator) -> Episode:
    """A joint driven 0.2 rad past its upper limit for half a second."""
    s = ep.streams["joint_pos"]
    v = s.values.copy()
    i = s.n_samples // 2
    w = max(int(0.5 * s.rate_hz), 2)
    col = 0
    peak = np.max(v[:, col])
    # lift the segment so it exceeds the limit smoothly (no teleport)
    prof = _profile_of(ep)
    upper = prof.joints[col].upper if prof else peak + 0.1
    bump = np.sin(np.linspace(0, np.pi, w)) * (upper + 0.2 - v[i:i + w, col].min())
    v[i:i + w, col] += np.maximum(bump, 0)
    return _with_stream(ep, "joint_pos", values=v)


@defect("time.gap")
def _gap(ep: Episode, rng: np.random.Generator) -> Episode:
    """Drop 10% of the state samples in one burst (a recorder stall)."""
    s = ep.streams["joint_pos"]
    n = s.n_samples
    k = max(int(n * 0.10), 3)
    i = n // 2
    keep = np.r_[0:i, i + k:n]
    return _with_stream(ep, "joint_pos", timestamps=s.timestamps[keep].copy(),
                        values=s.values[keep].copy())


@defect("time.non_monotonic")
def _backwards(ep: Episode, rng: np.random.Generator) -> Episode:
    """Two state timestamps swapped, as a buggy multi-threaded logger writes them."""
    s = ep.streams["joint_pos"]
    ts = s.timestamps.copy()
    i = s.n_samples // 4
    ts[i], ts[i + 1] = ts[i + 1], ts[i]
    return _with_stream(ep, "joint_pos", timestamps=ts)


def _frames(cam: Camera) -> FrameSource:
    """The frames of a camera to plant a defect in (a synthetic camera always has some)."""
    if cam.frames is None:
        raise ValueError(f"camera {cam.name} has no frames to plant a defect in")
    return cam.frames


@defect("video.frozen")
def _frozen(ep: Episode, rng: np.random.Generator) -> Episode:
    """The head camera repeats one frame for 1.5 s while the robot keeps moving."""
    cam = ep.cameras["cam_head"]
    frames = _frames_of(ep, "cam_head")
    i = cam.n_frames // 3
    k = int(1.5 * cam.rate_hz)
    frames[i:i + k] = frames[i]
    return _with_camera(ep, "cam_head", frames=ArrayFrames(frames))


@defect("video.dark")
def _dark(ep: Episode, rng: np.random.Generator) -> Episode:
    """The head camera goes nearly black for the last 40% of the episode (lights off)."""
    frames = _frames_of(ep, "cam_head")
    i = int(ep.cameras["cam_head"].n_frames * 0.6)
    frames[i:] = (frames[i:] // 25).astype(np.uint8)
    return _with_camera(ep, "cam_head", frames=ArrayFrames(frames))


# ------------------------------------------------------------------ structural corruptions
def drop_root_attribute(path: Path, attr: str) -> None:
    """Remove a required root attribute from a written recording (a ``schema.metadata`` case)."""
    import h5py

    with h5py.File(path, "r+") as f:
        del f.attrs[attr]


def truncate_file(path: Path, keep_fraction: float = 0.5) -> None:
    """Cut a written recording short, as an interrupted copy leaves it (``schema.unreadable``)."""
    size = Path(path).stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(int(size * keep_fraction))


# ------------------------------------------------------------ more planted defects, by check
def _state_span(ep: Episode, frac0: float, frac1: float) -> tuple[int, int]:
    s = ep.streams["joint_pos"]
    return int(s.n_samples * frac0), int(s.n_samples * frac1)


@defect("value.velocity_limit")
def _teleport(ep: Episode, rng: np.random.Generator) -> Episode:
    """One joint jumps 1.2 rad and stays there: a teleport far above its velocity limit."""
    s = ep.streams["joint_pos"]
    v = s.values.copy()
    i = s.n_samples // 2
    v[i:, 3] += 1.2 if v[i, 3] < 0 else -1.2
    return _with_stream(ep, "joint_pos", values=v)


@defect("value.effort_limit")
def _overload(ep: Episode, rng: np.random.Generator) -> Episode:
    """A knee torque 40% over its limit for a quarter of a second."""
    s = ep.streams["joint_effort"]
    prof = _profile_of(ep)
    j = next(k for k, n in enumerate(s.names) if "knee" in n) if prof else 0
    limit = prof.joints[j].effort if prof else 100.0
    v = s.values.copy()
    i = s.n_samples // 2
    v[i:i + max(int(0.25 * s.rate_hz), 1), j] = 1.4 * limit
    return _with_stream(ep, "joint_effort", values=v)


@defect("value.stale")
def _stale(ep: Episode, rng: np.random.Generator) -> Episode:
    """The state stops updating for 30% of the episode while the robot is commanded to move."""
    v = ep.streams["joint_pos"].values.copy()
    a, b = _state_span(ep, 0.4, 0.7)
    v[a:b] = v[a]
    return _with_stream(ep, "joint_pos", values=v)


@defect("value.spike")
def _spike(ep: Episode, rng: np.random.Generator) -> Episode:
    """A single sample of one joint jumps by 15% of its range and comes straight back."""
    s = ep.streams["joint_pos"]
    prof = _profile_of(ep)
    j = 1
    span = (prof.joints[j].upper - prof.joints[j].lower) if prof else 1.0
    v = s.values.copy()
    i = s.n_samples // 3
    v[i, j] += 0.15 * span * (1 if v[i, j] < (prof.joints[j].upper if prof else 0) else -1)
    return _with_stream(ep, "joint_pos", values=v)


@defect("motion.static")
def _static(ep: Episode, rng: np.random.Generator) -> Episode:
    """The state never moves (a robot left powered down while recording)."""
    s = ep.streams["joint_pos"]
    v = np.repeat(s.values[:1], s.n_samples, axis=0)
    v = v + rng.normal(0, 1e-5, size=v.shape)
    return _with_stream(ep, "joint_pos", values=v)


@defect("motion.idle")
def _idle(ep: Episode, rng: np.random.Generator) -> Episode:
    """Still for the first 40% and last 20% of the episode: idle over half the time."""
    a, b = _state_span(ep, 0.4, 0.8)
    v = ep.streams["joint_pos"].values.copy()
    v[:a] = v[a] + rng.normal(0, 1e-5, size=v[:a].shape)
    v[b:] = v[b - 1] + rng.normal(0, 1e-5, size=v[b:].shape)
    act = ep.streams["action"].values.copy()
    act[:a] = act[a]
    act[b:] = act[b - 1]
    ep = _with_stream(ep, "action", values=act)
    return _with_stream(ep, "joint_pos", values=v)


@defect("motion.jerk")
def _jerky(ep: Episode, rng: np.random.Generator) -> Episode:
    """Shaky teleoperation: noise of 5 mrad on every joint."""
    s = ep.streams["joint_pos"]
    return _with_stream(ep, "joint_pos", values=s.values + rng.normal(0, 5e-3, s.values.shape))


@defect("action.tracking")
def _late(ep: Episode, rng: np.random.Generator) -> Episode:
    """The state trails the command by 0.9 s (a laggy controller, or clocks out of step)."""
    a = ep.streams["action"]
    return _with_stream(ep, "action", timestamps=a.timestamps - 1_000_000_000)


@defect("action.saturation")
def _saturated(ep: Episode, rng: np.random.Generator) -> Episode:
    """One action channel clipped at a bound for most of the episode."""
    a = ep.streams["action"]
    v = a.values.copy()
    lo, hi = np.percentile(v[:, 2], [30, 70])
    v[:, 2] = np.clip(v[:, 2], lo, hi)
    return _with_stream(ep, "action", values=v)


@defect("time.rate")
def _wrong_rate(ep: Episode, rng: np.random.Generator) -> Episode:
    """The IMU declares 250 Hz but samples at 200 Hz."""
    return _with_stream(ep, "imu", rate_hz=250.0)


@defect("time.jitter")
def _jitter(ep: Episode, rng: np.random.Generator) -> Episode:
    """The velocity stream's clock wobbles by 40% of a period."""
    s = ep.streams["joint_vel"]
    ts = s.timestamps + rng.normal(0, 0.4 * s.period_ns, s.n_samples).astype(np.int64)
    ts = np.maximum.accumulate(ts + np.arange(s.n_samples))
    return _with_stream(ep, "joint_vel", timestamps=ts)


@defect("time.sync")
def _late_camera(ep: Episode, rng: np.random.Generator) -> Episode:
    """The wrist camera's clock is 300 ms behind the robot's."""
    return _with_camera(ep, "cam_wrist",
                        timestamps=ep.cameras["cam_wrist"].timestamps + 300_000_000)


@defect("episode.duration")
def _short(ep: Episode, rng: np.random.Generator) -> Episode:
    """Only the first 0.6 s survived."""
    streams = {}
    t_end = ep.streams["joint_pos"].timestamps[0] + 600_000_000
    for name, s in ep.streams.items():
        k = int(np.searchsorted(s.timestamps, t_end))
        streams[name] = replace(s, timestamps=s.timestamps[:k].copy(), values=s.values[:k].copy())
    return replace(ep, streams=streams, cameras={})


@defect("episode.success")
def _failed(ep: Episode, rng: np.random.Generator) -> Episode:
    return replace(ep, metadata=replace(ep.metadata, success=False))


def _map_frames(ep: Episode, name: str, fn: Callable[[np.ndarray, int], np.ndarray]) -> Episode:
    frames = np.stack([fn(f, i) for i, f in enumerate(_frames(ep.cameras[name]).iter_frames())])
    return _with_camera(ep, name, frames=ArrayFrames(frames))


@defect("video.overexposed")
def _blown(ep: Episode, rng: np.random.Generator) -> Episode:
    """The head camera is blown out for the middle third (sunlight through a window)."""
    n = ep.cameras["cam_head"].n_frames
    return _map_frames(ep, "cam_head", lambda f, i: np.full_like(f, 250)
                       if n // 3 <= i < 2 * n // 3 else f)


@defect("video.blur")
def _blur(ep: Episode, rng: np.random.Generator) -> Episode:
    """The head camera is out of focus for the second half."""
    import cv2

    n = ep.cameras["cam_head"].n_frames
    return _map_frames(ep, "cam_head", lambda f, i: cv2.GaussianBlur(f, (0, 0), 6)
                       if i >= n // 2 else f)


@defect("video.resolution")
def _wrong_size(ep: Episode, rng: np.random.Generator) -> Episode:
    """The head camera's frames are 80 px wide though 160 are declared."""
    return _map_frames(ep, "cam_head", lambda f, i: f[:, ::2])


@defect("video.frame_count")
def _dropped_frames(ep: Episode, rng: np.random.Generator) -> Episode:
    """The head camera delivered 10 frames fewer than it time-stamped."""
    return _with_camera(ep, "cam_head", frames=ArrayFrames(_frames_of(ep, "cam_head")[:-10]))


class _BrokenFrames:
    def __init__(self, good: int, source) -> None:
        self.good, self.source = good, source

    def iter_frames(self) -> Iterator[np.ndarray]:
        for i, f in enumerate(self.source.iter_frames()):
            if i == self.good:
                raise OSError("corrupt frame data")
            yield f

    def describe(self) -> str:
        return "frames that break mid-stream"


@defect("video.unreadable")
def _broken_stream(ep: Episode, rng: np.random.Generator) -> Episode:
    """The head camera's stream breaks after 20 frames (only in memory; on disk, truncate the
    sidecar instead)."""
    return _with_camera(ep, "cam_head", frames=_BrokenFrames(20, ep.cameras["cam_head"].frames))
