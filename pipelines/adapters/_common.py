"""Helpers shared by the source adapters: inferred metadata, implicit clocks, lazy frames."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.mapping import default_mapping
from schemas.episode import EpisodeMetadata
from schemas.findings import Finding, Severity, encodable
from schemas.names import name_problem
from schemas.recording import started_at_problem, valid_text

EPOCH_UNKNOWN = "1970-01-01T00:00:00+00:00"
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


def inferred(what: str, value: Any, source: str, stream: str | None = None) -> Finding:
    return Finding("schema.inferred", Severity.INFO,
                   f"{what} is not in the source: {value!r} taken from {source}",
                   stream=stream or what)


def unreadable(path: Path, why: str) -> Finding:
    return Finding("schema.unreadable", Severity.ERROR, f"{path}: {why}")


def resolve_mapping(layout: str, mapping: dict | None) -> dict:
    return mapping if mapping is not None else default_mapping(layout)


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
    opt: dict[str, Any] = {k: given.get(k) or mapping.get(k) for k in ("task_id", "scene")}
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
