"""Every numba kernel agrees with its plain-numpy reference on random and adversarial inputs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import numpy_reference as ref

from checks.kernels import motion, stats, timing, values

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

floats = st.one_of(
    st.floats(-10, 10, allow_nan=False, width=64),
    st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0, 1.0]),
)


@st.composite
def matrices(draw, min_rows=0, max_rows=40, max_cols=4, adversarial=True):
    t = draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(1, max_cols))
    kind = draw(st.sampled_from(["random", "constant", "steps", "smooth"]))
    if kind == "constant":
        arr = np.full((t, d), draw(st.floats(-5, 5)))
    elif kind == "steps":
        arr = np.round(draw(hnp.arrays(np.float64, (t, d), elements=st.floats(-3, 3))), 1)
    elif kind == "smooth":
        arr = np.sin(np.linspace(0, draw(st.floats(0.1, 20)), t))[:, None] * np.ones((1, d))
    else:
        elems = floats if adversarial else st.floats(-10, 10, allow_nan=False)
        arr = draw(hnp.arrays(np.float64, (t, d), elements=elems))
    if adversarial and t and draw(st.booleans()):
        i, j = draw(st.integers(0, t - 1)), draw(st.integers(0, d - 1))
        arr[i, j] = draw(st.sampled_from([np.nan, np.inf, 1e12]))
    return np.ascontiguousarray(arr)


@st.composite
def clocks(draw, min_n=0, max_n=50):
    n = draw(st.integers(min_n, max_n))
    steps = draw(hnp.arrays(np.int64, (n,), elements=st.sampled_from(
        [20_000_000, 20_000_000, 20_000_000, 19_000_000, 21_000_000, 45_000_000, 0,
         -5_000_000, 10**12])))
    return np.ascontiguousarray(1_762_000_000_000_000_000 + np.cumsum(steps))


def _eq(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=1e-9, atol=1e-9, equal_nan=True)


@SETTINGS
@given(clocks(), st.sampled_from([1.5, 2.0]))
def test_timestamp_scan(ts, factor):
    _eq(timing.timestamp_scan(ts, 20e6, factor), ref.timestamp_scan(ts, 20e6, factor))


@SETTINGS
@given(matrices())
def test_nonfinite_scan(v):
    (got, got_b), (want, want_b) = values.nonfinite_scan(v), ref.nonfinite_scan(v)
    _eq(got, want)
    _eq(got_b, want_b)


@SETTINGS
@given(matrices(), st.data())
def test_limit_scan(v, data):
    d = v.shape[1]
    lo = np.array(data.draw(st.lists(st.sampled_from([-1.0, -0.5, np.nan]), min_size=d,
                                     max_size=d)))
    hi = lo + 1.5
    tol = np.full(d, 0.01)
    _eq(values.limit_scan(v, lo, hi, tol), ref.limit_scan(v, lo, hi, tol))


@SETTINGS
@given(matrices(adversarial=False))
def test_column_stats(v):
    got, want = stats.column_stats(v), ref.column_stats(v)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-7, equal_nan=True)


@SETTINGS
@given(matrices())
def test_column_stats_skips_nonfinite(v):
    got, want = stats.column_stats(v), ref.column_stats(v)
    np.testing.assert_allclose(got[:, [0, 1, 4]], want[:, [0, 1, 4]], equal_nan=True)


@SETTINGS
@given(matrices())
def test_saturation_scan(v):
    _eq(stats.saturation_scan(v, values.nonfinite_scan(v)[1]), ref.saturation_scan(v))


@SETTINGS
@given(st.data())
def test_velocity_scan(data):
    ts = data.draw(clocks(min_n=0, max_n=40))
    v = data.draw(matrices(min_rows=len(ts), max_rows=len(ts)))
    vmax = np.array(data.draw(st.lists(st.sampled_from([1.0, 50.0, np.nan, np.inf]),
                                       min_size=v.shape[1], max_size=v.shape[1])))
    _eq(motion.velocity_scan(ts, v, vmax, 10e6), ref.velocity_scan(ts, v, vmax, 10e6))


@SETTINGS
@given(st.data())
def test_active_span(data):
    ts = data.draw(clocks(min_n=0, max_n=40))
    v = data.draw(matrices(min_rows=len(ts), max_rows=len(ts)))
    k = data.draw(st.integers(1, 5))
    _eq(motion.active_span(ts, v, 0.5, k), ref.active_span(ts, v, 0.5, k))


@SETTINGS
@given(st.data())
def test_rms_jerk(data):
    ts = data.draw(clocks(min_n=0, max_n=40))
    v = data.draw(matrices(min_rows=len(ts), max_rows=len(ts), adversarial=False))
    np.testing.assert_allclose(motion.rms_jerk(ts, v), ref.rms_jerk(ts, v), rtol=1e-9)


@SETTINGS
@given(matrices(), st.integers(1, 6))
def test_repeat_runs(v, min_len):
    np.testing.assert_array_equal(motion.repeat_runs(v, min_len), ref.repeat_runs(v, min_len))


@SETTINGS
@given(matrices(max_rows=60), st.integers(1, 4), st.data())
def test_spike_scan(v, half, data):
    dev = np.array(data.draw(st.lists(st.sampled_from([0.05, 0.5, np.nan, 0.0]),
                                      min_size=v.shape[1], max_size=v.shape[1])))
    floor = motion.min_step(v)
    np.testing.assert_array_equal(floor, ref.min_step(v))
    _eq(motion.spike_scan(v, half, 8.0, dev, floor), ref.spike_scan(v, half, 8.0, dev, floor))


@SETTINGS
@given(matrices(min_rows=2, max_rows=40, adversarial=False), st.integers(0, 5))
def test_best_lag(v, shift):
    s = np.ascontiguousarray(np.roll(v, shift, axis=0))
    got, want = motion.best_lag(v, s, -6, 6), ref.best_lag(v, s, -6, 6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-12)
    # equal correlations may tie within rounding: the kernel's lag must be a best one
    lag = int(got[0])
    np.testing.assert_allclose(ref.best_lag(v, s, lag, lag)[1], want[1], rtol=1e-9, atol=1e-12)


def test_best_lag_finds_a_known_delay():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 3))
    s = np.ascontiguousarray(np.roll(a, 7, axis=0))
    assert motion.best_lag(np.ascontiguousarray(a), s, -10, 10)[0] == 7


@SETTINGS
@given(matrices(adversarial=False))
def test_diff_spread(v):
    np.testing.assert_allclose(motion.diff_spread(v), ref.diff_spread(v), rtol=1e-6,
                               atol=1e-9, equal_nan=True)


@SETTINGS
@given(matrices())
def test_diff_spread_skips_nonfinite_differences(v):
    assume(np.abs(v[np.isfinite(v)]).max(initial=0.0) < 1e100)  # squares would overflow
    got, want = motion.diff_spread(v), ref.diff_spread(v)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


@st.composite
def rising_clocks(draw, min_n=0, max_n=40):
    n = draw(st.integers(min_n, max_n))
    steps = draw(hnp.arrays(np.int64, (n,), elements=st.sampled_from(
        [20_000_000, 19_000_000, 21_000_000, 45_000_000, 0, 10**9])))
    return np.ascontiguousarray(1_762_000_000_000_000_000 + np.cumsum(steps))


@SETTINGS
@given(st.data())
def test_resample_diff(data):
    ts = data.draw(rising_clocks())
    v = data.draw(matrices(min_rows=len(ts), max_rows=len(ts)))
    cols = np.array(data.draw(st.lists(st.integers(0, v.shape[1] - 1), min_size=1,
                                       max_size=3)), dtype=np.int64)
    t0 = int(ts[0]) + data.draw(st.sampled_from([-30_000_000, 0, 7_000_000])) if len(ts) \
        else 1_762_000_000_000_000_000
    n = data.draw(st.integers(0, 60))
    got = motion.resample_diff(ts, v, cols, t0, 10e6, n)
    want = ref.resample_diff(ts, v, cols, t0, 10e6, n)
    assert got.shape == want.shape
    _eq(got, want)


@SETTINGS
@given(matrices(), st.booleans())
def test_stream_summary(v, diffs):
    (got, got_t), (want, want_t) = values.stream_summary(v, diffs), ref.stream_summary(v, diffs)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_t[:, :3], want_t[:, :3])  # bounds and steps: exact
    if np.abs(v[np.isfinite(v)]).max(initial=0.0) < 1e100:  # squares would overflow
        np.testing.assert_allclose(got_t[:, 3], want_t[:, 3], rtol=1e-6, atol=1e-9,
                                   equal_nan=True)


@SETTINGS
@given(matrices(max_rows=30).map(lambda a: np.where(np.isfinite(a), np.clip(a, -1e30, 1e30), a)
                                  .astype(np.float32)), st.booleans())
def test_stream_summary_float32(v, diffs):
    (got, got_t), (want, want_t) = values.stream_summary(v, diffs), ref.stream_summary(v, diffs)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_t[:, :3], want_t[:, :3])


@st.composite
def motions(draw, min_rows=1, max_rows=300, max_cols=4):
    """Longer joint-like signals where block skipping matters: still stretches, ramps fast
    and slow, sine motion, quantised readings, planted spikes and steps, NaN runs."""
    t = draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(1, max_cols))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = np.linspace(0.0, 1.0, t)
    cols = []
    for _ in range(d):
        kind = draw(st.sampled_from(["still", "ramp", "fast_ramp", "sine", "noise", "walk"]))
        if kind == "still":
            c = np.full(t, rng.uniform(-1, 1))
        elif kind == "ramp":
            c = x * rng.uniform(-2, 2)
        elif kind == "fast_ramp":
            c = np.arange(t) * rng.uniform(0.05, 0.6)
        elif kind == "sine":
            c = np.sin(x * rng.uniform(1, 60))
        elif kind == "noise":
            c = rng.normal(0, rng.choice([0.01, 0.2]), t)
        else:
            c = np.cumsum(rng.normal(0, 0.05, t))
        if draw(st.booleans()):
            c = np.round(c, 2)  # a digitised sensor
        cols.append(c)
    arr = np.stack(cols, axis=1)
    for _ in range(draw(st.integers(0, 4))):
        i, j = rng.integers(0, t), rng.integers(0, d)
        what = draw(st.sampled_from(["spike", "step", "nan", "nan_run", "inf", "pair"]))
        if what == "spike":
            arr[i, j] += rng.choice([-1, 1]) * rng.uniform(0.3, 3.0)
        elif what == "pair":
            arr[i:i + 2, j] += rng.uniform(0.5, 2.0)
        elif what == "step":
            arr[i:, j] += rng.uniform(-1, 1)
        elif what == "nan":
            arr[i, j] = np.nan
        elif what == "nan_run":
            arr[i:i + int(rng.integers(1, 12)), j] = np.nan
        else:
            arr[i, j] = rng.choice([np.inf, -np.inf])
    return np.ascontiguousarray(arr)


@SETTINGS
@given(motions(), st.integers(1, 8), st.data())
def test_spike_scan_on_motion(v, half, data):
    dev = np.array(data.draw(st.lists(st.sampled_from([0.01, 0.05, 0.2, 0.5, np.nan, 0.0]),
                                      min_size=v.shape[1], max_size=v.shape[1])))
    floor = motion.min_step(v)
    _eq(motion.spike_scan(v, half, 8.0, dev, floor), ref.spike_scan(v, half, 8.0, dev, floor))
    _eq(motion.spike_scan(v, half, 2.0, dev, floor), ref.spike_scan(v, half, 2.0, dev, floor))


def test_spike_scan_finds_a_planted_spike_in_a_fast_ramp():
    v = np.ascontiguousarray(np.arange(400, dtype=float)[:, None] * np.array([[0.3, 0.001]]))
    v[200, 0] += 20.0
    v[301, 1] = -2.0
    floor = motion.min_step(v)
    dev = np.array([0.2, 0.2])
    got = motion.spike_scan(v, 5, 8.0, dev, floor)
    _eq(got, ref.spike_scan(v, 5, 8.0, dev, floor))
    assert got[0] == 2 and got[1] == 200 and got[2] == 0


@SETTINGS
@given(st.data())
def test_velocity_scan_extreme_limits(data):
    ts = data.draw(clocks(min_n=2, max_n=40))
    v = data.draw(matrices(min_rows=len(ts), max_rows=len(ts)))
    vmax = np.array(data.draw(st.lists(
        st.sampled_from([1e-300, 5e-324, 1e-3, 1.0, 1e290, 1e308, 0.0, -1.0]),
        min_size=v.shape[1], max_size=v.shape[1])))
    _eq(motion.velocity_scan(ts, v, vmax, 0.0), ref.velocity_scan(ts, v, vmax, 0.0))


@SETTINGS
@given(matrices(min_rows=2, max_rows=60), st.integers(-8, 0), st.integers(0, 8))
def test_best_lag_skips_nonfinite(v, lag_min, lag_max):
    assume(np.abs(v[np.isfinite(v)]).max(initial=0.0) < 1e100)  # products would overflow
    s = np.ascontiguousarray(np.roll(v, 3, axis=0)[::-1])
    got, want = motion.best_lag(v, s, lag_min, lag_max), ref.best_lag(v, s, lag_min, lag_max)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-12)
    lag = int(got[0])
    np.testing.assert_allclose(ref.best_lag(v, s, lag, lag)[1], want[1], rtol=1e-9, atol=1e-12)


def test_lagged_dots_span_tiles():
    rng = np.random.default_rng(1)
    a = np.ascontiguousarray(rng.normal(size=(5000, 3)))
    s = np.ascontiguousarray(np.roll(a, -9, axis=0) + rng.normal(0, 0.1, size=a.shape))
    s[100:130] = np.nan
    got = motion.best_lag(a, s, -40, 40)
    want = ref.best_lag(a, s, -40, 40)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert got[0] == -9


@SETTINGS
@given(matrices(min_rows=0, max_rows=40, adversarial=False), st.integers(1, 6))
def test_decimate_sum(v, factor):
    np.testing.assert_array_equal(motion.decimate_sum(v, factor), ref.decimate_sum(v, factor))


@SETTINGS
@given(matrices(min_rows=0, max_rows=40))
def test_center_columns(v):
    assume(np.abs(v[np.isfinite(v)]).max(initial=0.0) < 1e100)
    got, want = v.copy(), v.copy()
    motion.center_columns(got)
    ref.center_columns(want)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, equal_nan=True)


def test_best_lag_energy_beside_a_huge_sample():
    # the overlap at lag -1 leaves the 1e12 sample out: its energy (2) must not be lost as the
    # difference of two running sums near 1e24
    a = np.array([[1e12], [1.0], [1.0]])
    s = np.ascontiguousarray(a[::-1])
    got, want = motion.best_lag(a, s, -1, 0), ref.best_lag(a, s, -1, 0)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[0] == -1 and abs(got[1] - 1.0) < 1e-12


@SETTINGS
@given(matrices(min_rows=1, max_rows=40, adversarial=False), st.booleans())
def test_percentile_span_matches_nanpercentile(v, with_nan):
    from checks.catalog.values import _percentile_span

    if with_nan:
        v = v.copy()
        v[0, 0] = np.nan
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        p1, p99 = np.nanpercentile(v, [1, 99], axis=0)
        got = _percentile_span(v, clean=not with_nan)
    np.testing.assert_array_equal(got, p99 - p1)


# The named results the checks read: each field holds the reference's figure of that name.
@SETTINGS
@given(clocks(), st.sampled_from([1.5, 2.0]))
def test_scan_clock_names_the_figures(ts, factor):
    got = timing.scan_clock(ts, 20e6, factor)
    want = ref.timestamp_scan(ts, 20e6, factor)
    _eq(list(got), want)
    assert got.first_non_monotonic == int(want[1]) and got.longest_gap_at == int(want[4])


@SETTINGS
@given(matrices(), st.data())
def test_named_value_scans(v, data):
    d = v.shape[1]
    lo = np.array(data.draw(st.lists(st.sampled_from([-1.0, np.nan]), min_size=d, max_size=d)))
    tol = np.full(d, 0.01)
    got = values.scan_limits(v, lo, lo + 1.5, tol)
    _eq(list(got), ref.limit_scan(v, lo, lo + 1.5, tol))
    assert isinstance(got.column, int) and isinstance(got.first, int)
    run = values.BadRun.of(values.nonfinite_scan(v)[0])
    _eq(list(run), ref.nonfinite_scan(v)[0])
    sat = stats.scan_saturation(v, values.nonfinite_scan(v)[1])
    _eq(np.column_stack(sat), ref.saturation_scan(v))
    cols = stats.stats_of_columns(v)
    np.testing.assert_array_equal(np.column_stack(cols), stats.column_stats(v))


@SETTINGS
@given(st.data())
def test_named_motion_scans(data):
    ts = data.draw(clocks(min_n=0, max_n=40))
    v = data.draw(matrices(min_rows=len(ts), max_rows=len(ts)))
    vmax = np.full(v.shape[1], 1.0)
    _eq(list(motion.scan_speeds(ts, v, vmax, 10e6)), ref.velocity_scan(ts, v, vmax, 10e6))
    dev, floor = np.full(v.shape[1], 0.5), np.zeros(v.shape[1])
    _eq(list(motion.scan_spikes(v, 2, 8.0, dev, floor)), ref.spike_scan(v, 2, 8.0, dev, floor))
