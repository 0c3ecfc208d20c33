"""Peak memory of ``embodiq check`` against episode length.

Writes a 15-minute and a one-hour 50 Hz, 32-joint recording (no cameras: video is streamed and
does not count), runs ``embodiq check`` on each in a fresh process and reports the largest peak
RSS of its processes (the worker that reads and checks the recording, in practice). What may
grow with length is the arrays that must be held (the streams themselves); the figure to
read is ``check_rss_growth_vs_arrays``: extra peak memory per extra byte of stream data (1.0
means the streams are held once and nothing else grows; a per-check copy would add about 1 each).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from proc_tree import run_watched  # noqa: E402

from pipelines.synthetic import EpisodePlan, generate_episode  # noqa: E402
from robots.profile import JointSpec, RobotProfile  # noqa: E402
from schemas.recording_writer import write_recording  # noqa: E402

N_JOINTS = 32


def bench_profile_toml() -> str:
    lines = ['id = "bench-32"', 'manufacturer = "embodiq"', 'model_name = "bench 32-DoF"',
             'kind = "humanoid"', 'source = "synthetic, for benchmarks"']
    for i in range(N_JOINTS):
        lines += ["[[joints]]", f'name = "joint_{i:02d}"', "lower = -2.0", "upper = 2.0",
                  "velocity = 10.0", "effort = 100.0"]
    return "\n".join(lines) + "\n"


def bench_profile() -> RobotProfile:
    joints = tuple(JointSpec(f"joint_{i:02d}", -2.0, 2.0, 10.0, 100.0) for i in range(N_JOINTS))
    return RobotProfile("bench-32", "embodiq", "bench 32-DoF", "humanoid", joints)


def write_long(path: Path, minutes: float) -> int:
    ep = generate_episode(bench_profile(), EpisodePlan(duration_s=minutes * 60, rate_hz=50.0,
                                                       imu_rate_hz=200.0, cameras=(),
                                                       robot_serial="BENCH0001"))
    write_recording(ep, path)
    return sum(s.values.nbytes + s.timestamps.nbytes for s in ep.streams.values())


def peak_rss_mb(path: Path, env: dict[str, str]) -> float:
    """The largest peak RSS (MB) of any process of ``embodiq check`` on ``path``: the command
    itself, the fork server and the worker that reads and checks the recording."""
    # VmHWM, not ru_maxrss: the latter survives exec and would report this parent's peak
    code = ("import sys; from pipelines.cli.main import app\n"
            "try:\n    app(['check', sys.argv[1], '--json', '--quiet'])\n"
            "except SystemExit:\n    pass\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
            "print(int(hwm.split()[1]), file=sys.stderr)")
    fig = run_watched([sys.executable, "-c", code, str(path)], env=env, cwd=HERE.parent)
    return max(int(fig.stderr.strip().splitlines()[-1]) / 1024.0, fig.largest_mb)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        robots = tmp_p / "robots"
        robots.mkdir()
        (robots / "bench-32.toml").write_text(bench_profile_toml())
        env = {**os.environ, "EMBODIQ_ROBOTS": str(robots), "EMBODIQ_STORE": str(tmp_p / "s")}
        short, long_ = tmp_p / "m15.h5", tmp_p / "h1.h5"
        bytes_short = write_long(short, 15)
        bytes_long = write_long(long_, 60)
        peak_rss_mb(short, env)  # warm the numba cache so compile memory does not count
        rss_short = peak_rss_mb(short, env)
        rss_long = peak_rss_mb(long_, env)
    growth = (rss_long - rss_short) * 2**20 / max(bytes_long - bytes_short, 1)
    print(f"stream arrays: 15 min {bytes_short / 2**20:.1f} MiB, 1 h {bytes_long / 2**20:.1f} MiB")
    print(f"check_peak_rss_mb_15min={rss_short:.1f}")
    print(f"check_peak_rss_mb_1h={rss_long:.1f}")
    print(f"check_rss_growth_vs_arrays={growth:.2f}")


if __name__ == "__main__":
    main()
