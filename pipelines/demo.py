"""``embodiq demo``: synthetic recordings, some with planted defects, through the real pipeline.

The recordings are written once into ``<store>/inbox/demo/`` (kept on later runs, so a second
demo re-ingests the same files and publishes no duplicate) and ingested as the dataset ``demo``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.runner import IngestSummary, ingest
from pipelines.store import Store
from pipelines.synthetic import (
    CameraPlan,
    EpisodePlan,
    drop_root_attribute,
    generate_episode,
    plant_defect,
    truncate_file,
)
from robots.profile import get_profile
from schemas.recording_writer import write_recording

DATASET = "demo"


@dataclass(frozen=True)
class DemoRecording:
    file: str
    robot: str
    serial: str
    seed: int
    defect: str | None = None  # a check id whose defect is planted, or a structural fault
    task: str = "pick up the red cup and place it on the tray"
    operator: str = "op_07"


DEMO_SET: tuple[DemoRecording, ...] = (
    DemoRecording("h1_cup_0001.h5", "unitree-h1", "H1A0000001", 1),
    DemoRecording("h1_cup_0002.h5", "unitree-h1", "H1A0000001", 2, operator="op_12"),
    DemoRecording("h1_cup_0003.h5", "unitree-h1", "H1A0000002", 3),
    DemoRecording("h1_drawer_0001.h5", "unitree-h1", "H1A0000003", 4,
                  task="open the top drawer", operator="op_12"),
    DemoRecording("h1_drawer_0002.h5", "unitree-h1", "H1A0000003", 5,
                  task="open the top drawer"),
    DemoRecording("h1_cup_0004_frozen_cam.h5", "unitree-h1", "H1A0000002", 6, "video.frozen"),
    DemoRecording("h1_cup_0005_nan.h5", "unitree-h1", "H1A0000001", 7, "value.nonfinite"),
    DemoRecording("h1_cup_0006_joint_limit.h5", "unitree-h1", "H1A0000002", 8,
                  "value.joint_limit"),
    DemoRecording("h1_drawer_0003_gap.h5", "unitree-h1", "H1A0000003", 9, "time.gap",
                  task="open the top drawer"),
    DemoRecording("h1_drawer_0004_clock.h5", "unitree-h1", "H1A0000003", 10,
                  "time.non_monotonic", task="open the top drawer"),
    DemoRecording("h1_cup_0007_no_serial.h5", "unitree-h1", "H1A0000001", 11,
                  "schema.metadata"),
    DemoRecording("h1_cup_0008_truncated.h5", "unitree-h1", "H1A0000001", 12,
                  "schema.unreadable"),
)


def write_demo_recording(folder: Path, rec: DemoRecording) -> Path:
    profile = get_profile(rec.robot)
    if profile is None:
        raise RuntimeError(f"robot profile '{rec.robot}' is not installed")
    plan = EpisodePlan(
        duration_s=6.0, rate_hz=50.0, seed=rec.seed, robot_serial=rec.serial,
        operator_id=rec.operator, task=rec.task,
        task_id="open_drawer_v1" if "drawer" in rec.task else "pick_cup_v1",
        cameras=(CameraPlan("cam_head", "rgb8", mount="head"),
                 CameraPlan("cam_wrist", "video", mount="wrist_right")),
    )
    ep = generate_episode(profile, plan)
    if rec.defect and not rec.defect.startswith("schema."):
        ep = plant_defect(ep, rec.defect, seed=rec.seed)
    # sidecar names are per recording, so recordings can share one folder
    stem = Path(rec.file).stem
    ep.cameras["cam_wrist"].video_path = Path(f"{stem}.cam_wrist.mp4")
    path = write_recording(ep, folder / rec.file)
    if rec.defect == "schema.metadata":
        drop_root_attribute(path, "robot_serial")
    elif rec.defect == "schema.unreadable":
        truncate_file(path, 0.4)
    return path


def make_demo_recordings(folder: Path,
                         recordings: tuple[DemoRecording, ...] = DEMO_SET) -> list[Path]:
    """Write the demo set into ``folder``; files already there are kept as they are."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for rec in recordings:
        path = folder / rec.file
        if not path.exists():
            write_demo_recording(folder, rec)
        out.append(path)
    return out


def run_demo(store_root: Path | str | None = None,
             on_progress: Callable[[str, int, int], None] | None = None,
             **options: Any) -> IngestSummary:
    """Write the demo set (once) and ingest it; ``options`` go to :func:`ingest`."""
    store = Store(store_root).ensure()
    folder = store.inbox_dir / DATASET
    make_demo_recordings(folder)
    return ingest(store, [folder], DATASET, on_progress=on_progress, **options)
