"""Video checks and the whole verdict against OpenCV's plain decode of the same files.

Two figures, each measured side by side with its baseline in this run, in interleaved rounds;
the figure is the median of the rounds' ratios, so a busy machine does not decide it:

- ``video_checks_vs_decode`` (goal >= 0.8): frame rate of the seven registered video checks,
  run through the registry as a quality gate runs them, over the frame rate of a plain OpenCV
  decode (every frame read, nothing else) of a 30 s, 640x480, 30 fps textured, moving video;
- ``verdict_vs_decode`` (goal <= 1.2): wall time of the check path of ``embodiq check
  take.h5`` (hash, read, every episode check, digest: ``assess_ref``, called in this process)
  over a plain sequential OpenCV decode of the take's two videos, for a 60 s synthetic take:
  50 Hz joints, 200 Hz IMU, two 640x480 30 fps MP4 sidecars. ``verdict_cli_vs_decode`` is the
  command itself in a fresh process, as an operator runs it: the same plus Python's start-up,
  the imports and loading the compiled kernels from their cache.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from checks.registry import all_checks, run_episode_checks  # noqa: E402
from schemas.episode import Camera, Episode, EpisodeMetadata, Stream  # noqa: E402
from schemas.findings import Severity  # noqa: E402
from schemas.frame_sources import VideoFrames  # noqa: E402
from schemas.quality_profile import load_quality_profile  # noqa: E402
from schemas.recording_writer import write_video  # noqa: E402

W, H, FPS, SECONDS = 640, 480, 30.0, 30
ROUNDS_CHECKS, ROUNDS_VERDICT = 7, 3
TAKE_SECONDS = 60.0


def frames():
    """A random texture sliding diagonally: sharp, mid-grey, never frozen."""
    rng = np.random.default_rng(0)
    tex = np.repeat(np.repeat(rng.integers(30, 220, (H // 8 + 40, W // 8 + 40, 3),
                                           dtype=np.uint8), 8, 0), 8, 1)
    for i in range(int(FPS * SECONDS)):
        y, x = (i * 2) % 300, (i * 3) % 300
        yield tex[y:y + H, x:x + W]


def plain_decode(*paths: Path) -> int:
    """Every frame of each video in turn, as OpenCV reads it, and nothing else."""
    n = 0
    for path in paths:
        cap = cv2.VideoCapture(str(path))
        while cap.read()[0]:
            n += 1
        cap.release()
    return n


def episode(path: Path, n: int) -> Episode:
    ts = (np.arange(n) * 1e9 / FPS).astype(np.int64)
    t = ts / 1e9
    q = np.stack([0.3 * np.sin(t), 0.2 * np.cos(0.5 * t)], axis=1)
    md = EpisodeMetadata("bench", "B1", "op", "teleop_vr", "bench", "lab",
                         "2025-11-01T00:00:00Z")
    return Episode(md, streams={"joint_pos": Stream("joint_pos", "joint_position", ts, q,
                                                    ["j0", "j1"], "rad", FPS)},
                   cameras={"bench": Camera("bench", ts, "video", FPS, W, H,
                                            frames=VideoFrames(path), video_path=path)})


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_checks(tmp: Path) -> None:
    profile = load_quality_profile("default")
    video_ids = [c for c in all_checks() if c.startswith("video.")]
    path = tmp / "bench.mp4"
    n = write_video(path, frames(), FPS, W, H)
    ep = episode(path, n)
    plain_decode(path)  # warm the file cache and the decoder libraries
    findings = run_episode_checks(ep, None, profile, only=video_ids)  # and the kernels
    bad = [f.message for f in findings if f.severity is not Severity.INFO]
    assert not bad, bad
    t_decode, t_checks = [], []
    for _ in range(ROUNDS_CHECKS):
        t_decode.append(timed(lambda: plain_decode(path)))
        t_checks.append(timed(lambda: run_episode_checks(ep, None, profile, only=video_ids)))
    ratios = [d / c for d, c in zip(t_decode, t_checks, strict=True)]
    d, c = statistics.median(t_decode), statistics.median(t_checks)
    print(f"video: {n} frames {W}x{H}; checks {', '.join(video_ids)}")
    print(f"median of {ROUNDS_CHECKS} rounds: plain decode {d:.2f} s, checks {c:.2f} s; "
          f"ratios {', '.join(f'{r:.2f}' for r in ratios)}")
    print("goal: video_checks_vs_decode >= 0.8")
    print(f"video_decode_fps={n / d:.1f}")
    print(f"video_checks_fps={n / c:.1f}")
    print(f"video_checks_vs_decode={statistics.median(ratios):.3f}")


def write_take(folder: Path) -> tuple[Path, list[Path]]:
    from pipelines.synthetic import CameraPlan, EpisodePlan, generate_episode
    from robots.profile import get_profile
    from schemas.recording_writer import write_recording

    plan = EpisodePlan(duration_s=TAKE_SECONDS, rate_hz=50.0, imu_rate_hz=200.0, cameras=(
        CameraPlan("cam_head", "video", width=W, height=H, mount="head"),
        CameraPlan("cam_wrist", "video", width=W, height=H, mount="wrist_right")))
    take = write_recording(generate_episode(get_profile("unitree-h1"), plan),
                           folder / "take.h5")
    return take, [folder / "cam_head.mp4", folder / "cam_wrist.mp4"]


def bench_verdict(tmp: Path) -> None:
    from pipelines.processing import assess_ref
    from pipelines.sources import discover
    from robots.profile import ProfileCatalog

    take, videos = write_take(tmp / "take")
    env = {**os.environ, "EMBODIQ_STORE": str(tmp / "store")}
    cli = [sys.executable, "-c", "from pipelines.cli import main; main()",
           "check", str(take), "--json", "--quiet"]

    def verdict() -> None:
        proc = subprocess.run(cli, env=env, cwd=HERE.parent, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"embodiq check failed ({proc.returncode}):\n"
                             f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")

    profile = load_quality_profile("default")
    refs, _ = discover([take])
    catalog = ProfileCatalog([])

    def in_process() -> None:
        assert assess_ref(refs[0], profile, catalog).passed

    n = plain_decode(*videos)  # warm the file cache, the decoders and the kernel cache
    verdict()
    in_process()
    t_decode, t_cli, t_in = [], [], []
    for _ in range(ROUNDS_VERDICT):
        t_decode.append(timed(lambda: plain_decode(*videos)))
        t_cli.append(timed(verdict))
        t_in.append(timed(in_process))
    cli_r = [c / d for c, d in zip(t_cli, t_decode, strict=True)]
    in_r = [c / d for c, d in zip(t_in, t_decode, strict=True)]
    print(f"take: {TAKE_SECONDS:g} s, 50 Hz joints, 200 Hz IMU, two {W}x{H} {FPS:g} fps MP4 "
          f"sidecars ({n} frames)")
    print(f"median of {ROUNDS_VERDICT} rounds: plain decode {statistics.median(t_decode):.2f} s, "
          f"embodiq check {statistics.median(t_cli):.2f} s, in process "
          f"{statistics.median(t_in):.2f} s; ratios in process "
          f"{', '.join(f'{r:.2f}' for r in in_r)}, command {', '.join(f'{r:.2f}' for r in cli_r)}")
    print("goal: verdict_vs_decode <= 1.2")
    print(f"verdict_vs_decode={statistics.median(in_r):.3f}")
    print(f"verdict_cli_vs_decode={statistics.median(cli_r):.3f}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench_checks(Path(tmp))
        bench_verdict(Path(tmp))


if __name__ == "__main__":
    main()
