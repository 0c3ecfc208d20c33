"""Kernels over joint trajectories: speeds, idle spans, jerk, repeats, spikes, lag."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def velocity_scan(ts: np.ndarray, values: np.ndarray, vmax: np.ndarray,
                  min_dt_ns: float) -> np.ndarray:
    """Finite-difference speeds above ``vmax`` per column (NaN limit: column skipped).

    Differences over less than ``min_dt_ns`` (or non-increasing time) are skipped. Returns
    float64[6]: intervals over, first over interval's start index (-1), end index of that run,
    worst column (-1), its speed, and speed / limit.
    """
    out = np.zeros(6)
    out[1] = -1.0
    out[2] = -1.0
    out[3] = -1.0
    t, d = values.shape
    in_run = False
    done = False
    for i in range(t - 1):
        dt = float(ts[i + 1] - ts[i])
        if dt < min_dt_ns or dt <= 0.0:
            continue
        over = False
        for j in range(d):
            lim = vmax[j]
            if not np.isfinite(lim) or lim <= 0.0:
                continue
            dv = values[i + 1, j] - values[i, j]
            if not np.isfinite(dv):
                continue
            speed = abs(dv) * 1e9 / dt
            if speed > lim:
                over = True
                ratio = speed / lim
                if ratio > out[5]:
                    out[5] = ratio
                    out[4] = speed
                    out[3] = j
        if over:
            out[0] += 1.0
            if out[1] < 0.0:
                out[1] = i
                in_run = True
            if in_run and not done:
                out[2] = i + 1
        elif in_run:
            in_run = False
            done = True
    return out


@njit(cache=True, nogil=True)
def active_span(ts: np.ndarray, values: np.ndarray, threshold: float, k: int) -> np.ndarray:
    """First and last sample where any joint moves at ``threshold`` or faster, speed measured
    over ``k`` samples. int64[2]; (-1, -1) when the robot never moves."""
    out = np.full(2, -1, dtype=np.int64)
    t, d = values.shape
    if t <= k:
        return out
    for i in range(t - k):
        dt = float(ts[i + k] - ts[i])
        if dt <= 0.0:
            continue
        moving = False
        for j in range(d):
            dv = abs(values[i + k, j] - values[i, j])
            if np.isfinite(dv) and dv * 1e9 / dt >= threshold:
                moving = True
                break
        if moving:
            if out[0] < 0:
                out[0] = i
            out[1] = i + k
    return out


@njit(cache=True, nogil=True)
def rms_jerk(ts: np.ndarray, values: np.ndarray) -> float:
    """Root mean square of the third finite difference over all joints (units/s³)."""
    t, d = values.shape
    acc = 0.0
    n = 0
    for i in range(t - 3):
        dt = (ts[i + 3] - ts[i]) / 3e9
        if dt <= 0.0:
            continue
        inv = 1.0 / (dt * dt * dt)
        for j in range(d):
            jerk = (values[i + 3, j] - 3.0 * values[i + 2, j] + 3.0 * values[i + 1, j]
                    - values[i, j]) * inv
            if np.isfinite(jerk):
                acc += jerk * jerk
                n += 1
    return np.sqrt(acc / n) if n > 0 else 0.0


@njit(cache=True, nogil=True)
def repeat_runs(values: np.ndarray, min_len: int) -> np.ndarray:
    """Runs of at least ``min_len`` consecutive rows equal bit for bit to the row before
    (NaN never equals). int64[K, 2]: first and last row of each run."""
    t, d = values.shape
    cap = t // max(min_len, 1) + 1
    out = np.empty((cap, 2), dtype=np.int64)
    k = 0
    start = 0
    for i in range(1, t + 1):
        same = False
        if i < t:
            same = True
            for j in range(d):
                if values[i, j] != values[i - 1, j]:
                    same = False
                    break
        if not same:
            if i - start >= min_len and k < cap:
                out[k, 0] = start
                out[k, 1] = i - 1
                k += 1
            start = i
    return out[:k]


@njit(cache=True, nogil=True)
def spike_scan(values: np.ndarray, half: int, mad_factor: float,
               min_dev: np.ndarray, mad_floor: np.ndarray) -> np.ndarray:
    """Samples farther than ``mad_factor`` rolling MADs AND ``min_dev`` from the rolling
    median of a centred window of ``2 * half + 1`` samples.

    ``mad_floor`` (per column, e.g. the sensor's quantisation step) keeps a window of identical
    readings (MAD 0) from turning a one-step change into a spike. A cheap bound rejects most
    samples first: when every sample of the window is within ``min_dev`` of the centre, the
    median is too. Rows are walked in memory order. Returns
    float64[4]: spike count, first spike row (-1), its column (-1), and the largest deviation
    in units of ``min_dev``.
    """
    out = np.zeros(4)
    out[1] = -1.0
    out[2] = -1.0
    t, d = values.shape
    w = 2 * half + 1
    buf = np.empty(w)
    dev = np.empty(w)
    for i in range(half, t - half):
        for j in range(d):
            thr = min_dev[j]
            if not np.isfinite(thr) or thr <= 0.0:
                continue
            x = values[i, j]
            if not np.isfinite(x):
                continue
            far = False
            for m in range(i - half, i + half + 1):
                if abs(values[m, j] - x) > thr:
                    far = True
                    break
            if not far:
                continue
            n = 0
            for m in range(i - half, i + half + 1):
                v = values[m, j]
                if np.isfinite(v):
                    buf[n] = v
                    n += 1
            if n < 3:
                continue
            srt = np.sort(buf[:n])
            med = srt[n // 2] if n % 2 == 1 else 0.5 * (srt[n // 2 - 1] + srt[n // 2])
            for m in range(n):
                dev[m] = abs(srt[m] - med)
            sd = np.sort(dev[:n])
            mad = sd[n // 2] if n % 2 == 1 else 0.5 * (sd[n // 2 - 1] + sd[n // 2])
            e = abs(x - med)
            if e > thr and e > mad_factor * max(mad, mad_floor[j]):
                out[0] += 1.0
                if out[1] < 0.0:
                    out[1] = i
                    out[2] = j
                if e / thr > out[3]:
                    out[3] = e / thr
    return out


@njit(cache=True, nogil=True)
def best_lag(a: np.ndarray, s: np.ndarray, lag_min: int, lag_max: int) -> np.ndarray:
    """Lag (in samples) maximising the normalised correlation of ``a[i]`` with ``s[i + lag]``
    summed over columns. float64[2]: best lag, its correlation (-1..1)."""
    t, d = a.shape
    best = -2.0
    best_k = 0.0
    for k in range(lag_min, lag_max + 1):
        num = 0.0
        na = 0.0
        ns = 0.0
        lo = max(0, -k)
        hi = min(t, t - k)
        for i in range(lo, hi):
            for j in range(d):
                x = a[i, j]
                y = s[i + k, j]
                if np.isfinite(x) and np.isfinite(y):
                    num += x * y
                    na += x * x
                    ns += y * y
        den = np.sqrt(na) * np.sqrt(ns)  # not sqrt(na * ns): the product can underflow
        if den > 0.0:
            c = num / den
            if c > best:
                best = c
                best_k = k
    out = np.empty(2)
    out[0] = best_k
    out[1] = best
    return out


@njit(cache=True, nogil=True)
def min_step(values: np.ndarray) -> np.ndarray:
    """Per column, the smallest non-zero change between consecutive finite samples (the
    quantisation step of a digitised sensor); 0 when the column never changes."""
    t, d = values.shape
    out = np.full(d, np.inf)
    for i in range(1, t):
        for j in range(d):
            dv = abs(values[i, j] - values[i - 1, j])
            if dv > 0.0 and dv < out[j]:
                out[j] = dv
    for j in range(d):
        if not np.isfinite(out[j]):
            out[j] = 0.0
    return out
