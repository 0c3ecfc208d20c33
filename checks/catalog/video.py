"""Video checks: one streaming pass per camera computes every per-frame figure.

Each camera is decoded once, one frame at a time, keeping only per-frame scalars, and the
cameras of an episode are decoded side by side, one thread each (the decoder and the figures'
kernel release the GIL, so two cameras on two cores take about the time of one): memory grows
with the number of cameras, never with their length. The pass is shared by the seven checks.
A compressed video is decoded straight to its luma (Y) plane, with no colour conversion. Every
figure (mean luma, mean absolute change from the previous frame, the same change in the most
changed 16×16 block, Laplacian variance) is taken in one pass over the grey frame at its own
resolution, scaled down (area average) to at most 640 px wide and never up: a 640x480 camera is
measured at 640x480, a 1280x720 one at 640x360. Thresholds are in grey levels of that frame.
Depth cameras get the decode, count and frozen checks only, their change measured on all 16
bits at full size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from checks.kernels.video import (
    BLOCK_PX,
    FrameDecodeError,
    block_max_abs_diff,
    blur_input,
    frame_figures,
    iter_grey_planes,
    laplacian_variance,
    mean_abs_diff,
    mean_level,
)
from checks.registry import Emit, EpisodeContext, episode_check
from schemas.episode import Camera
from schemas.findings import Finding
from schemas.limits import Limits
from schemas.quality_profile import CheckSettings

#: The checks whose settings decide what the shared camera pass keeps, or that another reads.
UNREADABLE = "video.unreadable"
FROZEN = "video.frozen"
DARK = "video.dark"
OVEREXPOSED = "video.overexposed"
BLUR = "video.blur"


@dataclass
class CameraScan:
    """What one pass over a camera leaves: per-frame scalars, in grey levels."""

    decoded: int = 0
    error: str | None = None
    first_shape: tuple[int, ...] | None = None
    luma: list[float] = field(default_factory=list)
    diff: list[float] = field(default_factory=list)  # vs the previous frame; the first is inf
    #: the largest mean change of one block vs the previous frame (what ``video.frozen`` reads)
    block_diff: list[float] = field(default_factory=list)
    sharpness: list[float] = field(default_factory=list)


def scan_camera(cam: Camera, want_luma: bool, want_blur: bool,
                block: int = BLOCK_PX) -> CameraScan:
    """Decode ``cam`` once, frame by frame, keeping only the figures the checks need (the
    change per ``block`` × ``block`` block is always kept: it costs no extra pass)."""
    out = CameraScan()
    if cam.frames is None:
        out.error = "it has no frames to decode (a missing sidecar or frames dataset)"
        return out
    want_luma = want_luma and not cam.is_depth
    want_blur = want_blur and not cam.is_depth
    diff, luma, sharp = out.diff.append, out.luma.append, out.sharpness.append
    block_diff = out.block_diff.append
    prev = None
    try:
        for plane in iter_grey_planes(cam.frames, depth=cam.is_depth):
            g = plane.pixels
            if out.first_shape is None:
                out.first_shape = tuple(g.shape)
            if g.dtype == np.uint8:
                g = blur_input(g)  # every figure on the same plane, <= 640 px wide
                level, change, worst, lap = frame_figures(g, prev, block)
            else:  # 16-bit (depth): the change on all 16 bits, at full size
                change = float("inf") if prev is None else mean_abs_diff(g, prev)
                worst = float("inf") if prev is None else block_max_abs_diff(g, prev, block)
                level = mean_level(g) if want_luma else 0.0
                lap = laplacian_variance(blur_input(g)) if want_blur else 0.0
            prev = g
            diff(change * plane.gain)
            block_diff(worst * plane.gain)
            if want_luma:
                luma((level - plane.offset) * plane.gain)
            if want_blur:
                sharp(lap * plane.gain * plane.gain)
            out.decoded += 1
    except FrameDecodeError as exc:
        out.error = str(exc)
    return out


def _cores() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


def scan_cameras(cams: Sequence[Camera], want_luma: bool, want_blur: bool,
                 workers: int | None = None, block: int = BLOCK_PX) -> list[CameraScan]:
    """:func:`scan_camera` for each of ``cams``, in that order, up to ``workers`` (default: the
    cores) at once. Each pass streams its own frames, so memory grows with the number of
    cameras scanned at once, never with their length.

    The decoders keep FFmpeg's frame threads even when the cameras alone could fill the
    cores: a scan thread then and again waits for the GIL (its per-frame Python), and the
    decoder threads keep the cores busy meanwhile. Measured on two loaded cores, two cameras
    side by side with frame threads took half the wall time of the same without them, for
    about 5% more CPU."""
    workers = min(len(cams), workers or _cores())
    if workers <= 1:
        return [scan_camera(c, want_luma, want_blur, block) for c in cams]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="video-scan") as pool:
        futures = [pool.submit(scan_camera, c, want_luma, want_blur, block) for c in cams]
        return [f.result() for f in futures]


def _block_px(ctx: EpisodeContext) -> int:
    """The frozen check's block side (the default when the check is not in the profile), at
    least 1 and at most a frame's greatest side: a block larger than the frame is the frame."""
    if FROZEN not in ctx.profile.checks:
        return BLOCK_PX
    side = max(Limits.max_frame_width, Limits.max_frame_height)
    return min(max(int(ctx.settings(FROZEN).params.get("block_px", BLOCK_PX)), 1), side)


