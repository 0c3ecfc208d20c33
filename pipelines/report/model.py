"""What the report shows, gathered from a published version or from loose recordings.

Everything is turned into one shape, :class:`EpisodeView`, on one time axis: seconds from the
episode's first frame (``t0_ns``), so a finding's span and a trajectory sample line up whatever
the source was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.compute as pc

from pipelines.store import PublishedVersion, Store
from schemas.episode import Camera, Episode
from schemas.findings import Finding

#: Trajectories are thinned to about this many points: enough to see a spike, small in HTML.
MAX_POINTS = 1000

#: Why an episode is listed without plots once --max-episodes are drawn.
CAP_NOTE = "not plotted: {} episodes are plotted in detail (--max-episodes)"

Progress = Callable[[str, int, int], None]
FrameAt = Callable[[float], "np.ndarray | None"]


@dataclass
class Series:
    name: str
    t_s: np.ndarray
    values: np.ndarray  # [N, D]
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
    #: camera name -> the RGB frame nearest to a time (s from t0), or None
    frame_at: dict[str, FrameAt] = field(default_factory=dict)
    #: why the episode has no plot (not read, not in the quarantine, beyond --max-episodes)
    note: str = ""

    def seconds(self, t_ns: int | None) -> float | None:
        """A recording-clock time as seconds from the episode's first frame."""
        if t_ns is None or self.t0_ns is None:
            return None
        return (int(t_ns) - int(self.t0_ns)) / 1e9


@dataclass
class ReportData:
    title: str
    episodes: list[EpisodeView]
    dataset_findings: list[Finding]
    source: str = ""
    #: Quality measures of this version and the earlier ones of its dataset, oldest first:
    #: (version, {measure: {"value": v, "definition": d}}).
    quality: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def quality_history(version: PublishedVersion) -> list[tuple[int, dict[str, Any]]]:
    """The ``quality_measures`` of every version of the dataset up to ``version``, oldest
    first; versions published before measures existed are left out."""
    this = version.manifest().get("version")
    out = []
    for sib in version.siblings():
        try:
            man = sib.manifest()
        except (OSError, ValueError):
            continue
        v, q = man.get("version"), man.get("quality_measures")
        if isinstance(v, int) and isinstance(q, dict) and (this is None or v <= this):
            out.append((v, q))
    return sorted(out, key=lambda x: x[0])


