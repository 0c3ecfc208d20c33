"""Publish a dataset version: every staged episode of a dataset, one immutable folder.

The version is assembled under a temporary name and renamed into place; ``LATEST`` is replaced
atomically afterwards. A crash at any point leaves the previous version whole and readable, and
at worst a hidden temporary folder behind. Publishers of one dataset take turns under a lock,
and the rename never replaces a folder already there: a published version is never replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from checks.digest import EpisodeDigest
from checks.grading import grade_of, quality_score
from checks.registry import run_dataset_checks
from pipelines.processing import (
    Assessment,
    Curated,
    SourceRecord,
    load_source_record,
    quarantine,
    quarantine_dir_for,
    utc_now,
)
from pipelines.store import Store, VersionWriter
from schemas.findings import Finding
from schemas.quality_profile import QualityProfile
from schemas.tables import EPISODES_SCHEMA, FINDINGS_SCHEMA, findings_rows

FORMAT = "embodiq.dataset"
FORMAT_VERSION = "1.0"
#: Rows per frames part file; parts stay well under a few hundred MB.
MAX_ROWS_PER_PART = 500_000
#: Set to a stage name to make publish die there, or to ``<stage>:stop`` to make it pause
#: there (crash-safety and concurrency tests only).
FAULT_ENV = "EMBODIQ_FAULT_PUBLISH"


class PublishError(RuntimeError):
    pass


@dataclass
class PublishResult:
    name: str
    version: int
    path: Path
    created: bool  # False when nothing changed since LATEST
    episodes: int
    passed: int
    failed: int
    frames: int
    dataset_findings: list[Finding]


def _fault(stage: str) -> None:
    """``<stage>`` dies there; ``<stage>:stop`` stops there (SIGSTOP) until continued."""
    if os.environ.get(FAULT_ENV) == stage:
        os._exit(86)
    if os.environ.get(FAULT_ENV) == f"{stage}:stop":
        os.kill(os.getpid(), signal.SIGSTOP)


def _ts(iso: str | None) -> datetime | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        return None


def _quality_measures(reports: list[tuple[Assessment, Any]], ds_findings: list[Finding],
                      profile: QualityProfile) -> tuple[dict[str, dict], dict[str, Any]]:
    """Per episode and for the version, the ISO/IEC 5259-2 quality measures, computed from
    the findings and digests at hand (no recording is read again)."""
    from checks.measures import (
        MEASURE_DEFINITIONS,
        MEASURES,
        dataset_measures,
        episode_measures,
        stream_counts,
        stream_weight,
    )
    from checks.registry import all_checks

    ran = [cid for cid in all_checks() if cid in profile.checks and profile.settings(cid).enabled]
    shared: dict[str, list[Finding]] = {}  # dataset findings that name several episodes
    for f in ds_findings:
        if f.episode_uids and len(f.episode_uids) > 1:
            for uid in f.episode_uids:
                shared.setdefault(uid, []).append(f)
    per: dict[str, dict] = {}
    weights: list[float] = []
    for a, _cur in reports:
        counts = stream_counts(a.streams, a.digest, a.duration_s)
        per[a.episode_uid] = episode_measures([*a.findings, *shared.get(a.episode_uid, [])],
                                              counts, ran, readable=a.digest is not None)
        weights.append(stream_weight(counts))
    # an unreadable episode expected as much data as a typical one: it weighs that much
    typical = sorted(w for w in weights if w > 0)
    fill = typical[len(typical) // 2] if typical else 1.0
    weights = [w if w > 0 else fill for w in weights]
    groups = {k: [(a.metadata or {}).get(k) for a, _ in reports]
              for k in ("task", "robot_model", "operator_id", "site")}
    values = dataset_measures(list(per.values()), weights, groups)
    manifest = {"standard": "ISO/IEC 5259-2 (data quality measures for analytics and ML)",
                **{m: {"value": values.get(m), "definition": MEASURE_DEFINITIONS[m]}
                   for m in MEASURES}}
    return per, manifest


def _episode_row(a: Assessment, n_frames: int, fps: float, cameras: list[str],
                 t0_ns: int | None, quality: dict | None = None) -> dict[str, Any]:
    md = a.metadata or {}
    counts = a.counts()
    return {
        "episode_uid": a.episode_uid, "robot_uid": a.robot_uid,
        "robot_model": md.get("robot_model"), "robot_serial": md.get("robot_serial"),
        "operator_id": md.get("operator_id"), "collection_mode": md.get("collection_mode"),
        "task": md.get("task"), "task_id": md.get("task_id"), "site": md.get("site"),
        "scene": md.get("scene"), "started_at": _ts(md.get("started_at")),
        "success": md.get("success"), "duration_s": a.duration_s, "n_frames": n_frames,
        "fps": fps, "grade": a.grade, "quality_score": a.quality_score, "passed": a.passed,
        "source_sha256": a.source_sha256, "source_name": a.source_name, "layout": a.layout,
        "ingested_at": _ts(a.assessed_at), "profile": a.profile_name, "t0_ns": t0_ns,
        "cameras": cameras, "n_findings_error": counts["error"],
        "n_findings_warning": counts["warning"], "n_findings_info": counts["info"],
        "quality": quality,
    }


def _content_key(reports: list[tuple[Assessment, Any]], profile: QualityProfile,
                 fps: float) -> str:
    h = hashlib.sha256(f"{profile.digest}|{fps}".encode())
    for a, cur in sorted(reports, key=lambda r: r[0].episode_uid):
        h.update(json.dumps([a.episode_uid, a.grade, a.quality_score, a.profile_digest,
                             len(a.findings), cur.n_frames if cur else 0]).encode())
    return h.hexdigest()


def _order_key(a: Assessment) -> tuple[float, str, str]:
    started = _ts((a.metadata or {}).get("started_at"))
    when = started.timestamp() if started is not None and started.tzinfo else float("inf")
    return (when, a.source_name, a.episode_uid)


def _staged(store: Store, name: str) -> list[tuple[Assessment, Curated | None]]:
    """The staged episodes to publish, less those a newer recording superseded.

    A staged episode is superseded when the same source (same path, same episode key) was
    assessed again later with other content: the file was corrected and re-ingested, so its old
    content is no longer what the source holds and must not count (as a duplicate of its new
    self above all). It stays in staging and in the versions already published.
    """
    newest: dict[tuple[str, str], tuple[str, str]] = {}
    found = []
    for ep_dir in store.staged_episodes(name):
        a = Assessment.from_dict(store.read_json(store.staged_report(name, ep_dir.name)))
        found.append(a)
        src = (a.source_path, a.source_name)
        when = (a.assessed_at, a.episode_uid)
        if src not in newest or when > newest[src]:
            newest[src] = when
    reports: list[tuple[Assessment, Curated | None]] = []
    for a in found:
        if newest[(a.source_path, a.source_name)][1] != a.episode_uid:
            continue
        cur = _curated(store, name, a.episode_uid) if a.passed else None
        if a.passed and cur is None:
            continue  # gate passed but curation has not finished: next publish picks it up
        reports.append((a, cur))
    return reports


def _curated(store: Store, name: str, episode_uid: str) -> Curated | None:
    record = store.read_curated_record(name, episode_uid)
    return Curated(**record) if record is not None else None


def _source_record(store: Store, name: str, a: Assessment) -> SourceRecord:
    """The registered record of a staged episode (its files), looked up by the partition key
    :func:`~pipelines.processing.register_source` gave it; when the record is gone, the main
    file alone."""
    key = f"{name}/{a.source_name}@{a.episode_uid.removeprefix('ep-')[:10]}"
    try:
        return load_source_record(store, key)
    except (FileNotFoundError, ValueError, TypeError):
        return SourceRecord(key=key, dataset=name, path=a.source_path, layout=a.layout,
                            episode_key=None, display_name=a.source_name,
                            files={a.source_path: a.source_sha256},
                            primary_sha256=a.source_sha256, size=0,
                            episode_uid=a.episode_uid, registered_at=a.assessed_at)


@contextlib.contextmanager
def _new_version_dir(store: Store, name: str, version: int) -> Iterator[VersionWriter]:
    """A version folder claimed by its rename: one that appeared meanwhile is never replaced."""
    try:
        with store.new_version(name, version) as w:
            yield w
    except FileExistsError:
        final = store.version_path(name, version)
        if not store.is_dir(final):
            raise
        raise PublishError(f"{final} appeared while this version was being written (by a "
                           "publisher that did not take the lock); it is kept as it is: "
                           "publish again for the next version") from None


def publish(store: Store, name: str, profile: QualityProfile, fps: float,
            run_id: str | None = None) -> PublishResult:
    """Publish every staged episode of ``name`` as a new version (or reuse LATEST if equal).

    Publishers of one dataset take turns (:func:`pipelines.locks.publish_lock`) from reading
    the staged episodes to moving LATEST, and a version folder is claimed by its rename, never
    replaced.
    """
    from pipelines.locks import publish_lock

    with publish_lock(store, name):
        return _publish_locked(store, name, profile, fps, run_id)


def _publish_locked(store: Store, name: str, profile: QualityProfile, fps: float,
                    run_id: str | None) -> PublishResult:
    """The steps of a publish, in order, with the lock held."""
    reports = _gather_staged(store, name, fps)
    key = _content_key(reports, profile, fps)
    parent = store.latest_version(name)
    same = _unchanged_version(store, name, parent, key)
    if same is not None:
        return same
    version = _claim_version_number(store, name)
    ds_findings, reports, quarantined = _settle_dataset_checks(store, name, reports, profile)
    per_quality, quality_manifest = _quality_measures(reports, ds_findings, profile)
    kv = {"embodiq.dataset": name, "embodiq.version": str(version)}
    with _new_version_dir(store, name, version) as w:
        tables = _write_tables(w, reports, ds_findings, per_quality, quarantined, fps, kv)
        _fault("after_tables")
        passed = [(a, cur) for a, cur in reports if cur is not None]
        _write_frames(store, w, name, [a.episode_uid for a, _ in passed], kv)
        _fault("after_frames")
        _link_videos(store, w, name, passed)
        n_passed = sum(1 for a, _ in reports if a.passed)
        w.write_manifest({
            "format": FORMAT, "format_version": FORMAT_VERSION, "name": name,
            "version": version, "created_at": utc_now(), "parent_version": parent,
            "run_id": run_id,
            "profile": {"name": profile.name, "digest": profile.digest},
            "counts": {"episodes": len(reports), "passed": n_passed,
                       "failed": len(reports) - n_passed, "frames": tables.frames},
            "fps": fps, "features": _features(passed),
            "resampling": tables.resampling, "quality_measures": quality_manifest,
            "content_key": key, "files": _file_list(w), "sources": tables.sources,
        })
        _fault("before_rename")
    _fault("before_latest")
    store.set_latest(name, version)
    return PublishResult(name, version, store.version_path(name, version), True, len(reports),
                         n_passed, len(reports) - n_passed, tables.frames, ds_findings)


def _gather_staged(store: Store, name: str, fps: float) -> list[tuple[Assessment, Any]]:
    """The staged episodes to publish, in recording order; raises when there are none or when
    one was curated at another rate than the dataset's."""
    reports = _staged(store, name)
    if not reports:
        raise PublishError(f"dataset '{name}' has no staged episodes in "
                           f"{store.staging_dir / name}; ingest recordings first")
    mismatched = [a.source_name for a, c in reports if c is not None and c.fps != fps]
    if mismatched:
        raise PublishError(
            f"dataset '{name}' is published at {fps} fps but {len(mismatched)} staged "
            f"episode(s) were curated at another rate (first: {mismatched[0]}); "
            f"re-ingest them with --fps {fps}")
    reports.sort(key=lambda r: _order_key(r[0]))
    return reports


