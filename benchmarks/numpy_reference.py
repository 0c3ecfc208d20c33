"""Plain-numpy references of every check kernel.

They define what each kernel computes in the most direct vectorised numpy, so tests can show
the numba kernels agree on random and adversarial inputs, and benchmarks can measure the
kernels' speed-up against them.
"""

from __future__ import annotations

import numpy as np


def _first_run(mask: np.ndarray) -> tuple[int, int]:
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return -1, -1
    a = int(idx[0])
    breaks = np.flatnonzero(~mask[a:])
    b = a + int(breaks[0]) - 1 if breaks.size else len(mask) - 1
    return a, b


def timestamp_scan(ts: np.ndarray, period_ns: float, gap_factor: float) -> np.ndarray:
    out = np.zeros(10)
    out[1] = out[4] = -1
    if ts.size < 2:
        return out
    d = np.diff(ts).astype(np.float64)
    bad = d <= 0
    gap = (d > gap_factor * period_ns) & ~bad
    reg = ~bad & ~gap
    out[0] = bad.sum()
    out[1] = np.flatnonzero(bad)[0] if bad.any() else -1
    out[2] = gap.sum()
    out[3] = np.maximum(np.floor(d[gap] / period_ns + 0.5) - 1, 1).sum()
    if gap.any():
        gi = np.flatnonzero(gap)
        k = gi[np.argmax(d[gi])]
        out[4], out[5] = k, d[k]
    out[6] = reg.sum()
    out[7] = d[reg].sum()
    out[8] = (d[reg] ** 2).sum()
    out[9] = float(ts[-1] - ts[0])
    return out


