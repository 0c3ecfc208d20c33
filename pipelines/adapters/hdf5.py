"""What the layouts stored in HDF5 share: the format sniff and compressed image rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from pipelines.adapters._common import starts_with
from schemas.recording import HDF5_MAGIC


def hdf5_where(path: Path, test: Callable[[h5py.File], bool]) -> bool:
    """Whether ``path`` is an HDF5 file for which ``test`` holds: the layouts in HDF5 differ
    only in ``test``. A file that fails to open or to be inspected is not the layout."""
    if not starts_with(path, HDF5_MAGIC):
        return False
    try:
        with h5py.File(path, "r") as f:
            return bool(test(f))
    except Exception:
        return False


@dataclass
class EncodedFrames:
    """JPEG/PNG-compressed rows of an HDF5 dataset, decoded one at a time (ALOHA's layout)."""

    path: Path
    dataset_path: str
    lengths: np.ndarray | None = None

    def iter_frames(self) -> Iterator[np.ndarray]:
        import cv2

        with h5py.File(self.path, "r") as f:
            ds = f[self.dataset_path]
            for i in range(ds.shape[0]):
                row = np.asarray(ds[i]).reshape(-1).view(np.uint8)
                if self.lengths is not None:
                    row = row[: int(self.lengths[i])]
                img = cv2.imdecode(row, cv2.IMREAD_COLOR)
                if img is None:
                    raise OSError(f"{self.path}:{self.dataset_path}[{i}] does not decode")
                yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def describe(self) -> str:
        return f"{self.path}:{self.dataset_path} (compressed)"