def _unchanged_version(store: Store, name: str, parent: int | None,
                       key: str) -> PublishResult | None:
    """The version that already holds exactly this content, if any: LATEST itself, or a
    version a run finished but died before moving LATEST to (adopted now, not rebuilt)."""
    if parent is not None:
        c = store.manifest(name, parent)
        if c.get("content_key") == key:
            n = c["counts"]
            return PublishResult(name, parent, store.version_dir(name, parent), False,
                                 n["episodes"], n["passed"], n["failed"], n["frames"], [])
    for v in sorted(store.versions(name), reverse=True):
        if parent is not None and v <= parent:
            break
        man = store.finished_manifest(name, v)
        if man is not None and man.get("content_key") == key:
            store.set_latest(name, v)
            n = man["counts"]
            return PublishResult(name, v, store.version_path(name, v), True, n["episodes"],
                                 n["passed"], n["failed"], n["frames"], [])
    return None


def _claim_version_number(store: Store, name: str) -> int:
    """The next version number: one past every version folder there is (finished or not).
    The number is held by the lock; the folder is claimed by its rename at the end."""
    return max([*store.versions(name), 0]) + 1


def _settle_dataset_checks(store: Store, name: str, reports: list[tuple[Assessment, Any]],
                           profile: QualityProfile
                           ) -> tuple[list[Finding], list[tuple[Assessment, Any]], dict[str, str]]:
    """Run the dataset-level checks over the digests (in recording order) and settle their
    verdicts: a dataset error on one episode (a duplicate) fails that episode, which then has
    no frames and is quarantined like any failure.

    Returns the dataset findings, the episodes as judged now, and each failed episode's
    quarantine folder name.
    """
    digests = [EpisodeDigest.from_dict(a.digest) for a, _ in reports if a.digest]
    ds_findings = run_dataset_checks(digests, profile) if digests else []
    per_episode_extra: dict[str, list[Finding]] = {}
    for f in ds_findings:
        if f.episode_uids and len(f.episode_uids) == 1:
            per_episode_extra.setdefault(f.episode_uids[0], []).append(f)
    judged = []
    quarantined: dict[str, str] = {}  # episode_uid -> its quarantine folder's name
    for a, cur in reports:
        extra = per_episode_extra.get(a.episode_uid)
        was_passed = a.passed
        if extra:
            a.findings = [*a.findings, *extra]
            a.grade = grade_of(a.findings)
            a.passed = a.grade != "F"
            a.quality_score = quality_score(a.findings)
        if not a.passed:
            rec = _source_record(store, name, a)
            if was_passed:  # failed here, not at the gate: quarantined like any failure
                quarantine(store, rec, a)
            quarantined[a.episode_uid] = quarantine_dir_for(store, rec.files).name
        judged.append((a, cur if a.passed else None))
    return ds_findings, judged, quarantined


