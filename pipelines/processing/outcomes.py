"""Outcomes: what an assessed recording leaves in the store. Its report is staged; a failed
recording is quarantined byte for byte with its findings; a passed one is curated (frames
table and re-timed videos) into staging."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipelines.processing.registration import SourceRecord
from pipelines.store import Store, atomic_copy, atomic_write_json, staged_dir
from schemas.assessment import Assessment, utc_now
from schemas.episode import Episode
from schemas.names import check_safe_name, contained_problem, is_safe_name


def write_report(store: Store, dataset: str, a: Assessment) -> Path:
    path = store.staged_report(dataset, a.episode_uid)
    atomic_write_json(path, a.to_dict())
    return path


def read_report(path: Path) -> Assessment:
    return Assessment.from_dict(json.loads(Path(path).read_text()))


def quarantine_dir_for(store: Store, files: dict[str, str]) -> Path:
    """The quarantine folder of a source: named after the uid of *all* its files' content
    (for a one-episode source that is its ``episode_uid``), so the same main file with other
    sidecars gets a folder of its own, while the episodes of one multi-episode source share it."""
    from robots.stamping import episode_uid_for

    return store.quarantine_path(episode_uid_for(sorted(files.values()), None))


def quarantine(store: Store, rec: SourceRecord, a: Assessment) -> Path:
    """Copy the source files byte for byte into its quarantine folder with the findings.

    Multi-episode sources (a LeRobot dataset) keep one copy of the files under ``files/``.
    Each dataset that rejects the episode writes its own record (:meth:`Store.quarantine_record`).
    A file that is gone, or whose bytes changed since registration, is not copied (the copy
    would not be the evidence) and is listed under ``not_copied``.
    """
    from schemas.recording import sha256_file

    qdir = quarantine_dir_for(store, rec.files)
    primary = Path(next(iter(rec.files))) if rec.files else Path(rec.path)
    # a folder source (a LeRobot dataset) keeps its own layout under files/
    base = Path(rec.path) if Path(rec.path).is_dir() else primary.parent
    not_copied: dict[str, str] = {}
    for p, sha in rec.files.items():
        src = Path(p)
        if contained_problem(base, src) is not None:
            not_copied[p] = "outside the source or reached through a symbolic link"
            continue  # never copy a file from outside the source or through a symbolic link
        if not src.is_file():
            not_copied[p] = "missing"
            continue
        rel = src.relative_to(base) if src.is_relative_to(base) else \
            src.relative_to(base.resolve())
        dst = store.contained(store.quarantined_files_dir(qdir) / rel if rec.episode_key
                              else qdir / rel)
        if dst.is_file() and sha256_file(dst) == sha:
            continue
        atomic_copy(src, dst)
        if sha256_file(dst) != sha:
            dst.unlink()
            not_copied[p] = "changed since it was registered"
    key = rec.episode_key
    if key is not None and not is_safe_name(key):  # a hostile key never becomes a file name
        key = "key-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    atomic_write_json(store.quarantine_record(qdir, rec.dataset, key), {
        "source": rec.path, "source_name": rec.display_name, "source_sha256": rec.primary_sha256,
        "files": rec.files, "episode_uid": a.episode_uid, "dataset": rec.dataset,
        "grade": a.grade, "quality_score": a.quality_score, "profile": a.profile_name,
        "quarantined_at": utc_now(), "findings": [f.to_dict() for f in a.findings],
        **({"not_copied": not_copied} if not_copied else {}),
    })
    return qdir


@dataclass
class Curated:
    episode_uid: str
    n_frames: int
    fps: float
    t0_ns: int
    cameras: list[str]
    resampling: dict[str, dict[str, Any]]
    path: str


def curate(store: Store, dataset: str, episode: Episode, episode_uid: str,
           fps: float) -> Curated | None:
    """Write the episode's frames table and re-timed videos into staging (atomically)."""
    from pipelines.frames import frames_table, write_camera_video, write_table

    final = store.curated_dir(dataset, episode_uid)
    res = frames_table(episode, episode_uid, fps)
    if res is None:
        return None
    with staged_dir(final) as tmp:
        def staged(path: Path) -> Path:
            """Where the store's file ``path`` is while its folder is being written."""
            return tmp / path.relative_to(final)

        write_table(res.table, staged(store.curated_frames(dataset, episode_uid)))
        cams = []
        for name, cam in episode.cameras.items():
            if cam.frames is None:
                continue
            check_safe_name(name, "camera name")  # refused as such before it names a file
            video = store.contained(staged(store.curated_video(dataset, episode_uid, name)))
            n = write_camera_video(cam, res.grid, video)
            if n < res.grid.n:  # fewer frames decoded than the grid needs: keep no video
                video.unlink()
                continue
            cams.append(name)
        cur = Curated(episode_uid, res.grid.n, fps, res.grid.t0_ns, cams,
                      {k: asdict(v) for k, v in res.resampling.items()}, str(final))
        atomic_write_json(staged(store.curated_record(dataset, episode_uid)), asdict(cur))
    return cur
