"""What the report shows, gathered from a published version or from loose recordings."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.compute as pc
import pyarrow.dataset as pads

from schemas.episode import Episode
from schemas.findings import Finding

MAX_POINTS = 1000


@dataclass
class Series:
    name: str
    t_s: np.ndarray
    values: np.ndarray
    channels: list[str]


@dataclass
class EpisodeView:
    uid: str
    name: str
    grade: str
    score: float
    passed: bool
    task: str
    robot: str
    operator: str
    site: str
    duration_s: float
    t0_ns: int | None
    findings: list[Finding]
    series: list[Series] = field(default_factory=list)
    #: camera name -> a callable giving the RGB frame nearest to a time (s from t0), or None
    frame_at: dict[str, Callable[[float], np.ndarray | None]] = field(default_factory=dict)


@dataclass
class ReportData:
    title: str
    episodes: list[EpisodeView]
    dataset_findings: list[Finding]


def _downsample(t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    step = max(len(t) // MAX_POINTS, 1)
    return t[::step], v[::step]


def series_from_episode(ep: Episode, t0: int) -> list[Series]:
    out = []
    for kind in ("joint_position", "action"):
        for s in ep.streams_of_kind(kind)[:1]:
            t, v = _downsample((s.timestamps - t0) / 1e9, np.asarray(s.values, dtype=float))
            out.append(Series(s.name, t, v, list(s.names)))
    return out


def frame_getter_for_camera(cam) -> Callable[[float], np.ndarray | None]:
    def get(t_s: float) -> np.ndarray | None:
        if cam.frames is None or cam.n_frames == 0:
            return None
        target = int(np.argmin(np.abs((cam.timestamps - cam.timestamps[0]) / 1e9 - t_s)))
        try:
            for i, frame in enumerate(cam.frames.iter_frames()):
                if i == target:
                    return frame
        except Exception:
            return None
        return None

    return get


def _video_getter(path: Path, fps: float) -> Callable[[float], np.ndarray | None]:
    def get(t_s: float) -> np.ndarray | None:
        from schemas.frame_sources import decode_video

        try:
            for frame in decode_video(path, start=max(int(round(t_s * fps)), 0), count=1):
                return frame
        except OSError:
            return None
        return None

    return get


def from_published(vdir: Path, quarantine: Path | None, max_episodes: int,
                   on_progress: Callable[[str, int, int], None] | None = None) -> ReportData:
    from pipelines.sources import discover, read_source

    manifest = json.loads((vdir / "manifest.json").read_text())
    eps = pl.read_parquet(vdir / "episodes.parquet")
    fnd = pl.read_parquet(vdir / "findings.parquet")
    frames = pads.dataset(vdir / "frames", format="parquet") if (vdir / "frames").is_dir() \
        else None
    streams = manifest["features"]["streams"]
    state = next((n for n, s in streams.items() if s.get("kind") == "joint_position"), None)
    action = next((n for n, s in streams.items() if s.get("kind") == "action"), None)
    views = []
    ordered = eps.sort(["passed", "quality_score"])
    for i, row in enumerate(ordered.iter_rows(named=True)):
        uid = row["episode_uid"]
        if on_progress:
            on_progress(row["source_name"], i, ordered.height)
        findings = [Finding.from_dict({k: v for k, v in r.items() if k != "episode_uid"})
                    for r in fnd.filter(pl.col("episode_uid") == uid).iter_rows(named=True)]
        view = EpisodeView(uid, row["source_name"], row["grade"], row["quality_score"],
                           row["passed"], row["task"] or "", row["robot_model"] or "",
                           row["operator_id"] or "", row["site"] or "", row["duration_s"],
                           row["t0_ns"], findings)
        if i < max_episodes:
            if row["passed"] and frames is not None:
                t = frames.to_table(filter=pc.field("episode_uid") == uid)
                ts = t.column("timestamp_ns").to_numpy() / 1e9
                for col in (state, action):
                    if col and col in t.column_names:
                        flat = t.column(col).combine_chunks().flatten().to_numpy(
                            zero_copy_only=False)
                        v = flat.reshape(t.num_rows, -1).astype(float)
                        tt, vv = _downsample(ts, v)
                        view.series.append(Series(col, tt, vv, streams[col].get("names", [])))
                for cam in row["cameras"] or []:
                    view.frame_at[cam] = _video_getter(vdir / "videos" / uid / f"{cam}.mp4",
                                                       float(row["fps"]))
            elif quarantine is not None and (quarantine / row["source_sha256"]).is_dir():
                qdir = quarantine / row["source_sha256"]
                refs, _ = discover([qdir / (row["source_name"] or "").split("#")[0]])
                if refs:
                    res = read_source(refs[0])
                    if res.episode is not None:
                        t0 = row["t0_ns"] or (res.episode.span_ns() or (0, 0))[0]
                        view.t0_ns = t0
                        view.series = series_from_episode(res.episode, t0)
                        for cam in res.episode.cameras.values():
                            view.frame_at[cam.name] = frame_getter_for_camera(cam)
        views.append(view)
    ds = [Finding.from_dict({k: v for k, v in r.items() if k != "episode_uid"})
          for r in fnd.filter(pl.col("episode_uid").is_null()).iter_rows(named=True)]
    title = f"{manifest['name']} v{manifest['version']:04d}"
    return ReportData(title, views, ds)


def from_recordings(paths: Iterable[Path], max_episodes: int,
                    on_progress: Callable[[str, int, int], None] | None = None) -> ReportData:
    from checks.digest import EpisodeDigest
    from checks.registry import run_dataset_checks
    from pipelines.processing import assess_ref
    from pipelines.sources import discover, read_source
    from robots.profile import ProfileCatalog
    from schemas.quality_profile import load_quality_profile

    profile = load_quality_profile()
    catalog = ProfileCatalog()
    refs, bad = discover(paths)
    views, digests = [], []
    for i, ref in enumerate(refs):
        if on_progress:
            on_progress(ref.display_name, i, len(refs))
        a = assess_ref(ref, profile, catalog)
        if a.digest:
            digests.append(EpisodeDigest.from_dict(a.digest))
        md = a.metadata or {}
        view = EpisodeView(a.episode_uid, ref.display_name, a.grade, a.quality_score, a.passed,
                           md.get("task", ""), md.get("robot_model", ""),
                           md.get("operator_id", ""), md.get("site", ""), a.duration_s,
                           a.t0_ns, a.findings)
        if i < max_episodes and a.t0_ns is not None:
            res = read_source(ref)
            if res.episode is not None:
                view.series = series_from_episode(res.episode, a.t0_ns)
                for cam in res.episode.cameras.values():
                    view.frame_at[cam.name] = frame_getter_for_camera(cam)
        views.append(view)
    for b in bad:
        views.append(EpisodeView("", b.path.name, "F", 0.0, False, "", "", "", "", 0.0, None,
                                 [b.finding()]))
    views.sort(key=lambda v: (v.passed, v.score))
    return ReportData(f"{len(views)} recording(s)", views,
                      run_dataset_checks(digests, profile) if len(digests) > 1 else [])
