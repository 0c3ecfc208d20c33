"""Helpers to place demo recordings (with their sidecars) where a test needs them."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipelines.demo import DEMO_SET, DemoRecording


def demo_by_defect(defect: str | None) -> list[DemoRecording]:
    return [r for r in DEMO_SET if r.defect == defect]


def copy_recording(src_folder: Path, rec: DemoRecording, dst: Path) -> Path:
    """Copy one demo recording with its sidecar(s) into ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    stem = Path(rec.file).stem
    for p in src_folder.iterdir():
        if p.name == rec.file or p.name.startswith(stem + "."):
            shutil.copy2(p, dst / p.name)
            (dst / p.name).chmod(0o644)
    return dst / rec.file
