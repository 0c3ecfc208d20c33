"""``make bench``: every benchmark, then the headline ratios as ``name=value`` lines.

Each benchmark measures its baseline in the same run (numpy references, h5py reads, OpenCV's
plain decode) and prints ratios, so figures compare across machines. Nothing here asserts a
time: the goals are printed beside the figures for people to read.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_checks.py", "bench_video.py", "bench_memory.py", "bench_ingest.py",
           "bench_lerobot.py", "bench_scale.py"]
HEADLINE = ("checks_gbps", "checks_speedup_vs_numpy", "checks_time_vs_hdf5_read",
            "video_decode_fps", "video_checks_fps", "video_checks_vs_decode", "verdict_vs_decode",
            "verdict_cli_vs_decode",
            "check_peak_rss_mb_1h", "check_peak_rss_mb_15min", "check_rss_growth_vs_arrays",
            "ingest_vs_check_take60", "ingest_vs_check_g1",
            "check_speedup_vs_lerobot_doctor", "check_cpu_speedup_vs_lerobot_doctor",
            "check_peak_rss_mb", "check_parent_rss_mb", "ingest_speedup_2_workers",
            "ingest_run_speedup_2_workers", "in_process_ingest_speedup_2_workers",
            "check_speedup_2_workers", "cpu_speedup_2_processes")


def main() -> int:
    figures: dict[str, str] = {}
    status = 0
    for name in BENCHES:
        script = HERE / name
        if not script.is_file():
            continue
        print(f"== {name}", flush=True)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-4000:])
            status = 1
        for line in proc.stdout.splitlines():
            m = re.fullmatch(r"([a-z0-9_]+)=(\S+)", line.strip())
            if m:
                figures[m.group(1)] = m.group(2)
    print("== summary")
    for key in HEADLINE:
        if key in figures:
            print(f"{key}={figures[key]}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