@dataclass
class _Tables:
    """What writing the episodes and findings tables gathered for the manifest."""

    frames: int
    sources: list[dict[str, Any]]
    resampling: dict[str, dict[str, Any]]


def _write_tables(w: VersionWriter, reports: list[tuple[Assessment, Any]],
                  ds_findings: list[Finding], per_quality: dict[str, dict],
                  quarantined: dict[str, str], fps: float, kv: dict[str, str]) -> _Tables:
    """The episodes table (one row per episode) and the findings table (episode findings,
    then the dataset's)."""
    rows, finding_rows, sources = [], [], []
    frames_total = 0
    resampling: dict[str, dict[str, Any]] = {}
    for a, cur in reports:
        n = cur.n_frames if cur else 0
        frames_total += n
        rows.append(_episode_row(a, n, fps, cur.cameras if cur else [],
                                 cur.t0_ns if cur else a.t0_ns, per_quality.get(a.episode_uid)))
        finding_rows += findings_rows(a.episode_uid, a.findings)
        sources.append({"episode_uid": a.episode_uid, "robot_uid": a.robot_uid,
                        "source_name": a.source_name, "source_sha256": a.source_sha256,
                        **({"quarantine": quarantined[a.episode_uid]}
                           if a.episode_uid in quarantined else {})})
        if cur:
            for k, v in cur.resampling.items():
                prev = resampling.get(k)
                if prev is None or v["max_error_ns"] > prev["max_error_ns"]:
                    resampling[k] = v
    finding_rows += findings_rows(None, ds_findings)
    w.write_table(w.episodes_path, pa.Table.from_pylist(rows, schema=EPISODES_SCHEMA), {
        **kv, "embodiq.episode_uids": json.dumps([r["episode_uid"] for r in rows]),
        "embodiq.robot_uids": json.dumps(sorted({r["robot_uid"] for r in rows
                                                 if r["robot_uid"]}))})
    w.write_table(w.findings_path, pa.Table.from_pylist(finding_rows, schema=FINDINGS_SCHEMA),
                  kv)
    return _Tables(frames_total, sources, resampling)


