"""The native layout: recording format 1.0 (one HDF5 file per episode, sidecar videos)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py

from pipelines.adapters.hdf5 import hdf5_where
from schemas.names import contained_problem, is_plain_file_name
from schemas.read_result import ReadResult
from schemas.recording import read_recording


class EmbodiqAdapter:
    name = "embodiq"

    def detect(self, path: Path) -> bool:
        return hdf5_where(path, lambda f: f.attrs.get("format") in (
            "embodiq.recording", b"embodiq.recording"))

    def episode_keys(self, path: Path) -> Sequence[str | None]:
        return [None]

    def source_files(self, path: Path, key: str | None) -> list[Path]:
        files = [path]
        try:
            with h5py.File(path, "r") as f:
                cams = f.get("cameras")
                if isinstance(cams, h5py.Group):
                    for name in cams:
                        cam = cams.get(name)
                        video = cam.attrs.get("video") if isinstance(cam, h5py.Group) else None
                        if isinstance(video, bytes):
                            video = video.decode("utf-8", "replace")
                        if isinstance(video, str) and is_plain_file_name(video):
                            side = path.resolve().parent / video
                            # never a link: the reader refuses it, nothing is hashed or copied
                            if contained_problem(side.parent, side) is None and side.is_file():
                                files.append(side)
        except Exception:
            pass
        return files

    def read(self, path: Path, key: str | None, mapping: dict | None = None) -> ReadResult:
        return read_recording(path)


ADAPTER = EmbodiqAdapter()
