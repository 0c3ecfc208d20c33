"""Timing checks on every stream's and camera's clock: order, gaps, rate, jitter, sync.

Each clock is read in one fused pass that serves the ordering, gap, rate and jitter checks
(gaps are told apart with ``time.gap``'s ``max_gap_periods``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from checks.kernels.timing import ClockScan, scan_clock
from checks.registry import Emit, EpisodeContext, episode_check
from schemas.findings import Finding, Severity
from schemas.quality_profile import CheckSettings

#: The gap check, whose ``max_gap_periods`` the shared clock scan uses for all four checks.
GAP = "time.gap"


def _clocks(ctx: EpisodeContext) -> Iterator[tuple[str, np.ndarray, float]]:
    for s in ctx.episode.streams.values():
        yield s.name, s.timestamps, s.rate_hz
    for c in ctx.episode.cameras.values():
        yield c.name, c.timestamps, c.rate_hz


def _scans(ctx: EpisodeContext) -> dict[str, tuple[ClockScan, np.ndarray, float]]:
    """One fused scan per clock, shared by the four clock checks."""
    key = "timing.scans"
    if key not in ctx.cache:
        factor = float(ctx.settings(GAP)["max_gap_periods"])
        ctx.cache[key] = {
            name: (scan_clock(ts, 1e9 / rate, factor), ts, rate)
            for name, ts, rate in _clocks(ctx)
        }
    scans: dict[str, tuple[ClockScan, np.ndarray, float]] = ctx.cache[key]
    return scans


@episode_check("time.non_monotonic", "consecutive timestamps that do not increase")
def non_monotonic(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    for name, (r, ts, _rate) in _scans(ctx).items():
        if r.non_monotonic > 0:
            i = r.first_non_monotonic
            yield emit(
                f"{name}: {int(r.non_monotonic)} timestamp step(s) do not increase; the first "
                f"goes from {int(ts[i])} to {int(ts[i + 1])} ns at sample {i}",
                stream=name, value=r.non_monotonic, threshold=0,
                t_start_ns=int(min(ts[i], ts[i + 1])), t_end_ns=int(max(ts[i], ts[i + 1])))


@episode_check(GAP, "samples missing where consecutive timestamps are too far apart")
def gap(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """A difference above ``max_gap_periods`` nominal periods is a gap; the finding is an error
    when the gaps lose more than ``error_missing_share`` of the stream's samples."""
    factor, err_share = float(st["max_gap_periods"]), float(st["error_missing_share"])
    for name, (r, ts, rate) in _scans(ctx).items():
        if r.gaps <= 0:
            continue
        # a gap's missing count is its length over the declared period: bounded so that an
        # absurd rate_hz (1e300 Hz) reports a huge count rather than crashing on infinity
        missing = int(min(r.missing, 2.0**62))
        share = missing / (len(ts) + missing)
        i = r.longest_gap_at
        sev = Severity.ERROR if share > err_share else None
        yield emit(
            f"{name}: {int(r.gaps)} gap(s) longer than {factor:g} periods lose {missing} samples "
            f"({share:.1%} of the stream, error above {err_share:.0%}); the longest lasts "
            f"{r.longest_gap_ns / 1e6:.1f} ms at {rate:g} Hz",
            severity=sev, stream=name, value=missing, threshold=err_share, t_start_ns=int(ts[i]),
            t_end_ns=int(ts[i + 1]))


@episode_check("time.rate", "effective sampling rate versus the declared rate_hz")
def rate(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """Measured over the regular intervals only, so a gap is reported once, by ``time.gap``."""
    tol = float(st["max_rate_error"])
    for name, (r, ts, declared) in _scans(ctx).items():
        if r.regular < 2 or r.regular_sum_ns <= 0:
            continue
        # over regular intervals only: gaps are time.gap's
        effective = 1e9 * r.regular / r.regular_sum_ns
        err = abs(effective - declared) / declared
        if err > tol:
            yield emit(
                f"{name}: samples arrive at {effective:.3g} Hz but rate_hz declares "
                f"{declared:g} Hz ({err:.1%} off, limit {tol:.0%})",
                stream=name, value=effective, threshold=declared,
                t_start_ns=int(ts[0]), t_end_ns=int(ts[-1]))


@episode_check("time.jitter", "spread of the sampling intervals, gaps excluded")
def jitter(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    limit = float(st["max_jitter_periods"])
    for name, (r, ts, declared) in _scans(ctx).items():
        n = r.regular
        if n < 3:
            continue
        mean = r.regular_sum_ns / n
        var = max(r.regular_sum_sq / n - mean * mean, 0.0)
        std = math.sqrt(var)
        period = 1e9 / declared
        if std > limit * period:
            yield emit(
                f"{name}: the sampling interval varies by {std / 1e6:.2f} ms (std), over "
                f"{limit:.0%} of the {period / 1e6:.2f} ms period",
                stream=name, value=std / 1e9, threshold=limit * period / 1e9,
                t_start_ns=int(ts[0]), t_end_ns=int(ts[-1]))


@episode_check("time.sync", "start and end of every stream and camera against the state")
def sync(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """Compares each stream's and camera's first and last timestamps with the reference
    ``joint_position`` stream, allowing one nominal period of the coarser of the two (a 30 Hz
    camera that stops one frame early is fine); an error above ``error_offset_s``."""
    warn_s, err_s = float(st["warn_offset_s"]), float(st["error_offset_s"])
    ref = ctx.episode.primary_state
    if ref is None or ref.n_samples == 0:
        return
    r0, r1 = int(ref.timestamps[0]), int(ref.timestamps[-1])
    for name, ts, rate_hz in _clocks(ctx):
        if name == ref.name or len(ts) == 0:
            continue
        start_off = int(ts[0]) - r0
        end_off = int(ts[-1]) - r1
        worst = max(abs(start_off), abs(end_off))
        allowance = max(1.0 / rate_hz, 1.0 / ref.rate_hz)
        off_s = worst / 1e9
        if off_s <= warn_s + allowance:
            continue
        sev = Severity.ERROR if off_s > err_s + allowance else None
        where = "starts" if abs(start_off) >= abs(end_off) else "ends"
        off = start_off if where == "starts" else end_off
        t_a, t_b = (r0, int(ts[0])) if where == "starts" else (r1, int(ts[-1]))
        yield emit(
            f"{name} {where} {off / 1e6:+.1f} ms from {ref.name} (warning above "
            f"{(warn_s + allowance) * 1e3:.0f} ms, error above {(err_s + allowance) * 1e3:.0f} ms)",
            severity=sev, stream=name, value=off_s, threshold=warn_s + allowance,
            t_start_ns=min(t_a, t_b), t_end_ns=max(t_a, t_b))