def _write_frames(store: Store, w: VersionWriter, name: str, episode_uids: list[str],
                  kv: dict[str, str]) -> None:
    """Stream the staged per-episode frames tables into bounded part files, one episode at a
    time (an episode never spans two parts)."""
    files = [store.curated_frames(name, uid) for uid in episode_uids]
    if not files:
        return
    metas = []
    for f in files:
        with store.open_input(f) as fh:
            metas.append(pq.read_metadata(fh))
    schema = frames_schema([m.schema.to_arrow_schema() for m in metas])
    parts: list[list[Path]] = []
    rows_in_part = 0
    for f, m in zip(files, metas, strict=True):
        if not parts or (rows_in_part and rows_in_part + m.num_rows > MAX_ROWS_PER_PART):
            parts.append([])
            rows_in_part = 0
        parts[-1].append(f)
        rows_in_part += m.num_rows
    # closed when a write fails, so the reads still running are waited for there and then
    with contextlib.closing(_read_ahead(store, files)) as tables:
        for i, part in enumerate(parts):
            with store.open_output(w.frames_part(i)) as out, \
                    pq.ParquetWriter(out, schema.with_metadata(kv), compression="zstd") as writer:
                for _ in part:
                    writer.write_table(_conform(next(tables), schema))


#: Staged frames tables read ahead of the one being written.
READ_AHEAD = 4


