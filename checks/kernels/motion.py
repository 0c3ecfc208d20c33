"""Kernels over joint trajectories: speeds, idle spans, jerk, repeats, spikes, lag."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit


@njit(cache=True, nogil=True)
def _speed_row(v0: np.ndarray, v1: np.ndarray, dt: float, vmax: np.ndarray,
               out: np.ndarray) -> bool:
    """Exact speeds of one interval against the limits (NaN or non-positive limit and
    non-finite differences skipped), updating the worst column in ``out``; True when any
    column is over."""
    over = False
    for j in range(v0.shape[0]):
        lim = vmax[j]
        if not np.isfinite(lim) or lim <= 0.0:
            continue
        dv = v1[j] - v0[j]
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
    return over


@njit(cache=True, nogil=True)
def velocity_scan(ts: np.ndarray, values: np.ndarray, vmax: np.ndarray,
                  min_dt_ns: float) -> np.ndarray:
    """Finite-difference speeds above ``vmax`` per column (NaN limit: column skipped).

    Differences over less than ``min_dt_ns`` (or non-increasing time) are skipped. Each interval
    is first screened without a division, against limits lowered by 0.1 % (and kept within a
    range where the products neither overflow nor lose precision), so rounding can only let
    more through; only the intervals that may be over are measured exactly. Returns
    float64[6]: intervals over, first over interval's start index (-1), end index of that run,
    worst column (-1), its speed, and speed / limit.
    """
    out = np.zeros(6)
    out[1] = -1.0
    out[2] = -1.0
    out[3] = -1.0
    t, d = values.shape
    lim = np.empty(d)  # screening limits: inf where the column is not limited
    for j in range(d):
        ok = np.isfinite(vmax[j]) and vmax[j] > 0.0
        lim[j] = min(vmax[j] * 0.999, 1e280) if ok else np.inf
        if ok and vmax[j] < 1e-280:
            lim[j] = 0.0
    in_run = False
    done = False
    for i in range(t - 1):
        dt = float(ts[i + 1] - ts[i])
        if dt < min_dt_ns or dt <= 0.0:
            continue
        v0 = values[i]
        v1 = values[i + 1]
        maybe = False
        for j in range(d):
            maybe |= abs(v1[j] - v0[j]) * 1e9 > lim[j] * dt
        over = maybe and _speed_row(v0, v1, dt, vmax, out)
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


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def rms_jerk(ts: np.ndarray, values: np.ndarray) -> float:
    """Root mean square of the third finite difference over all joints (units/s³).
    Reassociation lets the sum of squares vectorise across joints."""
    t, d = values.shape
    acc = 0.0
    n = 0
    for i in range(t - 3):
        dt = (ts[i + 3] - ts[i]) / 3e9
        if dt <= 0.0:
            continue
        inv = 1.0 / (dt * dt * dt)
        r0 = values[i]
        r1 = values[i + 1]
        r2 = values[i + 2]
        r3 = values[i + 3]
        for j in range(d):
            jerk = (r3[j] - 3.0 * r2[j] + 3.0 * r1[j] - r0[j]) * inv
            ok = np.isfinite(jerk)
            acc += jerk * jerk if ok else 0.0
            n += 1 if ok else 0
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
def _kth(buf: npt.NDArray[np.float64], n: int, k: int) -> float:
    """The ``k``-th smallest of ``buf[:n]`` (no NaN), partitioning that prefix in place so
    that ``buf[:k]`` holds values no greater (Wirth's selection: linear on average)."""
    lo = 0
    hi = n - 1
    while lo < hi:
        x = buf[k]
        i = lo
        j = hi
        while True:
            while buf[i] < x:
                i += 1
            while x < buf[j]:
                j -= 1
            if i <= j:
                buf[i], buf[j] = buf[j], buf[i]
                i += 1
                j -= 1
            if i > j:
                break
        if j < k:
            lo = i
        if k < i:
            hi = j
    return float(buf[k])


@njit(cache=True, nogil=True)
def _median_inplace(buf: npt.NDArray[np.float64], n: int) -> float:
    """Median of ``buf[:n]`` (no NaN; the mean of the two middle values when n is even),
    reordering that prefix."""
    upper = _kth(buf, n, n // 2)
    if n % 2 == 1:
        return upper
    lower = buf[0]
    for m in range(1, n // 2):
        lower = max(lower, buf[m])
    return float(0.5 * (lower + upper))


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
    e = abs(x - med)
    if not (e > thr and e > mad_factor * floor):
        return -1.0  # the MAD can only raise the bar
    for m in range(n):
        dev[m] = abs(buf[m] - med)
    mad = _median_inplace(dev, n)
    if e > mad_factor * max(mad, floor):
        return e
    return -1.0


@njit(cache=True, nogil=True)
def _block_bounds(values: np.ndarray, start: int, n: int, lo: np.ndarray, hi: np.ndarray,
                  bad: np.ndarray) -> None:
    """Per column, the finite min and max of rows ``start : start + n`` (clipped to the
    array; +inf and -inf when there are none) and the count of non-finite samples."""
    t, d = values.shape
    for j in range(d):
        lo[j] = np.inf
        hi[j] = -np.inf
        bad[j] = 0
    for i in range(start, min(start + n, t)):
        row = values[i]
        for j in range(d):
            v = row[j]
            fin = np.isfinite(v)
            lo[j] = v if fin and v < lo[j] else lo[j]
            hi[j] = v if fin and v > hi[j] else hi[j]
            bad[j] += 0 if fin else 1


@njit(cache=True, nogil=True)
def _count_away(values: np.ndarray, i: int, half: int, thr: np.ndarray, n: np.ndarray,
                below: np.ndarray, above: np.ndarray) -> None:
    """Per column, over the window centred on row ``i``: finite samples, and those more than
    ``thr`` below and above the centre. Row by row, every column at once (vectorised)."""
    x = values[i]
    n[:] = 0
    below[:] = 0
    above[:] = 0
    for m in range(i - half, i + half + 1):
        row = values[m]
        for j in range(x.shape[0]):
            v = row[j]
            fin = np.isfinite(v)
            n[j] += 1 if fin else 0
            below[j] += 1 if fin and x[j] - v > thr[j] else 0
            above[j] += 1 if fin and v - x[j] > thr[j] else 0


@njit(cache=True, nogil=True)
def spike_scan(values: np.ndarray, half: int, mad_factor: float,
               min_dev: np.ndarray, mad_floor: np.ndarray) -> np.ndarray:
    """Samples farther than ``mad_factor`` rolling MADs AND ``min_dev`` from the rolling
    median of a centred window of ``2 * half + 1`` samples.

    ``mad_floor`` (per column, e.g. the sensor's quantisation step) keeps a window of identical
    readings (MAD 0) from turning a one-step change into a spike.

    Medians are rare. Rows go in blocks of ``half``: a centre's left half window lies in its
    block and the one before, its right half in its block and the one after. Where those three
    blocks are finite, an upward spike needs the block's max more than ``min_dev`` above the
    min of both neighbouring pairs (downward likewise) — a smooth motion, even a fast ramp,
    fails that on one side — so most blocks are passed over on their bounds alone. In the
    others, a median can lie more than ``min_dev`` from the centre only if at least half the
    window's finite samples do (floating-point subtraction is monotone, so this holds as
    computed; for an odd count it is exactly the condition): those are counted for every column
    at once, and a median and MAD are taken (by selection) only where the count allows. Only
    three blocks' bounds are held: no copy of the stream, one read of it. Returns float64[4]:
    spike count, first spike row (-1), its column (-1), and the largest deviation in units of
    ``min_dev``.
    """
    out = np.zeros(4)
    out[1] = -1.0
    out[2] = -1.0
    t, d = values.shape
    w = 2 * half + 1
    if t < w or half < 1:
        return out
    use = np.zeros(d, dtype=np.bool_)
    thr = np.empty(d)
    for j in range(d):
        use[j] = np.isfinite(min_dev[j]) and min_dev[j] > 0.0
        thr[j] = min_dev[j] if use[j] else np.inf
    if not use.any():
        return out
    lo = np.empty((3, d))  # ring of three blocks' bounds, block k in slot k % 3
    hi = np.empty((3, d))
    bad = np.zeros((3, d), dtype=np.int64)
    active = np.zeros(d, dtype=np.bool_)
    cnt = np.empty(d, dtype=np.int64)
    below = np.empty(d, dtype=np.int64)
    above = np.empty(d, dtype=np.int64)
    buf = np.empty(w)
    dev = np.empty(w)
    _block_bounds(values, 0, half, lo[0], hi[0], bad[0])
    _block_bounds(values, half, half, lo[1], hi[1], bad[1])
    last = t - half  # centres are rows half .. t - half - 1
    for k in range(1, (last - 1) // half + 1):
        p, c, n = (k - 1) % 3, k % 3, (k + 1) % 3
        _block_bounds(values, (k + 1) * half, half, lo[n], hi[n], bad[n])
        lp, lc, ln, hp, hc, hn = lo[p], lo[c], lo[n], hi[p], hi[c], hi[n]
        bp, bc, bn = bad[p], bad[c], bad[n]
        n_active = 0
        for j in range(d):  # branch-free, so the columns vectorise
            th = thr[j]
            up = (hc[j] - min(lp[j], lc[j]) > th) & (hc[j] - min(lc[j], ln[j]) > th)
            down = (max(hp[j], hc[j]) - lc[j] > th) & (max(hc[j], hn[j]) - lc[j] > th)
            finite = (bp[j] + bc[j] + bn[j]) == 0
            a = use[j] & (up | down | ~finite)
            active[j] = a
            n_active += 1 if a else 0
        if n_active == 0:
            continue
        for i in range(k * half, min(k * half + half, last)):
            _count_away(values, i, half, thr, cnt, below, above)
            for j in range(d):
                need = (cnt[j] + 1) // 2
                if not active[j] or cnt[j] < 3 or (below[j] < need and above[j] < need):
                    continue
                x = values[i, j]
                if not np.isfinite(x):
                    continue
                e = _spike_at(values, i - half, w, j, x, thr[j], mad_factor, mad_floor[j],
                              buf, dev)
                if e < 0.0:
                    continue
                out[0] += 1.0
                if out[1] < 0.0 or i < out[1] or (i == out[1] and j < out[2]):
                    out[1] = i
                    out[2] = j
                if e / thr[j] > out[3]:
                    out[3] = e / thr[j]
    return out


@njit(cache=True, nogil=True, inline="always")
def _sq_row(row: np.ndarray) -> float:
    """Sum of squares of one row, non-finite samples as zero."""
    acc = 0.0
    for j in range(row.shape[0]):
        v = row[j]
        if np.isfinite(v):
            acc += v * v
    return acc


@njit(cache=True, nogil=True)
def _row_energy(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums of squared rows (non-finite samples as zero) over every prefix ``[0, i)`` and every
    suffix ``[i, t)``. A lag's overlap is a prefix of one signal and a suffix of the other, so
    its energies are read straight off, never as a difference of running sums (which loses a
    small remainder next to one huge sample)."""
    t = x.shape[0]
    pre = np.zeros(t + 1)
    suf = np.zeros(t + 1)
    for i in range(t):
        pre[i + 1] = pre[i] + _sq_row(x[i])
    for i in range(t - 1, -1, -1):
        suf[i] = suf[i + 1] + _sq_row(x[i])
    return pre, suf


@njit(cache=True, nogil=True)
def _finite_copy(src: np.ndarray, lo: int, hi: int, dst: np.ndarray) -> None:
    """``dst[: hi - lo] = src[lo:hi]`` with non-finite samples as zero."""
    x = src[lo:hi]
    for i in range(hi - lo):
        v = x[i]
        dst[i] = v if np.isfinite(v) else 0.0


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _lagged_dots(a: np.ndarray, s: np.ndarray, lag_min: int, lag_max: int) -> np.ndarray:
    """For every lag k, the sum of ``a[i, j] * s[i + k, j]`` over the overlap, non-finite
    samples as zero.

    Rows go in cache-sized tiles, every lag per tile, so the inputs are read from memory once
    rather than once per lag. Each tile of ``a`` and the rows of ``s`` it meets are first copied
    with non-finite samples zeroed (two small buffers, never a copy of the signal), so every
    lag is a plain dot product of two contiguous slices, which vectorises; reassociation lets
    the sums do so."""
    t, d = a.shape
    nlag = lag_max - lag_min + 1
    out = np.zeros(max(nlag, 0))
    if nlag <= 0 or t == 0 or d == 0:
        return out
    fa = np.ascontiguousarray(a).reshape(-1)  # rows are contiguous: a lag is a flat offset
    fs = np.ascontiguousarray(s).reshape(-1)
    tile = 1024
    ta = np.empty(tile * d)
    ts_ = np.empty((tile + lag_max - lag_min) * d)
    for b0 in range(0, t, tile):
        b1 = min(b0 + tile, t)
        _finite_copy(fa, b0 * d, b1 * d, ta)
        s0 = min(max(b0 + lag_min, 0), t)  # rows of s this tile meets at some lag
        s1 = max(min(b1 + lag_max, t), s0)
        _finite_copy(fs, s0 * d, s1 * d, ts_)
        for q in range(nlag):
            k = lag_min + q
            lo = max(b0, -k)
            hi = min(b1, t - k)
            if hi <= lo:
                continue
            m = (hi - lo) * d
            x = ta[(lo - b0) * d:(lo - b0) * d + m]
            y = ts_[(lo + k - s0) * d:(lo + k - s0) * d + m]
            num = 0.0
            for i in range(m):
                num += x[i] * y[i]
            out[q] += num
    return out


@njit(cache=True, nogil=True)
def center_columns(x: np.ndarray) -> None:
    """Subtract from each column, in place, the mean of its finite samples (0 for a column
    without any); non-finite samples stay as they are."""
    t, d = x.shape
    s = np.zeros(d)
    n = np.zeros(d)
    for i in range(t):
        row = x[i]
        for j in range(d):
            v = row[j]
            ok = np.isfinite(v)
            s[j] += v if ok else 0.0
            n[j] += 1.0 if ok else 0.0
    for j in range(d):
        s[j] = s[j] / n[j] if n[j] > 0 else 0.0
    for i in range(t):
        row = x[i]
        for j in range(d):
            row[j] -= s[j]


@njit(cache=True, nogil=True)
def decimate_sum(x: np.ndarray, factor: int) -> np.ndarray:
    """Sums of consecutive groups of ``factor`` rows (a trailing partial group dropped), added
    in row order: the signal at a ``factor``-th of the rate, for a coarse lag search."""
    t, d = x.shape
    m = t // factor if factor > 0 else 0
    out = np.zeros((m, d))
    for g in range(m):
        acc = out[g]
        for r in range(g * factor, g * factor + factor):
            row = x[r]
            for j in range(d):
                acc[j] += row[j]
    return out


@njit(cache=True, nogil=True)
def best_lag(a: np.ndarray, s: np.ndarray, lag_min: int, lag_max: int) -> np.ndarray:
    """Lag (in samples) maximising the normalised correlation of ``a[i]`` with ``s[i + lag]``
    summed over columns over their overlap, non-finite samples counting as zero.
    float64[2]: best lag, its correlation (-1..1; -2 when no lag has any signal)."""
    t = a.shape[0]
    a_pre, a_suf = _row_energy(a)
    s_pre, s_suf = _row_energy(s)
    nums = _lagged_dots(a, s, lag_min, lag_max)
    best = -2.0
    best_k = 0.0
    for k in range(lag_min, lag_max + 1):
        if abs(k) >= t:
            continue
        # overlap: a[lo:hi] against s[lo + k:hi + k]
        na = a_pre[t - k] if k >= 0 else a_suf[-k]
        ns = s_suf[k] if k >= 0 else s_pre[t + k]
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


class SpeedExcess(NamedTuple):
    """:func:`velocity_scan`'s figures by name (-1 where there is none)."""

    #: intervals over the limit; the first one's start and the end of its run
    intervals: float
    first: int
    last: int
    #: the column of the fastest, its speed and that speed over its limit
    column: int
    speed: float
    ratio: float


def scan_speeds(ts: np.ndarray, values: np.ndarray, vmax: np.ndarray,
                min_dt_ns: float) -> SpeedExcess:
    """:func:`velocity_scan`, its figures named."""
    r = velocity_scan(ts, values, vmax, min_dt_ns)
    return SpeedExcess(float(r[0]), int(r[1]), int(r[2]), int(r[3]), float(r[4]), float(r[5]))


class Spikes(NamedTuple):
    """:func:`spike_scan`'s figures by name (-1 where there is none)."""

    spikes: float
    #: the first spike's row and column
    row: int
    column: int
    #: the largest deviation, in units of ``min_dev``
    worst: float


def scan_spikes(values: np.ndarray, half: int, mad_factor: float, min_dev: np.ndarray,
                mad_floor: np.ndarray) -> Spikes:
    """:func:`spike_scan`, its figures named."""
    r = spike_scan(values, half, mad_factor, min_dev, mad_floor)
    return Spikes(float(r[0]), int(r[1]), int(r[2]), float(r[3]))
