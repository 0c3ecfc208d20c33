"""Video checks against OpenCV's plain decode of the same file (goal: ratio >= 0.8).

Both are measured in this run on a 30 s, 640x480, 30 fps textured, moving video: the plain
decode reads every frame and does nothing else; the checks are the six registered video checks,
run through the registry as a quality gate runs them. Each is timed five times, interleaved,
and the best time of each is kept, so a busy machine does not decide the ratio.
"""

from __future__ import annotations

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

W, H, FPS, SECONDS, REPEATS = 640, 480, 30.0, 30, 5


def frames():
    """A random texture sliding diagonally: sharp, mid-grey, never frozen."""
    rng = np.random.default_rng(0)
    tex = np.repeat(np.repeat(rng.integers(30, 220, (H // 8 + 40, W // 8 + 40, 3),
                                           dtype=np.uint8), 8, 0), 8, 1)
    for i in range(int(FPS * SECONDS)):
        y, x = (i * 2) % 300, (i * 3) % 300
        yield tex[y:y + H, x:x + W]


def plain_decode(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, _ = cap.read()
        if not ok:
            break
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


def main() -> None:
    profile = load_quality_profile("default")
    video_ids = [c for c in all_checks() if c.startswith("video.")]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.mp4"
        n = write_video(path, frames(), FPS, W, H)
        ep = episode(path, n)
        plain_decode(path)  # warm the file cache and the decoder libraries
        t_decode, t_checks = [], []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            assert plain_decode(path) == n
            t_decode.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            findings = run_episode_checks(ep, None, profile, only=video_ids)
            t_checks.append(time.perf_counter() - t0)
    bad = [f.message for f in findings if f.severity is not Severity.INFO]
    assert not bad, bad
    d, c = min(t_decode), min(t_checks)
    print(f"video: {n} frames {W}x{H}; checks {', '.join(video_ids)}")
    print(f"best of {REPEATS}: plain decode {d:.2f} s, checks {c:.2f} s")
    print("goal: video_checks_vs_decode >= 0.8")
    print(f"video_decode_fps={n / d:.1f}")
    print(f"video_checks_fps={n / c:.1f}")
    print(f"video_checks_vs_decode={d / c:.3f}")


if __name__ == "__main__":
    main()
