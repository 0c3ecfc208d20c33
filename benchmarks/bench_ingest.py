"""``embodiq ingest`` against ``embodiq check`` on the same recordings (goal: ratio <= 1.5).

Both commands are run as an operator runs them (a fresh process each, all cores): ``check``
grades and writes nothing; ``ingest`` also registers, stamps, quarantines or curates, records
everything in the store's Dagster instance and publishes a version (with its HTML report), into
a fresh store. Two inputs: a generated 60 s take (50 Hz joints, 200 Hz IMU, two 640x480 30 fps
MP4 sidecars) and the G1 LeRobot sample (100 short episodes) when ``../shared`` is there. Each
command is timed ``REPEATS`` times and the best time kept, so a busy machine does not decide the
ratio.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from pipelines.synthetic import CameraPlan, EpisodePlan, generate_episode  # noqa: E402
from robots.profile import get_profile  # noqa: E402
from schemas.recording_writer import write_recording  # noqa: E402

G1 = ROOT.parent / "shared" / "data" / "lerobot-v21-unitree-g1"
G1_MAPPING = ROOT / "pipelines" / "mappings" / "lerobot-unitree-g1-inspire.toml"
REPEATS = 2
CLI = [sys.executable, "-c", "from pipelines.cli import main; main()"]


def take_60s(folder: Path) -> Path:
    plan = EpisodePlan(duration_s=60.0, rate_hz=50.0, imu_rate_hz=200.0, seed=7, cameras=(
        CameraPlan("cam_head", "video", width=640, height=480, rate_hz=30.0),
        CameraPlan("cam_wrist", "video", width=640, height=480, rate_hz=30.0, mount="wrist"),
    ))
    return write_recording(generate_episode(get_profile("unitree-h1"), plan),
                           folder / "take_60s.h5")


def timed(args: list[str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"embodiq {args[0]} exited {proc.returncode}")
    return elapsed


def compare(name: str, inputs: list[str], extra: list[str], work: Path) -> None:
    best_check = best_ingest = float("inf")
    for i in range(REPEATS):
        best_check = min(best_check, timed(["check", *inputs, *extra, "--quiet"]))
        store = work / f"store-{name}-{i}"
        best_ingest = min(best_ingest, timed(["ingest", *inputs, *extra, "--dataset", name,
                                              "--store", str(store), "--quiet"]))
        shutil.rmtree(store, ignore_errors=True)
    print(f"{name}_check_s={best_check:.2f}")
    print(f"{name}_ingest_s={best_ingest:.2f}")
    print(f"ingest_vs_check_{name}={best_ingest / best_check:.2f}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        take = take_60s(work / "take")
        print(f"# 60 s take written in {time.perf_counter() - t:.1f} s "
              f"({sum(p.stat().st_size for p in take.parent.iterdir()) / 1e6:.0f} MB)")
        compare("take60", [str(take)], [], work)
        if G1.is_dir():
            compare("g1", [str(G1)], ["--mapping", str(G1_MAPPING)], work)
        else:
            print(f"# {G1} not found: G1 sample skipped")
    print("# goal: ingest_vs_check <= 1.5")


if __name__ == "__main__":
    main()
