"""A clean take whose cameras look at a still scene with one small object moving over it (a
table seen from the head while the hand carries a cup) goes through the whole pipeline and
grades A with no warning: a picture that changes only where the object is is not frozen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from checks.catalog.video import scan_camera
from pipelines.runner import ingest
from pipelines.store import Store
from pipelines.synthetic import CameraPlan, EpisodePlan, generate_episode
from robots.profile import get_profile
from schemas.quality_profile import load_quality_profile
from schemas.recording import read_recording
from schemas.recording_writer import write_recording

SECONDS = 30.0


@dataclass
class StillSceneFrames:
    """A fixed, textured scene under fresh sensor grain, with a small dark object (1/80 of
    the picture) gliding over it along a smooth path; the camera itself does not move."""

    width: int
    height: int
    n: int
    seed: int

    def iter_frames(self) -> Iterator[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        h, w = self.height, self.width
        small = rng.integers(50, 205, size=(h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
        scene = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)[:h, :w].astype(np.int16)
        side = max(w // 9, 6)
        cx, cy, r = (w - side) / 2, (h - side) / 2, 0.35 * min(w, h)
        for i in range(self.n):
            # once round a circle every 6 s: steady speed, never a still moment
            a = 2 * np.pi * i / (6 * 30)
            x, y = int(round(cx + r * np.cos(a))), int(round(cy + r * np.sin(a)))
            frame = scene + rng.integers(-1, 2, size=scene.shape, dtype=np.int16)  # grain
            frame[y:y + side, x:x + side] = (25, 30, 140)
            yield np.clip(frame, 0, 255).astype(np.uint8)

    def describe(self) -> str:
        return f"still scene {self.width}x{self.height} with a small moving object"


def write_still_scene_take(path: Path) -> Path:
    """A clean H1 take (robot moving throughout) whose head camera (stored frames) and wrist
    camera (an MP4 sidecar) both see the still scene."""
    cams = (CameraPlan("cam_head", "rgb8", mount="head"),
            CameraPlan("cam_wrist", "video", mount="wrist_right"))
    ep = generate_episode(get_profile("unitree-h1"),
                          EpisodePlan(duration_s=SECONDS, seed=21, cameras=cams))
    for i, (name, cam) in enumerate(ep.cameras.items()):
        ep.cameras[name] = replace(cam, frames=StillSceneFrames(cam.width, cam.height,
                                                                cam.n_frames, seed=5 + i))
    ep.cameras["cam_wrist"].video_path = Path(f"{path.stem}.cam_wrist.mp4")
    return write_recording(ep, path)


def test_a_clean_still_scene_take_grades_a_with_no_warning(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_still_scene_take(inbox / "h1_table_0001.h5")
    store = Store(tmp_path / "store")
    summary = ingest(store, [inbox], "table", workers=1)
    assert not summary.run_failed
    (outcome,) = summary.outcomes
    reports = list(store.root.rglob("report.json"))
    findings = [f for r in reports for f in json.loads(r.read_text()).get("findings", [])]
    noted = [(f["check_id"], f["severity"], f["message"]) for f in findings
             if f["severity"] != "info"]
    assert outcome.grade == "A" and outcome.passed, noted
    assert reports and noted == []
    assert summary.version == 1 and summary.counts["passed"] == 1


def test_the_take_changes_in_one_block_and_hardly_in_the_whole_frame(tmp_path):
    """What makes the take a trap for a whole-frame rule: the frame mean changes by less than
    video.frozen's limit between frames, while the object's block changes by far more."""
    ep = read_recording(write_still_scene_take(tmp_path / "h1_table_0001.h5")).episode
    limit = float(load_quality_profile().checks["video.frozen"]["max_block_diff"])
    for cam in ep.cameras.values():
        sc = scan_camera(cam, False, False)
        assert sc.decoded == cam.n_frames
        assert np.median(np.asarray(sc.diff[1:])) < limit < np.min(np.asarray(sc.block_diff[1:]))
