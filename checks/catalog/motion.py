"""Motion checks on the joint_position streams: never moving, idle head and tail, jerk."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from checks.kernels.motion import active_span, rms_jerk
from checks.kernels.shared import bounded_count, contiguous, summary
from checks.registry import Emit, EpisodeContext, episode_check
from schemas.episode import Stream
from schemas.findings import Finding, Severity
from schemas.quality_profile import CheckSettings


def _states(ctx: EpisodeContext) -> list[Stream]:
    return [s for s in ctx.episode.streams_of_kind("joint_position") if s.n_samples >= 2]


@episode_check("motion.static", "a joint_position stream that never moves")
def static(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    min_range = float(st["min_range"])
    for s in _states(ctx):
        bounds = summary(ctx.cache, s).bounds
        ranges = bounds[:, 1] - bounds[:, 0]
        if np.all(~np.isfinite(ranges) | (ranges < min_range)):
            widest = float(np.nanmax(ranges)) if np.isfinite(ranges).any() else 0.0
            yield emit(
                f"{s.name}: no joint moves more than {widest:.2g} over the episode (every "
                f"channel's range is below {min_range:g}): the robot never moved",
                stream=s.name, value=widest, threshold=min_range,
                t_start_ns=int(s.timestamps[0]), t_end_ns=int(s.timestamps[-1]))


@episode_check("motion.idle", "still spans at the start and end of the episode")
def idle(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """Reports the *active* span as its place, so exports can trim to it (``--trim-idle``); a
    warning when idle exceeds ``warn_share`` of the episode."""
    speed, warn_share = float(st["speed_threshold"]), float(st["warn_share"])
    min_idle, base_s = float(st["min_idle_s"]), float(st["speed_baseline_s"])
    s = ctx.episode.primary_state
    if s is None or s.n_samples < 3:
        return
    # samples per baseline, bounded by the samples present (a rate of 1e300 Hz declares more
    # than an int64 holds; the kernel needs k < n to find anything anyway)
    k = bounded_count(base_s * s.rate_hz, 1, s.n_samples)
    a, b = active_span(s.timestamps, contiguous(s.values), speed, k)
    t0, t1 = int(s.timestamps[0]), int(s.timestamps[-1])
    total = (t1 - t0) / 1e9
    if a < 0:
        return  # never moves: motion.static's finding
    head = (int(s.timestamps[a]) - t0) / 1e9
    tail = (t1 - int(s.timestamps[b])) / 1e9
    idle_s = head + tail
    if idle_s < min_idle or total <= 0:
        return
    share = idle_s / total
    sev = Severity.WARNING if share > warn_share else None
    yield emit(
        f"{s.name}: idle for {head:.2f} s at the start and {tail:.2f} s at the end "
        f"({share:.0%} of the episode; every joint slower than {speed:g}/s); the active span "
        "is marked for trimming",
        severity=sev, stream=s.name, value=share, threshold=warn_share,
        t_start_ns=int(s.timestamps[a]), t_end_ns=int(s.timestamps[b]))


@episode_check("motion.jerk", "RMS jerk of the joint trajectories, for ranking smoothness")
def jerk(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    s = ctx.episode.primary_state
    if s is None or s.n_samples < 4:
        return
    value = rms_jerk(s.timestamps, contiguous(s.values))
    yield emit(
        f"{s.name}: RMS jerk {value:.4g}/s³ over all joints (for ranking smoothness)",
        stream=s.name, value=value)