def downsample(t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every k-th sample so about MAX_POINTS remain (the last sample is always kept)."""
    step = max(len(t) // MAX_POINTS, 1)
    if step == 1:
        return t, v
    idx = np.unique(np.r_[np.arange(0, len(t), step), len(t) - 1])
    return t[idx], v[idx]


def series_from_episode(ep: Episode, t0: int) -> list[Series]:
    """The first joint-position stream and the first action stream of an in-memory episode."""
    out = []
    for kind in ("joint_position", "action"):
        for s in ep.streams_of_kind(kind)[:1]:
            values = np.asarray(s.values, dtype=float).reshape(len(s.timestamps), -1)
            t, v = downsample((np.asarray(s.timestamps, dtype=np.int64) - t0) / 1e9, values)
            out.append(Series(s.name, t, v, list(s.names)))
    return out


def camera_frame_getter(cam: Camera, t0: int) -> FrameAt:
    """Frames of an in-memory or sidecar camera, by time on the report's axis."""

    def get(t_s: float) -> np.ndarray | None:
        if cam.frames is None or cam.n_frames == 0:
            return None
        target = int(np.argmin(np.abs((cam.timestamps.astype(np.int64) - t0) / 1e9 - t_s)))
        try:
            for i, frame in enumerate(cam.frames.iter_frames()):
                if i == target:
                    return frame
        except Exception:  # an unreadable video just means no thumbnail
            return None
        return None

    return get


def video_frame_getter(path: Path, fps: float, n_frames: int) -> FrameAt:
    """Frames of a published video: frame k is frames-table row k, at k / fps seconds."""

    def get(t_s: float) -> np.ndarray | None:
        from schemas.frame_sources import decode_video

        k = min(max(int(round(t_s * fps)), 0), max(n_frames - 1, 0))
        try:
            for frame in decode_video(path, start=k, count=1):
                return frame
        except Exception:  # a missing or damaged video just means no thumbnail
            return None
        return None

    return get


def _findings(rows: pl.DataFrame) -> list[Finding]:
    return [Finding.from_dict({k: v for k, v in r.items() if k != "episode_uid"})
            for r in rows.iter_rows(named=True)]


def quarantined_ref(qdir: Path, source_name: str):
    """The source reference of a rejected episode inside its quarantine folder, or None."""
    from pipelines.sources import discover

    base, _, key = (source_name or "").partition("#")
    files = Store.quarantined_files_dir(qdir)
    if files.is_dir():  # a multi-episode source keeps its own layout there
        refs, _ = discover([files])
        return next((r for r in refs if (r.episode_key or "") == key), None)
    candidate = qdir / base
    refs, _ = discover([candidate]) if base and candidate.exists() else ([], [])
    return refs[0] if refs else None


def _plot_from_source(view: EpisodeView, ref, t0: int | None) -> None:
    """Fill a view's series and cameras by reading a recording (loose or quarantined)."""
    from pipelines.sources import read_source

    try:
        res = read_source(ref)
    except Exception as exc:  # the findings table still says what is wrong with it
        view.note = f"the recording could not be read again for plotting ({exc})"
        return
    if res.episode is None:
        view.note = "the recording could not be read, so there is nothing to plot"
        return
    if t0 is None:
        span = res.episode.span_ns()
        t0 = span[0] if span else 0
    view.t0_ns = t0
    view.series = series_from_episode(res.episode, t0)
    for cam in res.episode.cameras.values():
        view.frame_at[cam.name] = camera_frame_getter(cam, t0)


def _quarantine_of(quarantine: Path | None, row: dict, where: dict[str, str]) -> Path | None:
    """A rejected episode's quarantine folder: the one its version's manifest names, else
    (versions published before the manifest named it) the one named after its main file."""
    if quarantine is None:
        return None
    name = where.get(row["episode_uid"]) or row["source_sha256"]
    return quarantine / name if name else None


def from_published(version: PublishedVersion, quarantine: Path | None, max_episodes: int,
                   on_progress: Progress | None = None) -> ReportData:
    """Read a published version; rejected episodes are plotted from the quarantine."""
    manifest = version.manifest()
    eps = version.read_frame(version.episodes_path)
    fnd = version.read_frame(version.findings_path)
    frames = version.frames_dataset() if version.has_frames() else None
    streams = manifest.get("features", {}).get("streams", {})
    state = next((n for n, s in streams.items() if s.get("kind") == "joint_position"), None)
    action = next((n for n, s in streams.items() if s.get("kind") == "action"), None)
    where = {s.get("episode_uid"): s["quarantine"] for s in manifest.get("sources", [])
             if s.get("quarantine")}
    views, plotted = [], 0
    ordered = eps.sort(["passed", "quality_score", "source_name"], nulls_last=True)
    for i, row in enumerate(ordered.iter_rows(named=True)):
        uid = row["episode_uid"]
        name = row["source_name"] or uid
        if on_progress:
            on_progress(name, i, ordered.height)
        view = EpisodeView(uid, name, row["grade"], float(row["quality_score"] or 0.0),
                           bool(row["passed"]), row["task"] or "", row["robot_model"] or "",
                           row["operator_id"] or "", row["site"] or "",
                           float(row["duration_s"] or 0.0), row["t0_ns"],
                           _findings(fnd.filter(pl.col("episode_uid") == uid)))
        if plotted >= max_episodes:
            view.note = CAP_NOTE.format(max_episodes)
        elif row["passed"] and frames is not None:
            _plot_published(view, frames, row, version, streams, (state, action))
        else:
            qdir = _quarantine_of(quarantine, row, where)
            ref = quarantined_ref(qdir, name) if qdir is not None and qdir.is_dir() else None
            if ref is None:
                view.note = "no frames: the episode was rejected and its recording is not in " \
                            "the quarantine"
            else:
                _plot_from_source(view, ref, row["t0_ns"])
        plotted += bool(view.series)
        views.append(view)
    if on_progress:
        on_progress("", ordered.height, ordered.height)
    title = f"{manifest['name']} v{int(manifest['version']):04d}"
    return ReportData(title, views, _findings(fnd.filter(pl.col("episode_uid").is_null())),
                      str(version.dir), quality_history(version))


def _plot_published(view: EpisodeView, frames, row: dict, version: PublishedVersion,
                    streams: dict,
                    columns: tuple[str | None, ...]) -> None:
    t = frames.to_table(filter=pc.field("episode_uid") == view.uid)
    if t.num_rows == 0:
        view.note = "no frames in the published frames table"
        return
    order = np.argsort(t.column("frame_index").to_numpy())
    ts = t.column("timestamp_ns").to_numpy()[order] / 1e9
    for col in columns:
        if not col or col not in t.column_names or t.column(col).null_count:
            continue
        flat = t.column(col).combine_chunks().flatten().to_numpy(zero_copy_only=False)
        v = flat.reshape(t.num_rows, -1).astype(float)[order]
        tt, vv = downsample(ts, v)
        view.series.append(Series(col, tt, vv, list(streams.get(col, {}).get("names", []))))
    for cam in row["cameras"] or []:
        path = version.video(view.uid, cam)
        if version.store.is_file(path):
            path = version.store.local_file(path)
        view.frame_at[cam] = video_frame_getter(path, float(row["fps"]), int(row["n_frames"]))


def from_recordings(paths: Iterable[Path], max_episodes: int,
                    on_progress: Progress | None = None) -> ReportData:
    """Check loose recordings with the default profiles and plot them from memory."""
    from checks.digest import EpisodeDigest
    from checks.registry import run_dataset_checks
    from pipelines.processing import assess_ref
    from pipelines.sources import SourceRef, discover
    from robots.profile import ProfileCatalog
    from schemas.quality_profile import load_quality_profile

    paths = list(paths)
    profile = load_quality_profile()
    catalog = ProfileCatalog()
    refs, bad = discover(paths)
    pairs: list[tuple[SourceRef | None, EpisodeView]] = []
    digests: list[EpisodeDigest] = []
    for i, ref in enumerate(refs):
        if on_progress:
            on_progress(ref.display_name, i, len(refs))
        a = assess_ref(ref, profile, catalog)
        if a.digest:
            digests.append(EpisodeDigest.from_dict(a.digest))
        md = a.metadata or {}
        pairs.append((ref, EpisodeView(
            a.episode_uid, ref.display_name, a.grade, a.quality_score, a.passed,
            md.get("task") or "", md.get("robot_model") or "", md.get("operator_id") or "",
            md.get("site") or "", a.duration_s, a.t0_ns, a.findings)))
    for b in bad:
        pairs.append((None, EpisodeView("", b.path.name, "F", 0.0, False, "", "", "", "", 0.0,
                                        None, [b.finding()],
                                        note="not a recording embodiq can read")))
    # failing and lowest-scoring first, so --max-episodes keeps the ones worth looking at
    pairs.sort(key=lambda p: (p[1].passed, p[1].score, p[1].name))
    plotted = 0
    for src, view in pairs:
        if src is None:
            continue
        if plotted >= max_episodes:
            view.note = CAP_NOTE.format(max_episodes)
        elif view.t0_ns is None:
            view.note = "the recording could not be read, so there is nothing to plot"
        else:
            if on_progress:
                on_progress(f"plotting {view.name}", len(refs), len(refs))
            _plot_from_source(view, src, view.t0_ns)
            plotted += bool(view.series)
    if on_progress:
        on_progress("", len(refs), len(refs))
    views = [v for _, v in pairs]
    where = ", ".join(str(p) for p in paths[:3]) + (" …" if len(paths) > 3 else "")
    return ReportData(f"{len(views)} recording(s)", views,
                      run_dataset_checks(digests, profile) if len(digests) > 1 else [], where)
