"""Numeric checks on a one-hour, 50 Hz, 32-joint recording: throughput and ratios.

Baselines measured in the same run: the plain-numpy references of the same kernels, and
reading the same arrays from the HDF5 file with h5py. Goals: speed-up over numpy >= 8,
time relative to the HDF5 read <= 4 (the catalogue reads every stream at least once, and
several checks look at the data, so a warm read's memory copy is the floor, not the goal).
A per-check breakdown follows the figures.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import numpy_reference as ref  # noqa: E402
from bench_memory import bench_profile, bench_profile_toml  # noqa: E402

from checks.registry import EpisodeContext, all_checks, run_episode_checks  # noqa: E402
from pipelines.synthetic import EpisodePlan, generate_episode  # noqa: E402
from schemas.quality_profile import load_quality_profile  # noqa: E402
from schemas.recording import read_recording  # noqa: E402
from schemas.recording_writer import write_recording  # noqa: E402

NUMERIC = ["time.non_monotonic", "time.gap", "time.rate", "time.jitter", "time.sync",
           "value.nonfinite", "value.joint_limit", "value.velocity_limit", "value.effort_limit",
           "value.stale", "value.spike", "motion.static", "motion.idle", "motion.jerk",
           "action.saturation", "action.tracking", "episode.duration"]


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _within(bounds, lo, hi) -> bool:
    with np.errstate(invalid="ignore"):
        return not ((bounds[:, 0] < lo).any() or (bounds[:, 1] > hi).any())


def numpy_pass(ep, robot) -> None:
    """The same work as the numeric checks (same skips on a clean stream), with the numpy
    references of the kernels."""
    summaries = {}
    for s in ep.streams.values():
        ts, v = s.timestamps, np.ascontiguousarray(s.values)
        joint = s.kind == "joint_position" or (s.kind == "action" and s.is_joint_space)
        ref.timestamp_scan(ts, s.period_ns, 1.5)
        _, table = summaries[s.name] = ref.stream_summary(v, joint)
        bounds = table[:, :2]
        if s.kind != "action":
            ref.repeat_runs(v, max(int(0.25 * s.rate_hz), 2))
        if s.kind in ("joint_position", "action"):
            lo, hi, vel = robot.limits_for(s.names)
            tol = np.full(len(lo), 0.01)
            if not _within(bounds, lo - tol, hi + tol):
                ref.limit_scan(v, lo, hi, tol)
            ref.spike_scan(v, 5, 8.0, (hi - lo) * 0.05, table[:, 2])
        if s.kind == "joint_position":
            ref.velocity_scan(ts, v, vel * 1.5, 0.5 * s.period_ns)
            ref.active_span(ts, v, 0.02, 5)
            ref.rms_jerk(ts, v)
        if s.kind == "joint_effort":
            eff = robot.efforts_for(s.names)
            if not _within(bounds, -eff, eff):
                ref.limit_scan(v, -eff, eff, np.zeros(len(eff)))
        if s.kind == "action":
            ref.saturation_scan(v, bounds)
    st, act = ep.primary_state, ep.primary_action
    spread = summaries[act.name][1][:, 3]
    cols = np.argsort(-np.nan_to_num(spread, nan=-1.0), kind="stable")[:8]
    t0 = int(max(st.timestamps[0], act.timestamps[0]))
    n = int((min(st.timestamps[-1], act.timestamps[-1]) - t0) / 2e7) + 1
    da = ref.resample_diff(act.timestamps, act.values, cols, t0, 2e7, n)
    ds = ref.resample_diff(st.timestamps, st.values, cols, t0, 2e7, n)
    ref.center_columns(da)
    ref.center_columns(ds)
    ref.best_lag(ref.decimate_sum(da, 5), ref.decimate_sum(ds, 5), -10, 10)
    ref.best_lag(da, ds, -7, 7)


def per_check_ms(episode, robot, profile, repeat: int = 5) -> dict[str, float]:
    """Milliseconds per numeric check in the runner's order, sharing one context as a run
    does (a per-stream summary is charged to the first check that asks for it); the median
    of ``repeat`` runs."""
    specs = all_checks()
    ids = [c for c in specs if c in NUMERIC and c in profile.checks]
    runs: list[dict[str, float]] = []
    for _ in range(repeat):
        ctx = EpisodeContext(episode=episode, robot=robot, profile=profile)
        times = {}
        for cid in ids:
            st = ctx.settings(cid)
            if not st.enabled:
                continue
            t0 = time.perf_counter()
            specs[cid].call(ctx, st)
            times[cid] = (time.perf_counter() - t0) * 1e3
        runs.append(times)
    return {cid: float(np.median([r[cid] for r in runs])) for cid in runs[0]}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        robots = Path(tmp) / "robots"
        robots.mkdir()
        (robots / "bench-32.toml").write_text(bench_profile_toml())
        os.environ["EMBODIQ_ROBOTS"] = str(robots)
        robot = bench_profile()
        ep = generate_episode(robot, EpisodePlan(duration_s=3600, rate_hz=50.0, cameras=(),
                                                 robot_serial="BENCH0001"))
        path = write_recording(ep, Path(tmp) / "hour.h5")
        nbytes = sum(s.values.nbytes + s.timestamps.nbytes for s in ep.streams.values())

        def hdf5_read() -> None:
            with h5py.File(path, "r") as f:
                for name in f["streams"]:
                    f[f"streams/{name}/timestamps"][()]
                    f[f"streams/{name}/values"][()]

        episode = read_recording(path).episode
        profile = load_quality_profile("default")
        run_episode_checks(episode, robot, profile, only=NUMERIC)  # compile / load the cache
        t_checks = best_of(lambda: run_episode_checks(episode, robot, profile, only=NUMERIC))
        t_numpy = best_of(lambda: numpy_pass(episode, robot), repeat=1)
        t_read = best_of(hdf5_read)
        per_check = per_check_ms(episode, robot, profile)
    print(f"recording: 1 h at 50 Hz, {len(robot.joints)} joints, "
          f"{nbytes / 2**20:.0f} MiB of stream arrays")
    print(f"numeric checks: {t_checks * 1e3:.1f} ms; numpy references: {t_numpy * 1e3:.1f} ms; "
          f"h5py read of the same arrays: {t_read * 1e3:.1f} ms")
    print("per check (ms, median of 5 runs, registry order):")
    for cid, ms in sorted(per_check.items(), key=lambda kv: -kv[1]):
        print(f"  {cid:22s} {ms:8.1f}")
    print("goals: speed-up over numpy >= 8, time vs HDF5 read <= 4")
    print(f"checks_gbps={nbytes / t_checks / 1e9:.3f}")
    print(f"checks_speedup_vs_numpy={t_numpy / t_checks:.2f}")
    print(f"checks_time_vs_hdf5_read={t_checks / t_read:.3f}")


if __name__ == "__main__":
    main()
