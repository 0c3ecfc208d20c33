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
def _median_inplace(buf: np.ndarray, n: int) -> float:
    """Median of ``buf[:n]``, sorting that prefix in place (insertion sort: n is small)."""
    for a in range(1, n):
        v = buf[a]
        b = a - 1
        while b >= 0 and buf[b] > v:
            buf[b + 1] = buf[b]
            b -= 1
        buf[b + 1] = v
    return buf[n // 2] if n % 2 == 1 else 0.5 * (buf[n // 2 - 1] + buf[n // 2])


@njit(cache=True, nogil=True)
def _block_bounds(values: np.ndarray, start: int, w: int, lo: np.ndarray,
                  hi: np.ndarray) -> None:
    """Per-column min and max of rows ``start : start + w`` (clipped; NaN ignored)."""
    t, d = values.shape
    for j in range(d):
        lo[j] = np.inf
        hi[j] = -np.inf
    for i in range(start, min(start + w, t)):
        for j in range(d):
            v = values[i, j]
            if v < lo[j]:
                lo[j] = v
            if v > hi[j]:
                hi[j] = v


@njit(cache=True, nogil=True)
def _spike_at(values: np.ndarray, s: int, w: int, j: int, x: float, thr: float,
              mad_factor: float, floor: float, buf: np.ndarray, dev: np.ndarray) -> float:
    """Deviation of ``x`` from the median of window ``s : s + w`` of column ``j`` when it is a
    spike (beyond ``thr`` and ``mad_factor`` MADs), else -1."""
    n = 0
    for m in range(s, s + w):
        v = values[m, j]
        if np.isfinite(v):
            buf[n] = v
            n += 1
    if n < 3:
        return -1.0
    med = _median_inplace(buf, n)
    for m in range(n):
        dev[m] = abs(buf[m] - med)
    mad = _median_inplace(dev, n)
    e = abs(x - med)
    if e > thr and e > mad_factor * max(mad, floor):
        return e
    return -1.0


@njit(cache=True, nogil=True)
def spike_scan(values: np.ndarray, half: int, mad_factor: float,
               min_dev: np.ndarray, mad_floor: np.ndarray) -> np.ndarray:
    """Samples farther than ``mad_factor`` rolling MADs AND ``min_dev`` from the rolling
    median of a centred window of ``2 * half + 1`` samples.

    ``mad_floor`` (per column, e.g. the sensor's quantisation step) keeps a window of identical
    readings (MAD 0) from turning a one-step change into a spike. A median is taken only where
    some sample of the window lies more than ``min_dev`` from the centre (otherwise the median
    is within ``min_dev`` too). Rows go in blocks of one window: a window spans a block and
    the next, so where those two span no more than ``min_dev`` in a column the whole block is
    passed over; elsewhere the window's exact min and max come from running bounds. Only two
    blocks' bounds are held: no copy of the stream. Returns float64[4]: spike count, first
    spike row (-1), its column (-1), and the largest deviation in units of ``min_dev``.
    """
    out = np.zeros(4)
    out[1] = -1.0
    out[2] = -1.0
    t, d = values.shape
    w = 2 * half + 1
    if t < w:
        return out
    lo = np.empty((2, d))
    hi = np.empty((2, d))
    suf_lo = np.empty(w)
    suf_hi = np.empty(w)
    pre_lo = np.empty(w)
    pre_hi = np.empty(w)
    buf = np.empty(w)
    dev = np.empty(w)
    active = np.zeros(d, dtype=np.bool_)
    n_blocks = (t - w) // w + 1  # blocks holding a window start
    _block_bounds(values, 0, w, lo[0], hi[0])
    for blk in range(n_blocks):
        b0 = blk * w
        cur = blk % 2
        nxt = 1 - cur
        _block_bounds(values, b0 + w, w, lo[nxt], hi[nxt])
        any_active = False
        for j in range(d):
            thr = min_dev[j]
            span = max(hi[cur, j], hi[nxt, j]) - min(lo[cur, j], lo[nxt, j])
            active[j] = np.isfinite(thr) and thr > 0.0 and span > thr
            any_active = any_active or active[j]
        if not any_active:
            continue
        s_end = min(b0 + w, t - w + 1)
        for j in range(d):
            if not active[j]:
                continue
            # running bounds of this column: suffix of this block, prefix of the next
            a = np.inf
            b = -np.inf
            for r in range(w - 1, -1, -1):
                v = values[b0 + r, j]
                if v < a:
                    a = v
                if v > b:
                    b = v
                suf_lo[r] = a
                suf_hi[r] = b
            a = np.inf
            b = -np.inf
            for r in range(w):
                if b0 + w + r < t:
                    v = values[b0 + w + r, j]
                    if v < a:
                        a = v
                    if v > b:
                        b = v
                pre_lo[r] = a
                pre_hi[r] = b
            for s in range(b0, s_end):
                x = values[s + half, j]
                if not np.isfinite(x):
                    continue
                mn = suf_lo[s - b0]
                mx = suf_hi[s - b0]
                e_idx = s - b0 - 1  # the window's last row within the next block (-1: none)
                if e_idx >= 0:
                    mn = min(mn, pre_lo[e_idx])
                    mx = max(mx, pre_hi[e_idx])
                if not (mx - x > min_dev[j] or x - mn > min_dev[j]):
                    continue
                e = _spike_at(values, s, w, j, x, min_dev[j], mad_factor, mad_floor[j], buf,
                              dev)
                if e < 0.0:
                    continue
                i = s + half
                out[0] += 1.0
                if out[1] < 0.0 or i < out[1] or (i == out[1] and j < out[2]):
                    out[1] = i
                    out[2] = j
                if e / min_dev[j] > out[3]:
                    out[3] = e / min_dev[j]
    return out


@njit(cache=True, nogil=True)
def _row_energy(x: np.ndarray) -> np.ndarray:
    """Cumulative sum of squared rows (non-finite samples as zero), with a leading 0."""
    t, d = x.shape
    out = np.zeros(t + 1)
    for i in range(t):
        acc = 0.0
        for j in range(d):
            v = x[i, j]
            if np.isfinite(v):
                acc += v * v
        out[i + 1] = out[i] + acc
    return out


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _lagged_dots(a: np.ndarray, s: np.ndarray, lag_min: int, lag_max: int) -> np.ndarray:
    """For every lag k, the sum of ``a[i, j] * s[i + k, j]`` over the overlap, non-finite
    samples as zero. Rows go in cache-sized tiles, every lag per tile, so the inputs are read
    from memory once rather than once per lag; reassociation lets the sums vectorise."""
    t, d = a.shape
    nlag = lag_max - lag_min + 1
    out = np.zeros(max(nlag, 0))
    fa = np.ascontiguousarray(a).reshape(-1)  # rows are contiguous: a lag is a flat offset
    fs = np.ascontiguousarray(s).reshape(-1)
    tile = 2048
    for b0 in range(0, t, tile):
        b1 = min(b0 + tile, t)
        for q in range(nlag):
            k = lag_min + q
            lo = max(b0, -k) * d
            hi = min(b1, t - k) * d
            off = k * d
            num = 0.0
            for i in range(lo, hi):
                x = fa[i]
                y = fs[i + off]
                num += (x if np.isfinite(x) else 0.0) * (y if np.isfinite(y) else 0.0)
            out[q] += num
    return out


@njit(cache=True, nogil=True)
def best_lag(a: np.ndarray, s: np.ndarray, lag_min: int, lag_max: int) -> np.ndarray:
    """Lag (in samples) maximising the normalised correlation of ``a[i]`` with ``s[i + lag]``
    summed over columns over their overlap, non-finite samples counting as zero.
    float64[2]: best lag, its correlation (-1..1; -2 when no lag has any signal)."""
    t = a.shape[0]
    ea = _row_energy(a)
    es = _row_energy(s)
    nums = _lagged_dots(a, s, lag_min, lag_max)
    best = -2.0
    best_k = 0.0
    for k in range(lag_min, lag_max + 1):
        lo = max(0, -k)
        hi = min(t, t - k)
        if hi <= lo:
            continue
        na = ea[hi] - ea[lo]
        ns = es[hi + k] - es[lo + k]
        den = np.sqrt(na) * np.sqrt(ns)  # not sqrt(na * ns): the product can underflow
        if den > 0.0:
            c = nums[k - lag_min] / den
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


@njit(cache=True, nogil=True)
def diff_spread(values: np.ndarray) -> np.ndarray:
    """Per column, the variance of consecutive differences (non-finite ones skipped; NaN when
    there are none): how much the channel moves from sample to sample. One row-major pass."""
    t, d = values.shape
    s1 = np.zeros(d)
    s2 = np.zeros(d)
    cnt = np.zeros(d)
    for i in range(1, t):
        for j in range(d):
            dv = values[i, j] - values[i - 1, j]
            if np.isfinite(dv):
                s1[j] += dv
                s2[j] += dv * dv
                cnt[j] += 1.0
    out = np.full(d, np.nan)
    for j in range(d):
        if cnt[j] > 0:
            m = s1[j] / cnt[j]
            out[j] = max(s2[j] / cnt[j] - m * m, 0.0)
    return out


@njit(cache=True, nogil=True)
def resample_diff(ts: np.ndarray, values: np.ndarray, cols: np.ndarray, t0: int,
                  step_ns: float, n: int) -> np.ndarray:
    """Linear interpolation of the columns ``cols`` at ``t0 + k * step_ns`` (k < n), held at
    the first and last sample outside the clock, returned as consecutive differences
    ``float64[n - 1, len(cols)]``. One walk along a non-decreasing clock."""
    t = ts.shape[0]
    c = cols.shape[0]
    out = np.empty((max(n - 1, 0), c))
    if t == 0 or n < 2:
        out[:] = np.nan
        return out
    prev = np.empty(c)
    cur = np.empty(c)
    first = float(ts[0] - t0)
    last = float(ts[t - 1] - t0)
    p = 0
    for k in range(n):
        x = k * step_ns
        while p < t - 2 and float(ts[p + 1] - t0) <= x:
            p += 1
        if x <= first or t == 1:
            for q in range(c):
                cur[q] = values[0, cols[q]]
        elif x >= last:
            for q in range(c):
                cur[q] = values[t - 1, cols[q]]
        else:
            xa = float(ts[p] - t0)
            xb = float(ts[p + 1] - t0)
            f = (x - xa) / (xb - xa) if xb > xa else 0.0
            for q in range(c):
                ya = values[p, cols[q]]
                cur[q] = ya + f * (values[p + 1, cols[q]] - ya)
        if k > 0:
            for q in range(c):
                out[k - 1, q] = cur[q] - prev[q]
        for q in range(c):
            prev[q] = cur[q]
    return out