def _scan(ctx: EpisodeContext, cam: Camera) -> CameraScan:
    """The camera's pass, shared by every video check: whichever runs first scans all the
    episode's cameras at once."""
    key = f"video.scan.{cam.name}"
    if key not in ctx.cache:
        luma = ctx.enabled(DARK) or ctx.enabled(OVEREXPOSED)
        todo = [c for c in ctx.episode.cameras.values()
                if f"video.scan.{c.name}" not in ctx.cache]
        scans = scan_cameras(todo, luma, ctx.enabled(BLUR), block=_block_px(ctx))
        for c, sc in zip(todo, scans, strict=True):
            ctx.cache[f"video.scan.{c.name}"] = sc
    scan: CameraScan = ctx.cache[key]
    return scan


def _cams(ctx: EpisodeContext) -> Iterator[tuple[Camera, CameraScan]]:
    for cam in ctx.episode.cameras.values():
        yield cam, _scan(ctx, cam)


def _t(cam: Camera, i: int) -> int | None:
    """Timestamp of frame ``i`` (clamped to the frames that have one)."""
    return _ts(cam, i) if cam.n_frames else None


def _ts(cam: Camera, i: int) -> int:
    """Timestamp of frame ``i`` of a camera with frames (clamped to them)."""
    return int(cam.timestamps[min(max(i, 0), cam.n_frames - 1)])


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) index pairs of the True runs of ``mask``."""
    if not mask.any():
        return []
    edges = np.diff(np.concatenate([[False], mask, [False]]).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


@episode_check(UNREADABLE, "sidecar or stored frames that fail to open or decode")
def unreadable(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    for cam, sc in _cams(ctx):
        error = sc.error
        if error is None and sc.decoded == 0 and cam.n_frames > 0 and cam.frames is not None:
            error = f"{cam.frames.describe()}: no frame could be decoded"
        if error is None:
            continue
        yield emit(f"camera {cam.name}: {error}", stream=cam.name, value=sc.decoded,
                   t_start_ns=_t(cam, sc.decoded), t_end_ns=_t(cam, cam.n_frames - 1))


@episode_check("video.frame_count", "decoded frames versus timestamps")
def frame_count(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    tol = int(st["tolerance_frames"])
    for cam, sc in _cams(ctx):
        if sc.error and ctx.enabled(UNREADABLE):
            continue  # a failed decode is reported once, as unreadable
        if abs(sc.decoded - cam.n_frames) > tol:
            yield emit(f"camera {cam.name}: {sc.decoded} frames decode but "
                       f"{cam.n_frames} timestamps are recorded (tolerance {tol})",
                       stream=cam.name, value=sc.decoded - cam.n_frames, threshold=tol)


@episode_check("video.resolution", "decoded frame size versus the declared width and height")
def resolution(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    for cam, sc in _cams(ctx):
        if sc.first_shape is None:
            continue
        h, w = sc.first_shape[0], sc.first_shape[1]
        if (w, h) != (cam.width, cam.height):
            yield emit(f"camera {cam.name}: frames decode at {w}x{h} but its width and "
                       f"height attributes declare {cam.width}x{cam.height}",
                       stream=cam.name, value=w * h, threshold=cam.width * cam.height)


def _robot_travel(ctx: EpisodeContext, t0: int, t1: int) -> float:
    """How far the joint that moved most travelled (max - min) between ``t0`` and ``t1``."""
    s = ctx.episode.primary_state
    if s is None or s.n_samples == 0:
        return 0.0
    i0, i1 = np.searchsorted(s.timestamps, [t0, t1], side="left")
    seg = s.values[i0:min(i1 + 1, s.n_samples)]
    if len(seg) < 2:
        return 0.0
    with np.errstate(all="ignore"):
        travel = np.nanmax(seg, axis=0) - np.nanmin(seg, axis=0)
    travel = travel[np.isfinite(travel)]
    return float(travel.max()) if travel.size else 0.0


@episode_check(FROZEN, "identical consecutive frames while the robot moves")
def frozen(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """Two frames are identical when no ``block_px`` block changes by more than
    ``max_block_diff`` grey levels on average: a whole-frame mean would call a small object
    moving over a still scene frozen, and a per-pixel test would take codec noise for motion.
    The robot must move (a joint travelling more than ``robot_motion_threshold``) during the
    frozen span."""
    max_diff, min_s = float(st["max_block_diff"]), float(st["min_duration_s"])
    motion = float(st["robot_motion_threshold"])
    for cam, sc in _cams(ctx):
        n = min(sc.decoded, cam.n_frames)
        if n < 2:
            continue
        # frame i shows what frame i-1 showed
        same = np.asarray(sc.block_diff[:n]) <= max_diff
        worst: tuple[int, int] | None = None
        frames = 0
        for a, b in _runs(same):
            t0, t1 = _ts(cam, a - 1), _ts(cam, b)
            if (t1 - t0) / 1e9 < min_s or _robot_travel(ctx, t0, t1) <= motion:
                continue
            frames += b - a + 2
            if worst is None or t1 - t0 > worst[1] - worst[0]:
                worst = (t0, t1)
        if worst is not None:
            dur = (worst[1] - worst[0]) / 1e9
            yield emit(f"camera {cam.name}: the image stops changing for {dur:.2f} s while "
                       f"the robot moves ({frames} frozen frames in all; limit {min_s:g} s)",
                       stream=cam.name, value=dur, threshold=min_s, t_start_ns=worst[0],
                       t_end_ns=worst[1])


def _share_check(ctx: EpisodeContext, st: CheckSettings, emit: Emit, series: str, below: bool,
                 what: str) -> Iterator[Finding]:
    """Flag a colour camera when more than ``max_share`` of its frames are beyond ``level``;
    the place is the longest run of such frames."""
    level, share_max = float(st["level"]), float(st["max_share"])
    for cam, sc in _cams(ctx):
        vals = np.asarray(getattr(sc, series))
        if cam.is_depth or len(vals) == 0:
            continue
        mask = vals < level if below else vals > level
        share = float(mask.mean())
        if share <= share_max:
            continue
        a, b = max(_runs(mask), key=lambda r: r[1] - r[0])
        yield emit(f"camera {cam.name}: {share:.0%} of frames are {what} {level:g} (limit "
                   f"{share_max:.0%} of frames); the longest run is frames {a}-{b}",
                   stream=cam.name, value=share, threshold=share_max,
                   t_start_ns=_t(cam, a), t_end_ns=_t(cam, b))


@episode_check(DARK, "share of frames with a very low mean luma")
def dark(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    yield from _share_check(ctx, st, emit, "luma", True, "dark, mean luma below")


@episode_check(OVEREXPOSED, "share of frames with a very high mean luma")
def overexposed(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    yield from _share_check(ctx, st, emit, "luma", False,
                            "overexposed, mean luma above")


@episode_check(BLUR, "share of blurred frames (low Laplacian variance)")
def blur(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    yield from _share_check(ctx, st, emit, "sharpness", True,
                            "blurred, Laplacian variance below")


__all__ = ["CameraScan", "scan_camera", "scan_cameras"]
