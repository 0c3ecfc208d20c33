"""Video checks: one streaming pass per camera computes every per-frame figure.

Frames are decoded one at a time and only scalars are kept (mean luma, change from the previous
frame, sharpness), so memory does not grow with the video. Depth cameras get the decode, count
and frozen checks only.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from checks.registry import EpisodeContext, episode_check
from schemas.episode import Camera
from schemas.findings import Finding, Severity

BLUR_MAX_WIDTH = 640


@dataclass
class CameraScan:
    decoded: int = 0
    error: str | None = None
    first_shape: tuple[int, ...] | None = None
    luma: list[float] = field(default_factory=list)
    diff: list[float] = field(default_factory=list)  # vs the previous frame; first is inf
    sharpness: list[float] = field(default_factory=list)


def _grey(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


_DONE = object()


def _prefetch(frames: Iterator[np.ndarray], depth: int = 8) -> Iterator[np.ndarray]:
    """Decode in a background thread while the caller measures (OpenCV releases the GIL),
    holding at most ``depth`` frames; a decoder error is re-raised in the caller."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for f in frames:
                if stop.is_set():
                    return
                q.put(f)
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            q.put(exc)

    th = threading.Thread(target=work, name="frame-decoder", daemon=True)
    th.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while th.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                th.join(timeout=0.05)


def scan_camera(cam: Camera, want_luma: bool, want_blur: bool) -> CameraScan:
    out = CameraScan()
    if cam.frames is None:
        out.error = "no frames to decode"
        return out
    prev = None
    # every figure is taken on grey: let the source convert straight from its decoder
    grey_iter = getattr(cam.frames, "iter_grey", None)
    frames = grey_iter() if grey_iter is not None and not cam.is_depth else \
        cam.frames.iter_frames()
    try:
        for frame in _prefetch(frames):
            if out.first_shape is None:
                out.first_shape = tuple(frame.shape)
            g = _grey(frame)
            if prev is None or prev.shape != g.shape:
                out.diff.append(float("inf"))
            else:
                out.diff.append(float(cv2.absdiff(g, prev).mean()))
            prev = g
            if want_luma:
                out.luma.append(float(cv2.mean(g)[0]))
            if want_blur:
                small = g
                if g.shape[1] > BLUR_MAX_WIDTH:
                    scale = BLUR_MAX_WIDTH / g.shape[1]
                    small = cv2.resize(g, (BLUR_MAX_WIDTH, max(int(g.shape[0] * scale), 1)),
                                       interpolation=cv2.INTER_AREA)
                _m, sd = cv2.meanStdDev(cv2.Laplacian(small, cv2.CV_16S))
                out.sharpness.append(float(sd[0, 0]) ** 2)
            out.decoded += 1
    except Exception as exc:  # decoders raise many types; all mean "unreadable here"
        out.error = f"decoding failed after {out.decoded} frame(s): {exc}"
    return out


def _scan(ctx: EpisodeContext, cam: Camera) -> CameraScan:
    key = f"video.scan.{cam.name}"
    if key not in ctx.cache:
        colour = not cam.is_depth
        luma = colour and any(ctx.settings(c).enabled for c in ("video.dark",
                                                                "video.overexposed"))
        blur = colour and ctx.settings("video.blur").enabled
        ctx.cache[key] = scan_camera(cam, luma, blur)
    return ctx.cache[key]


def _cams(ctx: EpisodeContext) -> Iterator[tuple[Camera, CameraScan]]:
    for cam in ctx.episode.cameras.values():
        yield cam, _scan(ctx, cam)


def _t(cam: Camera, i: int) -> int | None:
    if cam.n_frames == 0:
        return None
    return int(cam.timestamps[min(max(i, 0), cam.n_frames - 1)])


@episode_check("video.unreadable", "sidecar or stored frames that fail to open or decode")
def unreadable(ctx: EpisodeContext) -> Iterator[Finding]:
    sev = ctx.severity("video.unreadable")
    for cam, sc in _cams(ctx):
        if sc.error or (sc.decoded == 0 and cam.n_frames > 0):
            where = cam.frames.describe() if cam.frames is not None else cam.name
            yield Finding("video.unreadable", sev,
                          f"{cam.name}: {where}: {sc.error or 'no frame could be decoded'}",
                          stream=cam.name, value=sc.decoded, t_start_ns=_t(cam, sc.decoded),
                          t_end_ns=_t(cam, cam.n_frames - 1))


@episode_check("video.frame_count", "decoded frames versus timestamps")
def frame_count(ctx: EpisodeContext) -> Iterator[Finding]:
    st = ctx.settings("video.frame_count")
    tol = int(st["tolerance_frames"])
    for cam, sc in _cams(ctx):
        if sc.error:
            continue
        if abs(sc.decoded - cam.n_frames) > tol:
            yield Finding("video.frame_count", st.severity,
                          f"{cam.name}: {sc.decoded} frames decoded but {cam.n_frames} "
                          f"timestamps recorded (tolerance {tol})", stream=cam.name,
                          value=sc.decoded - cam.n_frames, threshold=tol)


