"""Value checks on streams: non-finite numbers, joint limits, stale sensors and spikes."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from checks.kernels.segments import column_percentiles
from checks.kernels.shared import bounded_count, contiguous, summary, within
from checks.kernels.values import scan_limits
from checks.registry import Emit, EpisodeContext, episode_check
from schemas.episode import Stream
from schemas.findings import Finding, Severity
from schemas.quality_profile import CheckSettings


def _fixed(x: float, places: int) -> str:
    """``x`` with ``places`` decimals, or in exponent form where that would print hundreds of
    digits (a corrupt file's 1e300 rad)."""
    return f"{x:.{places}f}" if abs(x) < 1e6 else f"{x:.{places}e}"


@episode_check("value.nonfinite", "NaN or infinite numbers in any stream")
def nonfinite(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    for s in ctx.episode.streams.values():
        r = summary(ctx.cache, s).nonfinite
        if r.total > 0:
            a, b = r.first, r.last
            yield emit(
                f"{s.name}: {r.total} value(s) are NaN or infinite; the first run spans "
                f"samples {a}–{b}",
                stream=s.name, value=r.total, threshold=0,
                t_start_ns=int(s.timestamps[a]), t_end_ns=int(s.timestamps[b]))


def _limited(s: Stream) -> bool:
    return s.kind == "joint_position" or (s.kind == "action" and s.space == "joint_position")


@episode_check("value.joint_limit", "joint positions beyond the robot profile's limits",
               needs_robot=True)
def joint_limit(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """Applies to ``joint_position`` streams and joint-space position actions, with the
    profile's limits; prismatic and normalised joints use ``tolerance_m``."""
    if ctx.robot is None:
        return
    tol_rad, tol_m = float(st["tolerance_rad"]), float(st["tolerance_m"])
    for s in ctx.episode.streams.values():
        if not _limited(s):
            continue
        lo, hi, _vel = ctx.robot.limits_for(s.names)
        joints = [ctx.robot.joint(n) for n in s.names]
        units = [spec.unit if spec else "rad" for spec in joints]
        tol = np.array([tol_rad if u == "rad" else tol_m for u in units])
        if within(summary(ctx.cache, s).bounds, lo - tol, hi + tol):
            continue  # the column bounds are inside the limits: no excursion to locate
        r = scan_limits(contiguous(s.values), lo, hi, tol)
        if r.rows <= 0:
            continue
        j, a, b = r.column, r.first, r.last
        unit = "rad" if units[j] == "rad" else units[j]
        yield emit(
            f"{s.name}: joint {s.names[j]} goes {_fixed(r.excess, 3)} {unit} beyond its limits "
            f"[{lo[j]:.3f}, {hi[j]:.3f}] (tolerance {tol[j]:g}); {int(r.rows)} sample(s) out of "
            f"range, first from sample {a} to {b}",
            stream=s.name, value=r.excess, threshold=tol[j],
            t_start_ns=int(s.timestamps[a]), t_end_ns=int(s.timestamps[b]))


@episode_check("value.velocity_limit", "joint speeds above the profile's velocity limits",
               needs_robot=True)
def velocity_limit(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """Uses finite differences between consecutive samples and skips differences over less
    than ``min_dt_periods`` of a period (duplicate or jittered stamps are not teleports)."""
    if ctx.robot is None:
        return
    factor, min_dt = float(st["limit_factor"]), float(st["min_dt_periods"])
    from checks.kernels.motion import scan_speeds

    for s in ctx.episode.streams.values():
        if s.kind != "joint_position":
            continue
        _lo, _hi, vel = ctx.robot.limits_for(s.names)
        r = scan_speeds(s.timestamps, contiguous(s.values), vel * factor, min_dt * s.period_ns)
        if r.intervals <= 0:
            continue
        j, a, b = r.column, r.first, r.last
        yield emit(
            f"{s.name}: joint {s.names[j]} moves at {_fixed(r.speed, 2)}/s, "
            f"{_fixed(r.ratio, 1)}x its velocity limit of {vel[j]:g} (allowed {factor:g}x); "
            f"{int(r.intervals)} interval(s) over, the first at samples {a}–{b}",
            stream=s.name, value=r.speed, threshold=vel[j] * factor,
            t_start_ns=int(s.timestamps[a]), t_end_ns=int(s.timestamps[b]))


@episode_check("value.effort_limit", "joint efforts beyond the profile's effort limits",
               needs_robot=True)
def effort_limit(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    if ctx.robot is None:
        return
    tol = float(st["tolerance_fraction"])
    for s in ctx.episode.streams.values():
        if s.kind != "joint_effort":
            continue
        eff = ctx.robot.efforts_for(s.names)
        eff = np.where(np.isfinite(eff), eff, np.nan)
        slack = np.abs(eff) * tol
        if within(summary(ctx.cache, s).bounds, -eff - slack, eff + slack):
            continue
        r = scan_limits(contiguous(s.values), -eff, eff, slack)
        if r.rows <= 0:
            continue
        j, a, b = r.column, r.first, r.last
        yield emit(
            f"{s.name}: joint {s.names[j]} effort exceeds its limit of {eff[j]:g} by "
            f"{r.excess:.3g}; {int(r.rows)} sample(s) over, the first at samples {a}–{b}",
            stream=s.name, value=r.excess + eff[j], threshold=eff[j],
            t_start_ns=int(s.timestamps[a]), t_end_ns=int(s.timestamps[b]))


_SENSOR_KINDS = ("joint_position", "joint_velocity", "joint_effort", "imu", "force_torque",
                 "tactile", "ee_pose", "gripper")


def _commanded_motion(ctx: EpisodeContext, t0: int, t1: int, threshold: float) -> bool:
    """Does any action channel change by more than ``threshold`` between t0 and t1?"""
    for a in ctx.episode.streams_of_kind("action"):
        i0, i1 = np.searchsorted(a.timestamps, [t0, t1])
        seg = a.values[i0:max(i1, i0 + 1) + 1]
        if len(seg) >= 2 and np.nanmax(np.nanmax(seg, axis=0) - np.nanmin(seg, axis=0)) \
                > threshold:
            return True
    return False


@episode_check("value.stale", "a sensor repeating identical rows while the robot is commanded")
def stale(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """Needs whole rows repeated bit for bit *and* an action that changes during the run: a
    still robot with quantised encoders is not stale. An error above ``error_share``."""
    min_s, err_share = float(st["min_duration_s"]), float(st["error_share"])
    motion = float(st["action_motion_threshold"])
    from checks.kernels.motion import repeat_runs

    for s in ctx.episode.streams.values():
        if s.kind not in _SENSOR_KINDS or s.n_samples < 3:
            continue
        # rows a stale run needs, bounded by the rows present (an absurd rate_hz would
        # otherwise overflow the kernel's int64 argument)
        min_len = bounded_count(min_s * s.rate_hz * 0.5, 2, s.n_samples + 1, floor=True)
        runs = repeat_runs(contiguous(s.values), min_len)
        stale_rows, longest = 0, None
        for a, b in runs:
            t0, t1 = int(s.timestamps[a]), int(s.timestamps[b])
            if (t1 - t0) / 1e9 < min_s or not _commanded_motion(ctx, t0, t1, motion):
                continue
            stale_rows += int(b - a + 1)
            if longest is None or t1 - t0 > longest[1] - longest[0]:
                longest = (t0, t1)
        if not stale_rows or longest is None:
            continue
        share = stale_rows / s.n_samples
        sev = Severity.ERROR if share > err_share else None
        yield emit(
            f"{s.name}: {stale_rows} rows ({share:.1%}) repeat unchanged for at least "
            f"{min_s:g} s while the action commands motion; the longest run lasts "
            f"{(longest[1] - longest[0]) / 1e9:.2f} s",
            severity=sev, stream=s.name, value=share, threshold=err_share,
            t_start_ns=longest[0], t_end_ns=longest[1])


_SPAN_PCTS = np.array([1.0, 99.0])


def _percentile_span(vals: np.ndarray, clean: bool) -> np.ndarray:
    """Per column, the spread between the 1st and 99th percentiles, NaN ignored: numpy's
    figures bit for bit, without ``nanpercentile``'s per-column Python walk when there is no
    NaN (``clean``: the stream summary counted no non-finite value)."""
    sub = np.ascontiguousarray(vals)
    if not clean and np.isnan(sub).any():
        p1, p99 = np.nanpercentile(sub, [1, 99], axis=0)
    else:
        p1, p99 = column_percentiles(sub, np.array([0, len(sub)]), _SPAN_PCTS)[0]
    span: np.ndarray = p99 - p1
    return span


@episode_check("value.spike", "isolated samples far from their rolling median")
def spike(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """Applies to joint positions and joint-space actions only (IMU, force and tactile signals
    spike legitimately on contact). The channel's range is its profile span for a joint, else
    its 1st–99th percentile span in the episode (so it needs no robot profile); a departure
    below ``min_abs_deviation`` is never a spike, and the MAD is never taken below the
    channel's quantisation step (its smallest non-zero change), so a still, digitised channel
    stepping by one count is not flagged."""
    window_s, k_mad = float(st["window_s"]), float(st["mad_factor"])
    frac, min_abs = float(st["min_range_fraction"]), float(st["min_abs_deviation"])
    from checks.kernels.motion import scan_spikes

    for s in ctx.episode.streams.values():
        if not (s.kind == "joint_position" or (s.kind == "action" and s.is_joint_space)):
            continue
        half = bounded_count(window_s * s.rate_hz / 2, 1, s.n_samples)
        if s.n_samples < 2 * half + 1:
            continue
        vals = contiguous(s.values)
        summ = summary(ctx.cache, s)
        assert summ.min_step is not None  # a joint-space stream's summary has its changes
        span = np.full(len(s.names), np.nan)
        if ctx.robot is not None and s.space != "joint_velocity":
            lo, hi, _ = ctx.robot.limits_for(s.names)
            span = hi - lo
        missing = ~np.isfinite(span)
        if missing.any():
            span[missing] = _percentile_span(vals[:, missing], clean=summ.nonfinite.total == 0)
        # a near-still channel's percentile span is tiny: never call a wiggle below
        # min_abs_deviation a spike
        r = scan_spikes(vals, half, k_mad, np.maximum(span * frac, min_abs), summ.min_step)
        if r.spikes <= 0:
            continue
        i, j = r.row, r.column
        yield emit(
            f"{s.name}: {int(r.spikes)} sample(s) jump away from their {window_s:g} s rolling "
            f"median by more than {k_mad:g} MADs and {frac:.0%} of the channel's range; the "
            f"first is joint {s.names[j]} at sample {i}",
            stream=s.name, value=r.spikes, threshold=frac,
            t_start_ns=int(s.timestamps[i]), t_end_ns=int(s.timestamps[i]))
