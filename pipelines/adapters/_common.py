"""Helpers shared by the source adapters: inferred metadata, implicit clocks, lazy frames."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pipelines.mapping import default_mapping
from robots.profile import ProfileCatalog, ProfileError, RobotProfile
from schemas.episode import Camera, Episode, EpisodeMetadata, SourceInfo, Stream
from schemas.findings import Finding, Severity, encodable
from schemas.names import name_problem
from schemas.read_result import ReadResult
from schemas.recording import sha256_file, started_at_problem, valid_text

EPOCH_UNKNOWN = "1970-01-01T00:00:00+00:00"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_DEFAULTS = {"robot_serial": "unknown", "operator_id": "unknown", "site": "unknown",
             "task": "unknown task", "collection_mode": "teleop_leader_follower",
             "started_at": EPOCH_UNKNOWN}


def starts_with(path: Path, magic: bytes) -> bool:
    """Whether ``path`` is a file whose first bytes are ``magic``: the cheap sniff of a
    layout's file format, before anything parses it."""
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(len(magic)) == magic
    except OSError:
        return False


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


class FileSource:
    """A layout whose episodes are each read from one file alone (ALOHA, robomimic, MCAP):
    the file is the episode's only source file, and holds one episode unless the layout
    lists several."""

    name: str

    def episode_keys(self, path: Path) -> Sequence[str | None]:
        return [None]

    def source_files(self, path: Path, key: str | None) -> list[Path]:
        return [path]

    def result(self, path: Path, key: str | None, mapping: dict, given: dict[str, Any],
               streams: dict[str, Stream], cameras: dict[str, Camera],
               findings: list[Finding]) -> ReadResult:
        """The end of every read: unsafe names left out, the metadata (the file's, else the
        mapping's, else defaults) and the file's identity."""
        drop_unsafe_names(str(path) if key is None else f"{path}#{key}", streams, cameras,
                          findings)
        md = build_metadata(self.name, mapping, given, findings)
        return ReadResult(Episode(md, streams, cameras, source=SourceInfo(
            path.resolve(), sha256_file(path), path.stat().st_size, self.name,
            episode_key=key)), findings)


def inferred(what: str, value: Any, source: str, stream: str | None = None) -> Finding:
    return Finding("schema.inferred", Severity.INFO,
                   f"{what} is not in the source: {value!r} taken from {source}",
                   stream=stream or what)


def unreadable(path: Path, why: str) -> Finding:
    return Finding("schema.unreadable", Severity.ERROR, f"{path}: {why}")


def resolve_mapping(layout: str, mapping: dict | None) -> dict:
    return mapping if mapping is not None else default_mapping(layout)


#: The robot profiles of the read in progress (see :func:`profiles_for_reading`).
_CATALOG: ContextVar[ProfileCatalog | None] = ContextVar("embodiq_read_profiles", default=None)


@contextmanager
def profiles_for_reading(catalog: ProfileCatalog) -> Iterator[None]:
    """Adapters called inside resolve robot models in ``catalog``: the folders the episode is
    then judged against (the store's ``robots/``, ``EMBODIQ_ROBOTS``, the shipped profiles), so
    a profile the judge sees also names the columns the adapter reads."""
    token = _CATALOG.set(catalog)
    try:
        yield
    finally:
        _CATALOG.reset(token)


def resolve_profile(name: str) -> RobotProfile | None:
    """The profile whose id or alias is ``name``, in the read's profiles (outside
    :func:`profiles_for_reading`: ``EMBODIQ_ROBOTS`` and the shipped ones); None when none
    claims it or the visible profile set is itself refused (reported where it is judged)."""
    catalog = _CATALOG.get()
    try:
        return (catalog if catalog is not None else ProfileCatalog()).resolve(name)
    except ProfileError:
        return None