def nonfinite_scan(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = ~np.isfinite(values)
    a, b = _first_run(bad.any(axis=1))
    v = np.where(bad, np.nan, values)
    bounds = np.full((values.shape[1], 2), np.nan)
    ok = ~bad.all(axis=0)
    if values.shape[0]:
        bounds[ok, 0] = np.nanmin(v[:, ok], axis=0)
        bounds[ok, 1] = np.nanmax(v[:, ok], axis=0)
    return np.array([bad.sum(), a, b], dtype=np.int64), bounds


def stream_summary(values: np.ndarray, diffs: bool) -> tuple[np.ndarray, np.ndarray]:
    counts, bounds = nonfinite_scan(values)
    table = np.full((values.shape[1], 4), np.nan)
    table[:, :2] = bounds
    if diffs:
        table[:, 2] = min_step(values)
        with np.errstate(over="ignore", invalid="ignore"):
            table[:, 3] = diff_spread(values)
    return counts, table


def limit_scan(values, lo, hi, tol) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & np.isfinite(lo) & np.isfinite(hi)
        under = np.where(ok & (values < lo - tol), lo - values, 0.0)
        over = np.where(ok & (values > hi + tol), values - hi, 0.0)
    excess = np.maximum(under, over)
    rows = (excess > 0).any(axis=1)
    a, b = _first_run(rows)
    out = np.zeros(5)
    out[0], out[1], out[2], out[3] = rows.sum(), a, b, -1
    if rows.any():
        flat = int(np.argmax(excess))  # first maximum in row-major order
        out[3], out[4] = flat % values.shape[1], excess.flat[flat]
    return out


def column_stats(values: np.ndarray) -> np.ndarray:
    if values.shape[0] == 0:
        out = np.full((values.shape[1], 5), np.nan)
        out[:, 4] = 0.0
        return out
    v = np.where(np.isfinite(values), values, np.nan)
    cnt = np.isfinite(values).sum(axis=0).astype(float)
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        return np.stack([np.nanmin(v, axis=0), np.nanmax(v, axis=0), np.nanmean(v, axis=0),
                         np.nanstd(v, axis=0), cnt], axis=1)


def saturation_scan(values: np.ndarray, bounds: np.ndarray | None = None) -> np.ndarray:
    # ``bounds`` is the kernel's shortcut; the reference finds min and max itself
    out = np.zeros((values.shape[1], 3))
    for j in range(values.shape[1]):
        col = values[:, j][np.isfinite(values[:, j])]
        if col.size == 0:
            continue
        at = ((col == col.min()) | (col == col.max())).sum()
        out[j] = [at / col.size, float(np.unique(col).size > 2), col.size]
    return out


def velocity_scan(ts, values, vmax, min_dt_ns) -> np.ndarray:
    out = np.zeros(6)
    out[1] = out[2] = out[3] = -1
    if values.shape[0] < 2:
        return out
    dt = np.diff(ts).astype(np.float64)
    valid = np.flatnonzero((dt >= min_dt_ns) & (dt > 0))  # skipped intervals carry no news
    with np.errstate(all="ignore"):
        dv = np.diff(values, axis=0)[valid]
        speed = np.abs(dv) * 1e9 / dt[valid][:, None]
        lim_ok = np.isfinite(vmax) & (vmax > 0)
        ratio = np.where(lim_ok & np.isfinite(dv), speed / vmax, 0.0)
    over_m = ratio > 1.0
    rows = over_m.any(axis=1)
    a, b = _first_run(rows)
    out[0] = rows.sum()
    if rows.any():
        out[1], out[2] = valid[a], valid[b] + 1
        flat = int(np.argmax(np.where(over_m, ratio, 0.0)))
        i, j = divmod(flat, values.shape[1])
        out[3], out[4], out[5] = j, speed[i, j], ratio[i, j]
    return out


def active_span(ts, values, threshold, k) -> np.ndarray:
    t = values.shape[0]
    if t <= k:
        return np.array([-1, -1])
    dt = (ts[k:] - ts[:-k]).astype(np.float64)
    with np.errstate(all="ignore"):
        dv = np.abs(values[k:] - values[:-k])
        sp = dv * 1e9 / dt[:, None]
    moving = ((sp >= threshold) & np.isfinite(dv)).any(axis=1) & (dt > 0)
    idx = np.flatnonzero(moving)
    return np.array([idx[0], idx[-1] + k]) if idx.size else np.array([-1, -1])


def rms_jerk(ts, values) -> float:
    if values.shape[0] < 4:
        return 0.0
    dt = (ts[3:] - ts[:-3]) / 3e9
    j3 = values[3:] - 3 * values[2:-1] + 3 * values[1:-2] - values[:-3]
    with np.errstate(all="ignore"):
        jerk = j3 / (dt ** 3)[:, None]
    ok = (dt > 0)[:, None] & np.isfinite(jerk)
    return float(np.sqrt((jerk[ok] ** 2).mean())) if ok.any() else 0.0


def repeat_runs(values, min_len) -> np.ndarray:
    t = values.shape[0]
    if t == 0:
        return np.empty((0, 2), dtype=np.int64)
    same = np.concatenate([[False], (values[1:] == values[:-1]).all(axis=1)])
    starts = np.flatnonzero(~same)
    ends = np.append(starts[1:] - 1, t - 1)
    keep = (ends - starts + 1) >= min_len
    return np.stack([starts[keep], ends[keep]], axis=1).astype(np.int64)


def spike_scan(values, half, mad_factor, min_dev, mad_floor) -> np.ndarray:
    from numpy.lib.stride_tricks import sliding_window_view

    out = np.zeros(4)
    out[1] = out[2] = -1
    t = values.shape[0]
    w = 2 * half + 1
    if t < w:
        return out
    finite = np.where(np.isfinite(values), values, np.nan)
    win = sliding_window_view(finite, w, axis=0)  # [t - w + 1, d, w]
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        enough = np.isfinite(win).sum(axis=2) >= 3
        med = np.nanmedian(win, axis=2)
        mad = np.nanmedian(np.abs(win - med[..., None]), axis=2)
        x = values[half:t - half]
        e = np.abs(x - med)
        hit = (np.isfinite(min_dev) & (min_dev > 0) & np.isfinite(x) & enough
               & (e > min_dev) & (e > mad_factor * np.maximum(mad, mad_floor)))
    if hit.any():
        out[0] = hit.sum()
        rows, cols = np.nonzero(hit)
        order = np.lexsort((cols, rows))
        out[1], out[2] = rows[order[0]] + half, cols[order[0]]
        with np.errstate(all="ignore"):
            out[3] = (e / min_dev)[hit].max()
    return out


def center_columns(x: np.ndarray) -> None:
    ok = np.isfinite(x)
    x -= np.where(ok, x, 0.0).sum(axis=0) / np.maximum(ok.sum(axis=0), 1)


def decimate_sum(x: np.ndarray, factor: int) -> np.ndarray:
    m = x.shape[0] // factor
    return x[: m * factor].reshape(m, factor, x.shape[1]).sum(axis=1)


def best_lag(a, s, lag_min, lag_max) -> np.ndarray:
    best, best_k = -2.0, 0
    t = a.shape[0]
    a = np.where(np.isfinite(a), a, 0.0)
    s = np.where(np.isfinite(s), s, 0.0)
    for k in range(lag_min, lag_max + 1):
        lo, hi = max(0, -k), min(t, t - k)
        if hi <= lo:
            continue
        x, y = a[lo:hi], s[lo + k:hi + k]
        den = np.sqrt((x ** 2).sum()) * np.sqrt((y ** 2).sum())
        if den > 0:
            c = (x * y).sum() / den
            if c > best:
                best, best_k = c, k
    return np.array([best_k, best])


def min_step(values: np.ndarray) -> np.ndarray:
    if values.shape[0] < 2:
        return np.zeros(values.shape[1])
    with np.errstate(invalid="ignore"):
        d = np.abs(np.diff(values, axis=0))
    d = np.where(np.isfinite(d) & (d > 0), d, np.inf)
    out = d.min(axis=0)
    return np.where(np.isfinite(out), out, 0.0)


def diff_spread(values: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        d = np.diff(values, axis=0)
    d = np.where(np.isfinite(d), d, np.nan)
    out = np.full(values.shape[1], np.nan)
    ok = np.isfinite(d).any(axis=0)
    out[ok] = np.nanvar(d[:, ok], axis=0)
    return out


def resample_diff(ts, values, cols, t0, step_ns, n) -> np.ndarray:
    if ts.size == 0 or n < 2:
        return np.full((max(n - 1, 0), cols.size), np.nan)
    x = np.arange(n) * step_ns
    rel = (ts - t0).astype(np.float64)
    p = np.clip(np.searchsorted(rel, x, side="right") - 1, 0, max(ts.size - 2, 0))
    v = values[:, cols]
    if ts.size == 1:
        y = np.repeat(v[:1], n, axis=0)
    else:
        xa, xb = rel[p], rel[p + 1]
        with np.errstate(all="ignore"):
            f = np.where(xb > xa, (x - xa) / (xb - xa), 0.0)
            y = v[p] + f[:, None] * (v[p + 1] - v[p])
        y = np.where((x >= rel[-1])[:, None], v[-1], y)
        y = np.where((x <= rel[0])[:, None], v[0], y)
    with np.errstate(all="ignore"):
        return np.diff(y, axis=0)
