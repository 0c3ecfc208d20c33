"""Video checks against OpenCV's plain decode of the same file (goal: ratio >= 0.8).

Both are measured in this run on a 30 s, 640x480, 30 fps textured, moving video.
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

from checks.catalog.video import scan_camera  # noqa: E402
from schemas.episode import Camera  # noqa: E402
from schemas.frame_sources import VideoFrames  # noqa: E402
from schemas.recording_writer import write_video  # noqa: E402

W, H, FPS, SECONDS = 640, 480, 30.0, 30


def frames():
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


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.mp4"
        n = write_video(path, frames(), FPS, W, H)
        ts = (np.arange(n) * 1e9 / FPS).astype(np.int64)
        cam = Camera("bench", ts, "video", FPS, W, H, frames=VideoFrames(path), video_path=path)
        plain_decode(path)
        t0 = time.perf_counter()
        plain_decode(path)
        t_decode = time.perf_counter() - t0
        t0 = time.perf_counter()
        scan = scan_camera(cam, want_luma=True, want_blur=True)
        t_checks = time.perf_counter() - t0
    assert scan.decoded == n
    print(f"video: {n} frames {W}x{H}; plain decode {t_decode:.2f} s, checks {t_checks:.2f} s")
    print("goal: video_checks_vs_decode >= 0.8")
    print(f"video_decode_fps={n / t_decode:.1f}")
    print(f"video_checks_fps={n / t_checks:.1f}")
    print(f"video_checks_vs_decode={t_decode / t_checks:.3f}")


if __name__ == "__main__":
    main()