def build_metadata(layout: str, mapping: dict, given: dict[str, Any],
                   findings: list[Finding]) -> EpisodeMetadata:
    """Metadata from what the source gives, else the mapping, else a default — each filled
    value reported as ``schema.inferred``."""
    src = mapping.get("_source", f"the {layout} defaults")
    vals: dict[str, Any] = {}
    for key in ("robot_model", "robot_serial", "operator_id", "collection_mode", "task",
                "site", "started_at"):
        if given.get(key):
            vals[key] = given[key]
        elif mapping.get(key):
            vals[key] = str(mapping[key])
            findings.append(inferred(key, vals[key], src))
        elif key in _DEFAULTS:
            vals[key] = _DEFAULTS[key]
            findings.append(inferred(key, vals[key], "embodiq's defaults"))
        else:
            vals[key] = ""
    opt = {k: given.get(k) or mapping.get(k) for k in ("task_id", "scene")}
    success = given.get("success", mapping.get("success"))
    extra = {encodable(str(k)): encodable(v) if isinstance(v, str) else v
             for k, v in given.items() if k not in vals and k not in opt and k != "success"}
    _refuse_unpublishable(layout, vals, opt, findings)
    return EpisodeMetadata(**vals, success=success, extra=extra, **opt)


def _refuse_unpublishable(layout: str, vals: dict[str, Any], opt: dict[str, Any],
                          findings: list[Finding]) -> None:
    """The recording format's text and ``started_at`` rules, for metadata from other layouts:
    a value no Parquet file can hold (undecodable text, a time outside the published range) is
    an error finding and is blanked, so it never reaches the published tables."""
    for table in (vals, opt):
        for key, v in table.items():
            if isinstance(v, str) and not valid_text(v):
                findings.append(Finding(
                    "schema.metadata", Severity.ERROR, f"the {layout} source's '{key}' is "
                    f"{v!r}; it must be UTF-8 text (valid UTF-8, no NUL)", stream=key))
                table[key] = "" if table is vals else None
    started = vals.get("started_at")
    problem = started_at_problem(started) if isinstance(started, str) and started else None
    if problem is not None:
        findings.append(Finding("schema.metadata", Severity.ERROR,
                                f"the {layout} source's 'started_at' {problem}",
                                stream="started_at"))
        vals["started_at"] = ""


def drop_unsafe_names(where: str, streams: dict[str, Any], cameras: dict[str, Any],
                      findings: list[Finding]) -> None:
    """Leave out every stream and camera whose name is not a safe name (:mod:`schemas.names`),
    with one error finding each: a name from a source or mapping becomes a file or column name
    downstream, so a hostile one is refused here and never reaches a path."""
    for table, what, check_id in ((streams, "stream name", "schema.stream"),
                                  (cameras, "camera name", "schema.camera")):
        for key in list(table):
            problem = name_problem(key, what) or name_problem(table[key].name, what)
            if problem is not None:
                findings.append(Finding(check_id, Severity.ERROR,
                                        f"{where}: {problem}; it is left out"))
                del table[key]


def implicit_clock(n: int, rate_hz: float, start_ns: int = 0) -> np.ndarray:
    return start_ns + np.round(np.arange(n) * (1e9 / rate_hz)).astype(np.int64)


def rename(names: Sequence[str], mapping: dict) -> list[str]:
    table = mapping.get("names", {})
    return [str(table.get(n, n)) for n in names]


@dataclass
class EncodedFrames:
    """JPEG/PNG-compressed rows of an HDF5 dataset, decoded one at a time (ALOHA's layout)."""

    path: Path
    dataset_path: str
    lengths: np.ndarray | None = None

    def iter_frames(self) -> Iterator[np.ndarray]:
        import cv2
        import h5py

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


@dataclass
class VideoSegment:
    """Frames ``[start_s, end_s)`` of a video shared by many episodes (LeRobot v3.0)."""

    path: Path
    start_s: float
    n_frames: int
    fps: float

    def iter_frames(self) -> Iterator[np.ndarray]:
        from schemas.frame_sources import decode_video

        return decode_video(self.path, start=int(round(self.start_s * self.fps)),
                            count=self.n_frames)

    def iter_grey(self) -> Iterator[np.ndarray]:
        from schemas.frame_sources import decode_video

        return decode_video(self.path, grey=True, start=int(round(self.start_s * self.fps)),
                            count=self.n_frames)

    def describe(self) -> str:
        return f"{self.path} from {self.start_s:.3f} s"
