"""Episode digests: the small summary dataset-level checks compare across many episodes.

A digest is what survives of an episode after its own checks: metadata, duration, a hash of its
stream content, and per-channel statistics. It is JSON-ready, so it is stored beside the
episode's report and dataset checks never re-read recordings.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from checks.kernels.stats import column_stats
from schemas.episode import Episode


@dataclass
class StreamDigest:
    kind: str
    names: list[str]
    min: list[float]
    max: list[float]
    mean: list[float]
    std: list[float]
    count: list[float]


@dataclass
class EpisodeDigest:
    episode_uid: str
    task: str
    robot_model: str
    robot_serial: str
    robot_uid: str | None
    operator_id: str
    site: str
    started_at: str
    duration_s: float
    content_hash: str
    streams: dict[str, StreamDigest] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EpisodeDigest:
        d = dict(d)
        d["streams"] = {k: StreamDigest(**v) for k, v in d.get("streams", {}).items()}
        return cls(**d)


def _clean(a: np.ndarray) -> list[float]:
    return [float(x) if np.isfinite(x) else float("nan") for x in a]


def content_hash(episode: Episode, block_rows: int = 65536) -> str:
    """sha256 of every stream's values and its timestamps relative to its own start, so a
    copy of the same motion under other metadata or another clock origin collides. Hashed a
    block of rows at a time: no copy of a whole stream is made."""
    h = hashlib.sha256()
    for name in sorted(episode.streams):
        s = episode.streams[name]
        h.update(name.encode())
        h.update(str(s.values.dtype).encode())
        t0 = s.timestamps[0] if s.n_samples else 0
        for i in range(0, s.n_samples, block_rows):
            h.update(np.ascontiguousarray(s.timestamps[i:i + block_rows] - t0).tobytes())
            h.update(np.ascontiguousarray(s.values[i:i + block_rows]).data)
    return h.hexdigest()


def digest_episode(episode: Episode, episode_uid: str,
                   robot_uid: str | None = None) -> EpisodeDigest:
    md = episode.metadata
    streams = {}
    for name, s in episode.streams.items():
        st = column_stats(np.ascontiguousarray(s.values))
        streams[name] = StreamDigest(s.kind, list(s.names), _clean(st[:, 0]), _clean(st[:, 1]),
                                     _clean(st[:, 2]), _clean(st[:, 3]), _clean(st[:, 4]))
    return EpisodeDigest(
        episode_uid=episode_uid, task=md.task, robot_model=md.robot_model,
        robot_serial=md.robot_serial, robot_uid=robot_uid or md.robot_uid,
        operator_id=md.operator_id, site=md.site, started_at=md.started_at,
        duration_s=episode.duration_s, content_hash=content_hash(episode), streams=streams)