@episode_check("video.resolution", "decoded frame size versus the declared width and height")
def resolution(ctx: EpisodeContext) -> Iterator[Finding]:
    sev = ctx.severity("video.resolution")
    for cam, sc in _cams(ctx):
        if sc.first_shape is None:
            continue
        h, w = sc.first_shape[0], sc.first_shape[1]
        if (w, h) != (cam.width, cam.height):
            yield Finding("video.resolution", sev,
                          f"{cam.name}: frames decode at {w}x{h} but attrs declare "
                          f"{cam.width}x{cam.height}", stream=cam.name, value=w * h,
                          threshold=cam.width * cam.height)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) index pairs of the True runs of ``mask``."""
    if not mask.any():
        return []
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _robot_moves(ctx: EpisodeContext, t0: int, t1: int, threshold: float) -> bool:
    s = ctx.episode.primary_state
    if s is None:
        return False
    i0, i1 = np.searchsorted(s.timestamps, [t0, t1])
    seg = s.values[i0:i1 + 1]
    if len(seg) < 2:
        return False
    with np.errstate(all="ignore"):
        return bool(np.nanmax(np.nanmax(seg, axis=0) - np.nanmin(seg, axis=0)) > threshold)


@episode_check("video.frozen", "identical consecutive frames while the robot moves")
def frozen(ctx: EpisodeContext) -> Iterator[Finding]:
    st = ctx.settings("video.frozen")
    max_diff, min_s = float(st["max_mean_diff"]), float(st["min_duration_s"])
    motion = float(st["robot_motion_threshold"])
    for cam, sc in _cams(ctx):
        n = min(sc.decoded, cam.n_frames)
        if n < 2:
            continue
        same = np.asarray(sc.diff[:n]) < max_diff  # frame i equals frame i-1
        worst = None
        total = 0
        for a, b in _runs(same):
            t0, t1 = _t(cam, a - 1), _t(cam, b)
            if (t1 - t0) / 1e9 < min_s or not _robot_moves(ctx, t0, t1, motion):
                continue
            total += b - a + 2
            if worst is None or t1 - t0 > worst[1] - worst[0]:
                worst = (t0, t1)
        if worst:
            dur = (worst[1] - worst[0]) / 1e9
            yield Finding("video.frozen", st.severity,
                          f"{cam.name}: the image stops changing for {dur:.2f} s while the "
                          f"robot moves ({total} frozen frames in all; limit {min_s:g} s)",
                          stream=cam.name, value=dur, threshold=min_s, t_start_ns=worst[0],
                          t_end_ns=worst[1])


def _share_check(ctx: EpisodeContext, check_id: str, series: str, below: bool,
                 what: str) -> Iterator[Finding]:
    st = ctx.settings(check_id)
    level, share_max = float(st["level"]), float(st["max_share"])
    for cam, sc in _cams(ctx):
        vals = np.asarray(getattr(sc, series))
        if cam.is_depth or len(vals) == 0:
            continue
        mask = vals < level if below else vals > level
        share = float(mask.mean())
        if share > share_max:
            idx = np.flatnonzero(mask)
            yield Finding(check_id, st.severity,
                          f"{cam.name}: {share:.0%} of frames are {what} (limit "
                          f"{share_max:.0%}); the first at frame {idx[0]}", stream=cam.name,
                          value=share, threshold=share_max, t_start_ns=_t(cam, int(idx[0])),
                          t_end_ns=_t(cam, int(idx[-1])))


@episode_check("video.dark", "share of frames with a very low mean luma")
def dark(ctx: EpisodeContext) -> Iterator[Finding]:
    st = ctx.settings("video.dark")
    yield from _share_check(ctx, "video.dark", "luma", True,
                            f"dark (mean luma below {float(st['level']):g})")


@episode_check("video.overexposed", "share of frames with a very high mean luma")
def overexposed(ctx: EpisodeContext) -> Iterator[Finding]:
    st = ctx.settings("video.overexposed")
    yield from _share_check(ctx, "video.overexposed", "luma", False,
                            f"overexposed (mean luma above {float(st['level']):g})")


@episode_check("video.blur", "share of blurred frames (low Laplacian variance)")
def blur(ctx: EpisodeContext) -> Iterator[Finding]:
    st = ctx.settings("video.blur")
    yield from _share_check(ctx, "video.blur", "sharpness", True,
                            f"blurred (Laplacian variance below {float(st['level']):g})")


__all__ = ["CameraScan", "Severity", "scan_camera"]