def _read_ahead(store: Store, files: list[Path],
                ahead: int = READ_AHEAD) -> Generator[pa.Table, None, None]:
    """The tables of ``files`` in order, each read (decoded) on a thread while those before it
    are written: reading and writing a version's frames overlap instead of taking turns. At
    most ``ahead`` tables wait at once, so memory does not grow with the dataset."""

    def read(f: Path) -> pa.Table:
        with store.open_input(f) as fh:
            return pq.read_table(fh)

    with ThreadPoolExecutor(ahead, thread_name_prefix="embodiq-frames") as pool:
        pending = deque(pool.submit(read, f) for f in files[:ahead])
        for f in files[ahead:]:
            table = pending.popleft().result()
            pending.append(pool.submit(read, f))
            yield table
        while pending:
            yield pending.popleft().result()


def _link_videos(store: Store, w: VersionWriter, name: str,
                 passed: list[tuple[Assessment, Curated]]) -> None:
    """The passed episodes' re-timed videos, linked (or copied) from staging."""
    for a, cur in passed:
        for cam in cur.cameras:
            store.link_or_copy(store.curated_video(name, a.episode_uid, cam),
                               w.video(a.episode_uid, cam))


def _features(passed: list[tuple[Assessment, Curated]]) -> dict[str, dict[str, Any]]:
    """The streams and cameras of the published frames, as first described by an episode."""
    streams: dict[str, dict[str, Any]] = {}
    cameras: dict[str, dict[str, Any]] = {}
    for a, cur in passed:
        for info in a.streams:
            streams.setdefault(info["name"], {k: v for k, v in info.items() if k != "name"})
        for info in a.cameras:
            if info["name"] in cur.cameras:
                cameras.setdefault(info["name"], {k: v for k, v in info.items() if k != "name"})
    return {"streams": streams, "cameras": cameras}


def _file_list(w: VersionWriter) -> list[dict[str, Any]]:
    """Every file of the version so far (all but the manifest) with its sha256 and size."""
    return [{"path": rel, "sha256": w.sha256(rel), "size": size} for rel, size in w.files()]


def frames_schema(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema for all episodes' frames: a stream whose width differs between episodes
    (robots with different joint counts in one dataset) becomes a variable ``list<float32>``."""
    types: dict[str, list[pa.DataType]] = {}
    for sch in schemas:
        for f in sch:
            types.setdefault(f.name, []).append(f.type)
    fields = []
    for name, ts in types.items():
        first = ts[0]
        if all(t == first for t in ts):
            fields.append(pa.field(name, first))
        else:
            fields.append(pa.field(name, pa.list_(pa.float32())))
    return pa.schema(fields)


def _conform(t: pa.Table, schema: pa.Schema) -> pa.Table:
    """Give ``t`` every column of ``schema`` (null where the episode lacks a stream)."""
    cols = []
    for field_ in schema:
        if field_.name in t.schema.names:
            cols.append(t.column(field_.name).cast(field_.type))
        else:
            cols.append(pa.nulls(t.num_rows, type=field_.type))
    return pa.Table.from_arrays(cols, schema=schema)
