"""Action checks: does the state follow the command, and is the command pinned at a bound?"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from checks.kernels.motion import best_lag, center_columns, decimate_sum, resample_diff
from checks.kernels.shared import contiguous, summary
from checks.kernels.stats import scan_saturation
from checks.registry import Emit, EpisodeContext, episode_check
from schemas.findings import Finding
from schemas.quality_profile import CheckSettings

_MAX_CHANNELS = 8
#: Analysis grid points allowed per sample present (state and action together): the grid is
#: at most this much finer than the data, so its memory is bounded by the data, not the span.
_GRID_PER_SAMPLE = 4


@episode_check("action.tracking", "lag of the state behind a joint-space position action")
def tracking(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """Matches action and state channels by joint name, picks the channels the operator moved
    most (at most 8), resamples both onto one grid of at most ``analysis_rate_hz``, and
    estimates the lag of the state behind the action by cross-correlating their velocities over
    ±``search_s`` (coarse at a fifth of the rate, then fine around the coarse best). A best
    correlation below ``min_correlation`` means the state does not follow the action at all
    (mismatched streams); the finding's value is the lag in seconds (positive: the state
    trails). The grid holds at most 4 points per sample present (state and action together), so
    its size follows the data, not the time it spans; samples too sparse to resolve a lag
    within ``search_s`` (or fewer than 10 grid points) are not analysed."""
    lag_min, lag_max = float(st["min_lag_s"]), float(st["max_lag_s"])
    search, min_corr = float(st["search_s"]), float(st["min_correlation"])
    rate = float(st["analysis_rate_hz"])
    state = ctx.episode.primary_state
    if state is None or state.n_samples < 10:
        return
    for act in ctx.episode.streams_of_kind("action"):
        if act.space != "joint_position":
            continue
        shared = [n for n in act.names if n in state.names]
        if not shared:
            yield emit(
                f"{act.name}: none of its joints appear in {state.name}, so the state cannot "
                "follow it (mismatched action and state)", stream=act.name)
            continue
        t0 = max(int(state.timestamps[0]), int(act.timestamps[0]))
        t1 = min(int(state.timestamps[-1]), int(act.timestamps[-1]))
        if t1 - t0 < 2e9:
            continue
        step = 1.0 / min(rate, state.rate_hz)
        ai = np.array([act.names.index(n) for n in shared], dtype=np.int64)
        si = np.array([state.names.index(n) for n in shared], dtype=np.int64)
        bounds = summary(ctx.cache, act).bounds[ai]
        if not (bounds[:, 1] - bounds[:, 0] > 0).any():
            continue  # the command never moves: nothing to follow
        # the channels the operator moved most carry the lag; a few are enough
        spread = summary(ctx.cache, act).diff_spread
        assert spread is not None  # a joint-space stream's summary has its changes
        spread = spread[ai]
        keep = np.argsort(-np.nan_to_num(spread, nan=-1.0), kind="stable")[:_MAX_CHANNELS]
        n = int((t1 - t0) / 1e9 / step) + 1
        # the grid's size follows the samples present, not the time they span: 20 samples
        # spread over a day must not become millions of grid points (memory grows with n)
        present = int(np.searchsorted(state.timestamps, t1, side="right")
                      - np.searchsorted(state.timestamps, t0, side="left")
                      + np.searchsorted(act.timestamps, t1, side="right")
                      - np.searchsorted(act.timestamps, t0, side="left"))
        cap = _GRID_PER_SAMPLE * present
        if n > cap:
            n = cap
            step = (t1 - t0) / 1e9 / (n - 1)
        if n < 10 or search / step < 2:
            continue  # too few points, or too sparse to resolve a lag inside the search window
        # both signals differenced on one grid, only the kept channels: no copy of a stream
        da = resample_diff(act.timestamps, contiguous(act.values), ai[keep], t0, step * 1e9, n)
        ds = resample_diff(state.timestamps, contiguous(state.values), si[keep], t0, step * 1e9, n)
        center_columns(da)
        center_columns(ds)
        # coarse to fine: the whole search at a fifth of the rate, then one coarse step and
        # two samples either side of the coarse best
        # a lag longer than half the grid leaves too little overlap to measure: the search
        # never outgrows the data, whatever ``search_s`` says
        k = min(int(round(search / step)), n // 2)
        coarse = 5
        dac = decimate_sum(da, coarse)
        dsc = decimate_sum(ds, coarse)
        kc = max(k // coarse, 1)
        lag_c, _ = best_lag(dac, dsc, -kc, kc)
        centre = int(lag_c) * coarse
        lag_k, corr = best_lag(da, ds, max(centre - coarse - 2, -k), min(centre + coarse + 2, k))
        lag = lag_k * step
        if corr < min_corr:
            yield emit(
                f"{state.name} does not follow {act.name}: best correlation {corr:.2f} (below "
                f"{min_corr:g}) — mismatched action and state", stream=act.name, value=lag,
                threshold=lag_max, t_start_ns=t0, t_end_ns=t1)
        elif not lag_min <= lag <= lag_max:
            yield emit(
                f"{state.name} follows {act.name} with a lag of {lag:+.3f} s, outside "
                f"{lag_min:g}–{lag_max:g} s", stream=act.name, value=lag, threshold=lag_max,
                t_start_ns=t0, t_end_ns=t1)


@episode_check("action.saturation", "action channels pinned at their own min or max")
def saturation(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    limit = float(st["max_share"])
    for act in ctx.episode.streams_of_kind("action"):
        r = scan_saturation(contiguous(act.values), summary(ctx.cache, act).bounds)
        bad = [j for j in range(len(r.share)) if r.varied[j] > 0 and r.share[j] > limit]
        if not bad:
            continue
        worst = max(bad, key=lambda j: r.share[j])
        names = ", ".join(act.names[j] for j in bad[:5]) + ("…" if len(bad) > 5 else "")
        yield emit(
            f"{act.name}: {len(bad)} channel(s) sit at their own min or max for more than "
            f"{limit:.0%} of samples ({names}; worst {act.names[worst]} at {r.share[worst]:.0%})",
            stream=act.name, value=r.share[worst], threshold=limit,
            t_start_ns=int(act.timestamps[0]), t_end_ns=int(act.timestamps[-1]))
