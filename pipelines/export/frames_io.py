"""Reading one episode's rows and video frames back from a published version."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.export.model import EpisodeSlice, ExportError
from pipelines.export.resample import nearest_index, resample
from pipelines.store import PublishedVersion

KEY_COLUMNS = ("episode_uid", "frame_index", "timestamp_ns")


class FramesReader:
    """The frames table of a version, opened once and read episode by episode."""

    def __init__(self, version: PublishedVersion, kinds: dict[str, str]) -> None:
        self.dir = version.frames_dir
        if not version.store.is_dir(self.dir):
            raise ExportError(f"{self.dir} is missing: the published version has no frames table")
        self.dataset = version.frames_dataset()
        self.kinds = kinds

    def episode(self, s: EpisodeSlice, fps_src: float, fps_dst: float) -> pa.Table:
        """The episode's frames, trimmed to the slice and re-timed to ``fps_dst``.

        ``frame_index`` restarts at 0 and ``timestamp_ns`` is ``round(frame_index * 1e9 / fps)``
        of the exported rate, as in the published table.
        """
        t = self.dataset.to_table(filter=pc.field("episode_uid") == s.uid)
        t = t.sort_by("frame_index").slice(s.start, s.stop - s.start)
        n = nearest_index(t.num_rows, fps_src, fps_dst).shape[0]
        cols: dict[str, pa.Array] = {
            "episode_uid": pa.array([s.uid] * n, type=pa.string()),
            "frame_index": pa.array(np.arange(n, dtype=np.int64)),
            "timestamp_ns": pa.array(np.round(np.arange(n) * 1e9 / fps_dst).astype(np.int64)),
        }
        for name in stream_columns(t):
            col, typ = t.column(name), t.schema.field(name).type
            if col.null_count == t.num_rows:
                cols[name] = pa.nulls(n, type=typ)
                continue
            m = resample(as_matrix(col), self.kinds.get(name), fps_src, fps_dst)
            flat = pa.array(m.reshape(-1), type=typ.value_type)
            cols[name] = pa.FixedSizeListArray.from_arrays(flat, m.shape[1]) \
                if pa.types.is_fixed_size_list(typ) else pa.ListArray.from_arrays(
                    pa.array(np.arange(0, m.size + 1, m.shape[1], dtype=np.int32)), flat)
        return pa.table(cols)


def stream_columns(t: pa.Table) -> list[str]:
    return [c for c in t.column_names if c not in KEY_COLUMNS]


def as_matrix(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A list column as a float32 ``[n, d]`` array."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    if n == 0:
        return np.zeros((0, 0), dtype=np.float32)
    flat = arr.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    return flat.reshape(n, -1)


def video_frames(version: PublishedVersion, s: EpisodeSlice, camera: str, fps_src: float,
                 fps_dst: float) -> Iterator[np.ndarray]:
    """The slice's frames of one published camera video (RGB ``[h, w, 3]`` uint8).

    Trimmed and re-timed like :meth:`FramesReader.episode` (nearest frame), so exported video
    frame ``k`` is exported row ``k``.
    """
    import cv2

    path = version.video(s.uid, camera)
    if not version.store.is_file(path):
        raise ExportError(f"{path} is missing: camera '{camera}' of episode {s.uid} has no video")
    path = version.store.local_file(path)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ExportError(f"{path} cannot be opened as a video")
    want = nearest_index(s.stop - s.start, fps_src, fps_dst) + s.start
    try:
        i, frame = -1, None
        for target in want:
            while i < target:
                ok, frame = cap.read()
                if not ok or frame is None:
                    raise ExportError(f"{path} ends at frame {i + 1}, before frame {target} of "
                                      "the frames table")
                i += 1
            assert frame is not None  # read above: every target is >= 0
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
