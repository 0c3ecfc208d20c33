"""Episode digests: the small summary dataset-level checks compare across many episodes.

A digest is what survives of an episode after its own checks: metadata, duration, a hash of its
stream content, and per-channel statistics. It is JSON-ready (no NaN: a channel without finite
samples has null statistics), so it is stored beside the episode's report and dataset checks
never re-read recordings.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from checks.kernels.episode_summary import held_and_last_of
from checks.kernels.stats import stats_of_columns
from schemas.episode import Episode


@dataclass
class StreamDigest:
    """Per-channel statistics of one stream over finite samples (NaN where there are none)."""

    kind: str
    names: list[str]
    min: list[float]
    max: list[float]
    mean: list[float]
    std: list[float]  # population standard deviation
    count: list[float]  # finite samples
    #: Share of consecutive finite samples that repeat the previous one (a held value).
    held: list[float] = field(default_factory=list)
    #: The last finite sample (the episode's end state).
    last: list[float] = field(default_factory=list)

    def channel(self, name: str) -> int | None:
        """Index of channel ``name``, or None when the stream has no such channel."""
        try:
            return self.names.index(name)
        except ValueError:
            return None


_STAT_FIELDS = ("min", "max", "mean", "std", "count", "held", "last")


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
        """JSON-ready: NaN statistics become null."""
        # built by hand: dataclasses.asdict deep-copies every float, which dominated the
        # cost of checking thousands of short episodes
        d: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)
                             if f.name != "streams"}
        d["streams"] = {name: {"kind": s.kind, "names": list(s.names),
                               **{k: [x if math.isfinite(x) else None for x in getattr(s, k)]
                                  for k in _STAT_FIELDS}}
                        for name, s in self.streams.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EpisodeDigest:
        d = dict(d)
        streams = {}
        for name, s in d.get("streams", {}).items():
            s = dict(s)
            for k in _STAT_FIELDS:
                s[k] = [float("nan") if x is None else float(x) for x in s.get(k, [])]
            streams[name] = StreamDigest(**s)
        d["streams"] = streams
        return cls(**d)


def _floats(a: np.ndarray) -> list[float]:
    return [float(x) for x in a]


def content_hash(episode: Episode, block_rows: int = 65536) -> str:
    """sha256 of every stream's values and timestamps relative to the episode's first sample.

    Metadata is left out and the clock origin cancels, so a copy of the same recording under
    another operator, robot uid or start time collides. Bytes are hashed in little-endian order,
    a block of rows at a time: no copy of a whole stream is made."""
    h = hashlib.sha256()
    firsts = [int(s.timestamps[0]) for s in episode.streams.values() if s.n_samples]
    t0 = np.int64(min(firsts)) if firsts else np.int64(0)
    for name in sorted(episode.streams):
        s = episode.streams[name]
        dtype = s.values.dtype.newbyteorder("<")
        h.update(f"{name}\0{dtype.str}\0{s.values.shape[1:]}\0".encode())
        for i in range(0, s.n_samples, block_rows):
            rel = np.asarray(s.timestamps[i:i + block_rows], dtype="<i8") - t0
            h.update(rel.astype("<i8", copy=False).tobytes())
        for i in range(0, s.n_samples, block_rows):
            h.update(np.ascontiguousarray(s.values[i:i + block_rows], dtype=dtype).data)
    return h.hexdigest()


def digest_stream(values: np.ndarray, kind: str, names: list[str]) -> StreamDigest:
    """One pass over ``values`` [T, D] (NaN and Inf skipped)."""
    v = np.asarray(values)
    if v.ndim == 1:
        v = v[:, None]
    if v.dtype not in (np.float32, np.float64):
        v = v.astype(np.float64)
    v = np.ascontiguousarray(v)
    st = stats_of_columns(v)
    hl = held_and_last_of(v)
    return StreamDigest(kind, list(names), min=_floats(st.min), max=_floats(st.max),
                        mean=_floats(st.mean), std=_floats(st.std), count=_floats(st.finite),
                        held=_floats(hl.held), last=_floats(hl.last))


def digest_episode(episode: Episode, episode_uid: str,
                   robot_uid: str | None = None) -> EpisodeDigest:
    """The digest of ``episode``; ``robot_uid`` overrides the recorded one (a stamped uid)."""
    md = episode.metadata
    streams = {name: digest_stream(s.values, s.kind, s.names)
               for name, s in episode.streams.items()}
    return EpisodeDigest(
        episode_uid=episode_uid, task=md.task, robot_model=md.robot_model,
        robot_serial=md.robot_serial, robot_uid=robot_uid or md.robot_uid,
        operator_id=md.operator_id, site=md.site, started_at=md.started_at,
        duration_s=float(episode.duration_s), content_hash=content_hash(episode),
        streams=streams)
