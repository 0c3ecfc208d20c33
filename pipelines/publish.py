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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from checks.digest import EpisodeDigest
from checks.grading import grade_of, quality_score
from checks.registry import run_dataset_checks
from pipelines.frames import write_table
from pipelines.processing import (
    Assessment,
    SourceRecord,
    load_source_record,
    quarantine,
    quarantine_dir_for,
    read_curated,
    read_report,
    utc_now,
)
from pipelines.store import Store, atomic_copy, atomic_write_json, staged_dir
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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


def _staged(store: Store, name: str) -> list[tuple[Assessment, Any]]:
    """The staged episodes to publish, less those a newer recording superseded.

    A staged episode is superseded when the same source (same path, same episode key) was
    assessed again later with other content: the file was corrected and re-ingested, so its old
    content is no longer what the source holds and must not count (as a duplicate of its new
    self above all). It stays in staging and in the versions already published.
    """
    newest: dict[tuple[str, str], tuple[str, str]] = {}
    found = []
    for ep_dir in store.staged_episodes(name):
        a = read_report(ep_dir / "report.json")
        found.append(a)
        src = (a.source_path, a.source_name)
        when = (a.assessed_at, a.episode_uid)
        if src not in newest or when > newest[src]:
            newest[src] = when
    reports: list[tuple[Assessment, Any]] = []
    for a in found:
        if newest[(a.source_path, a.source_name)][1] != a.episode_uid:
            continue
        cur = read_curated(store.staging_episode_dir(name, a.episode_uid)) if a.passed else None
        if a.passed and cur is None:
            continue  # gate passed but curation has not finished: next publish picks it up
        reports.append((a, cur))
    return reports


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
def _new_version_dir(final: Path) -> Iterator[Path]:
    """A version folder claimed by its rename: one that appeared meanwhile is never replaced."""
    try:
        with staged_dir(final, replace=False) as tmp:
            yield tmp
    except FileExistsError:
        if not final.exists():
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
    key = _content_key(reports, profile, fps)

    parent = store.latest_version(name)
    if parent is not None:
        pman = json.loads((store.version_dir(name, parent) / "manifest.json").read_text())
        if pman.get("content_key") == key:
            c = pman["counts"]
            return PublishResult(name, parent, store.version_dir(name, parent), False,
                                 c["episodes"], c["passed"], c["failed"], c["frames"], [])
    # a version finished by a run that died before moving LATEST is adopted, not rebuilt
    for v in sorted(store.versions(name), reverse=True):
        if parent is not None and v <= parent:
            break
        vdir = store.dataset_dir(name) / store.version_name(v)
        man_path = vdir / "manifest.json"
        if man_path.is_file() and json.loads(man_path.read_text()).get("content_key") == key:
            store.set_latest(name, v)
            c = json.loads(man_path.read_text())["counts"]
            return PublishResult(name, v, vdir, True, c["episodes"], c["passed"], c["failed"],
                                 c["frames"], [])
    version = max([*store.versions(name), 0]) + 1
    final = store.dataset_dir(name) / store.version_name(version)

    # dataset-level checks over the digests, in recording order
    digests = [EpisodeDigest.from_dict(a.digest) for a, _ in reports if a.digest]
    ds_findings = run_dataset_checks(digests, profile) if digests else []
    per_episode_extra: dict[str, list[Finding]] = {}
    for f in ds_findings:
        if f.episode_uids and len(f.episode_uids) == 1:
            per_episode_extra.setdefault(f.episode_uids[0], []).append(f)
    # a dataset error on one episode (a duplicate) fails that episode: no frames for it
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
    reports = judged

    per_quality, quality_manifest = _quality_measures(reports, ds_findings, profile)
    kv = {"embodiq.dataset": name, "embodiq.version": str(version)}
    with _new_version_dir(final) as tmp:
        rows, finding_rows, sources = [], [], []
        frames_total = 0
        streams: dict[str, dict[str, Any]] = {}
        cameras: dict[str, dict[str, Any]] = {}
        resampling: dict[str, dict[str, Any]] = {}
        for a, cur in reports:
            n = cur.n_frames if cur else 0
            frames_total += n
            rows.append(_episode_row(a, n, fps, cur.cameras if cur else [],
                                     cur.t0_ns if cur else a.t0_ns,
                                     per_quality.get(a.episode_uid)))
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
        ep_table = pa.Table.from_pylist(rows, schema=EPISODES_SCHEMA)
        write_table(ep_table, tmp / "episodes.parquet", {
            **kv, "embodiq.episode_uids": json.dumps([r["episode_uid"] for r in rows]),
            "embodiq.robot_uids": json.dumps(sorted({r["robot_uid"] for r in rows
                                                     if r["robot_uid"]}))})
        write_table(pa.Table.from_pylist(finding_rows, schema=FINDINGS_SCHEMA),
                    tmp / "findings.parquet", kv)
        _fault("after_tables")

        # frames: stream the staged per-episode tables into bounded part files, one at a time
        passed = [(a, cur) for a, cur in reports if cur is not None]
        frame_files = [Path(cur.path) / "frames.parquet" for _a, cur in passed]
        if frame_files:
            schema = frames_schema([pq.read_schema(f) for f in frame_files])
            (tmp / "frames").mkdir()
            part, writer, rows_in_part = 0, None, 0
            try:
                for f in frame_files:
                    t = _conform(pq.read_table(f), schema)
                    full = rows_in_part and rows_in_part + t.num_rows > MAX_ROWS_PER_PART
                    if writer is None or full:
                        if writer is not None:
                            writer.close()
                        writer = pq.ParquetWriter(tmp / "frames" / f"part-{part:05d}.parquet",
                                                  schema.with_metadata(kv), compression="zstd")
                        part += 1
                        rows_in_part = 0
                    writer.write_table(t)
                    rows_in_part += t.num_rows
            finally:
                if writer is not None:
                    writer.close()
        _fault("after_frames")
        for a, cur in passed:
            for cam in cur.cameras:
                src = Path(cur.path) / "videos" / f"{cam}.mp4"
                dst = tmp / "videos" / a.episode_uid / f"{cam}.mp4"
                dst.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(src, dst)
                except OSError:
                    atomic_copy(src, dst)
        for a, cur in passed:
            for info in a.streams:
                streams.setdefault(info["name"], {k: v for k, v in info.items() if k != "name"})
            for info in a.cameras:
                if info["name"] in cur.cameras:
                    cameras.setdefault(info["name"],
                                       {k: v for k, v in info.items() if k != "name"})
        files = []
        for p in sorted(tmp.rglob("*")):
            if p.is_file():
                files.append({"path": p.relative_to(tmp).as_posix(), "sha256": _sha256(p),
                              "size": p.stat().st_size})
        n_passed = sum(1 for a, _ in reports if a.passed)
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "name": name,
            "version": version, "created_at": utc_now(), "parent_version": parent,
            "run_id": run_id,
            "profile": {"name": profile.name, "digest": profile.digest},
            "counts": {"episodes": len(reports), "passed": n_passed,
                       "failed": len(reports) - n_passed, "frames": frames_total},
            "fps": fps, "features": {"streams": streams, "cameras": cameras},
            "resampling": resampling, "quality_measures": quality_manifest,
            "content_key": key, "files": files, "sources": sources,
        }
        atomic_write_json(tmp / "manifest.json", manifest)
        _fault("before_rename")
    _fault("before_latest")
    store.set_latest(name, version)
    return PublishResult(name, version, final, True, len(reports), n_passed,
                         len(reports) - n_passed, frames_total, ds_findings)


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
