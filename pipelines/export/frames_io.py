"""Reading one episode's rows and video frames back from a published version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from pipelines.export.core import EpisodeSlice, resample_index

KEY_COLUMNS = ("episode_uid", "frame_index", "timestamp_ns")


def episode_table(vdir: Path, s: EpisodeSlice, fps_src: float, fps_dst: float) -> pa.Table:
    """The episode's frames, trimmed to the slice and resampled to ``fps_dst``."""
    ds = pads.dataset(vdir / "frames", format="parquet")
    t = ds.to_table(filter=pc.field("episode_uid") == s.uid)
    t = t.sort_by("frame_index").slice(s.start, s.stop - s.start)
    idx = resample_index(t.num_rows, fps_src, fps_dst)
    t = t.take(pa.array(idx))
    n = t.num_rows
    t = t.set_column(t.schema.get_field_index("frame_index"), "frame_index",
                     pa.array(np.arange(n, dtype=np.int64)))
    t = t.set_column(t.schema.get_field_index("timestamp_ns"), "timestamp_ns",
                     pa.array(np.round(np.arange(n) * 1e9 / fps_dst).astype(np.int64)))
    return t


def stream_columns(t: pa.Table) -> list[str]:
    return [c for c in t.column_names if c not in KEY_COLUMNS]


def as_matrix(col: pa.ChunkedArray) -> np.ndarray:
    """A list column as a float32 ``[n, d]`` array."""
    arr = col.combine_chunks()
    n = len(arr)
    if n == 0:
        return np.zeros((0, 0), dtype=np.float32)
    flat = arr.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    return flat.reshape(n, -1)


def video_frames(vdir: Path, s: EpisodeSlice, camera: str, fps_src: float,
                 fps_dst: float) -> Iterator[np.ndarray]:
    """The slice's frames of one camera (RGB), re-timed like :func:`episode_table`."""
    import cv2

    path = vdir / "videos" / s.uid / f"{camera}.mp4"
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise OSError(f"{path}: the published video cannot be opened")
    want = resample_index(s.stop - s.start, fps_src, fps_dst) + s.start
    try:
        i, frame = -1, None
        for target in want:
            while i < target:
                ok, frame = cap.read()
                if not ok:
                    raise OSError(f"{path}: ends at frame {i + 1}, before frame {target}")
                i += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
