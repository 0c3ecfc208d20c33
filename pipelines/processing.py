"""Per-recording work as plain functions: register, validate, judge, quarantine, curate.

Dagster assets and the ``embodiq check`` command call the same functions. Each is stateless
and idempotent: its inputs are the source files (identified by their sha256) and the store, so
it can run on any machine and be retried safely.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks.grading import grade_of, quality_score
from checks.registry import run_episode_checks
from pipelines.frames import frames_table, write_camera_video, write_table
from pipelines.sources import SourceRef, digest_source, read_source
from pipelines.store import Store, atomic_copy, atomic_write_json, check_name, staged_dir
from robots.profile import ProfileCatalog, RobotProfile
from schemas.episode import Episode
from schemas.findings import Finding, Severity
from schemas.names import check_safe_name, contained_problem, is_safe_name
from schemas.quality_profile import QualityProfile


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------- registration
@dataclass
class SourceRecord:
    """A registered recording: what a ``recordings`` partition key points at."""

    key: str
    dataset: str
    path: str
    layout: str
    episode_key: str | None
    display_name: str
    files: dict[str, str]  # absolute path -> sha256
    primary_sha256: str
    size: int
    episode_uid: str
    registered_at: str
    #: The mapping file the source is read with (non-native layouts), if any.
    mapping: str | None = None

    @property
    def ref(self) -> SourceRef:
        return SourceRef(Path(self.path), self.layout, self.episode_key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SourceRecord:
        return cls(**d)


def _record_path(store: Store, key: str) -> Path:
    return store.sources_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def register_source(store: Store, ref: SourceRef, dataset: str,
                    mapping: Path | None = None) -> SourceRecord:
    """Hash the episode's files and record them under a stable partition key (idempotent)."""
    check_name(dataset)
    dig = digest_source(ref)
    shown = ref.display_name
    if not shown.isprintable() or "..." in shown:  # characters a partition key may not hold
        shown = f"source-{hashlib.sha256(shown.encode()).hexdigest()[:12]}"
    key = f"{dataset}/{shown}@{dig.episode_uid.removeprefix('ep-')[:10]}"
    path = _record_path(store, key)
    if path.is_file():
        old = SourceRecord.from_dict(json.loads(path.read_text()))
        mapping_s = str(mapping.resolve()) if mapping else None
        if old.files == dig.files and old.path == str(ref.path) and old.mapping == mapping_s:
            return old
    rec = SourceRecord(
        key=key, dataset=dataset, path=str(ref.path), layout=ref.layout,
        episode_key=ref.episode_key, display_name=ref.display_name, files=dig.files,
        primary_sha256=dig.primary_sha256, size=dig.size, episode_uid=dig.episode_uid,
        registered_at=utc_now(), mapping=str(mapping.resolve()) if mapping else None,
    )
    atomic_write_json(path, rec.to_dict())
    return rec


def load_source_record(store: Store, key: str) -> SourceRecord:
    path = _record_path(store, key)
    if not path.is_file():
        raise FileNotFoundError(
            f"recording '{key}' is not registered in {store.sources_dir}; "
            "ingest it with 'embodiq ingest' or drop it into the inbox")
    return SourceRecord.from_dict(json.loads(path.read_text()))


def verify_unchanged(rec: SourceRecord) -> list[str]:
    """Problems with the registered files now: missing, or bytes changed since registration."""
    from schemas.recording import sha256_file

    problems = []
    for p, sha in rec.files.items():
        fp = Path(p)
        if not fp.is_file():
            problems.append(f"{p} is missing")
        elif sha256_file(fp) != sha:
            problems.append(f"{p} changed since it was registered")
    return problems


# --------------------------------------------------------------------------- validation
@dataclass
class Validation:
    """The episode as read, plus structural and uid findings."""

    episode: Episode | None
    robot: RobotProfile | None
    robot_uid: str | None
    findings: list[Finding] = field(default_factory=list)


def _uid_findings_without_registry(given: str | None) -> list[Finding]:
    if not given:
        return []
    from robots.uid import UidError, parse

    try:
        parse(given)
    except UidError as exc:
        return [Finding("schema.uid", Severity.ERROR,
                        f"root attribute robot_uid '{given}' is not a valid robot uid: {exc}",
                        stream="robot_uid")]
    return []


def validate_source(ref: SourceRef, catalog: ProfileCatalog, registry: Any | None = None,
                    run_id: str | None = None, mapping: dict | None = None) -> Validation:
    """Read the episode and apply the data-collection schema, robot profile and uid rules.

    With a ``registry`` the robot uid is resolved or issued (stamping); without one (a dry
    ``check``) a given uid is only validated structurally.
    """
    rr = read_source(ref, mapping)
    findings = list(rr.findings)
    ep = rr.episode
    if ep is None:
        return Validation(None, None, None, findings)
    md = ep.metadata
    robot = catalog.get(md.robot_model) if md.robot_model else None
    robot_uid = md.robot_uid or None
    if registry is not None and md.robot_model and md.robot_serial:
        from robots.stamping import resolve_robot_uid

        robot_uid, uid_findings = resolve_robot_uid(
            registry, robot, md.robot_model, md.robot_serial, md.robot_uid or None, run_id)
        findings += uid_findings
    else:
        findings += _uid_findings_without_registry(md.robot_uid)
    return Validation(ep, robot, robot_uid, findings)


# --------------------------------------------------------------------------- judgement
@dataclass
class Assessment:
    """The quality report of one episode."""

    episode_uid: str
    source_name: str
    source_path: str
    source_sha256: str
    layout: str
    grade: str
    passed: bool
    quality_score: float
    findings: list[Finding]
    metadata: dict[str, Any]
    robot_uid: str | None
    duration_s: float
    t0_ns: int | None
    profile_name: str
    profile_digest: str
    digest: dict[str, Any] | None = None
    #: Per stream: name, kind, unit, names, dim, space, rate_hz (for the manifest's features).
    streams: list[dict[str, Any]] = field(default_factory=list)
    #: Per camera: name, width, height, encoding, depth, rate_hz.
    cameras: list[dict[str, Any]] = field(default_factory=list)
    assessed_at: str = field(default_factory=utc_now)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Severity}
        for f in self.findings:
            out[f.severity.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["findings"] = [f.to_dict() for f in self.findings]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Assessment:
        d = dict(d)
        d["findings"] = [Finding.from_dict(f) for f in d["findings"]]
        return cls(**d)


def _metadata_dict(ep: Episode | None) -> dict[str, Any]:
    if ep is None:
        return {}
    md = asdict(ep.metadata)
    md["extra"] = {k: (v if isinstance(v, (str, int, float, bool)) else str(v))
                   for k, v in md["extra"].items()}
    return md


def judge(v: Validation, profile: QualityProfile, *, episode_uid: str, source_name: str,
          source_path: str, source_sha256: str, layout: str) -> Assessment:
    """Run the quality checks on a validated episode and grade it."""
    findings = list(v.findings)
    ep = v.episode
    digest = None
    if ep is not None:
        findings += run_episode_checks(ep, v.robot, profile)
        try:
            from checks.digest import digest_episode

            digest = digest_episode(ep, episode_uid, v.robot_uid).to_dict()
        except ImportError:
            digest = None
    span = ep.span_ns() if ep is not None else None
    return Assessment(
        episode_uid=episode_uid, source_name=source_name, source_path=source_path,
        source_sha256=source_sha256, layout=layout, grade=grade_of(findings),
        passed=grade_of(findings) != "F", quality_score=quality_score(findings),
        findings=findings, metadata=_metadata_dict(ep), robot_uid=v.robot_uid,
        duration_s=ep.duration_s if ep is not None else 0.0,
        t0_ns=span[0] if span else None, profile_name=profile.name,
        profile_digest=profile.digest, digest=digest,
        streams=[{"name": s.name, "kind": s.kind, "unit": s.unit, "names": list(s.names),
                  "dim": int(s.values.shape[1]) if s.values.ndim == 2 else 1,
                  "space": s.space, "rate_hz": s.rate_hz}
                 for s in (ep.streams.values() if ep is not None else [])],
        cameras=[{"name": c.name, "width": c.width, "height": c.height, "encoding": c.encoding,
                  "depth": c.is_depth, "rate_hz": c.rate_hz}
                 for c in (ep.cameras.values() if ep is not None else [])],
    )


def assess_ref(ref: SourceRef, profile: QualityProfile, catalog: ProfileCatalog,
               registry: Any | None = None, run_id: str | None = None,
               mapping: dict | None = None) -> Assessment:
    """Everything ``embodiq check`` needs for one episode, in one read."""
    dig = digest_source(ref)
    v = validate_source(ref, catalog, registry, run_id, mapping)
    return judge(v, profile, episode_uid=dig.episode_uid, source_name=ref.display_name,
                 source_path=str(ref.path), source_sha256=dig.primary_sha256, layout=ref.layout)


# --------------------------------------------------------------------------- outcomes
def write_report(store: Store, dataset: str, a: Assessment) -> Path:
    path = store.staging_episode_dir(dataset, a.episode_uid) / "report.json"
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


def quarantine_record_name(dataset: str, episode_key: str | None) -> str:
    """One findings record per dataset (and per episode of a multi-episode source): the same
    recording rejected by two datasets keeps both records. ``@`` never occurs in a dataset
    name, so the two parts cannot be confused."""
    return (f"findings-{check_name(dataset)}@{episode_key}.json" if episode_key
            else f"findings-{check_name(dataset)}.json")


def quarantine(store: Store, rec: SourceRecord, a: Assessment) -> Path:
    """Copy the source files byte for byte into its quarantine folder with the findings.

    Multi-episode sources (a LeRobot dataset) keep one copy of the files under ``files/``.
    Each dataset that rejects the episode writes its own record (:func:`quarantine_record_name`).
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
        dst = store.contained(qdir / "files" / rel if rec.episode_key else qdir / rel)
        if dst.is_file() and sha256_file(dst) == sha:
            continue
        atomic_copy(src, dst)
        if sha256_file(dst) != sha:
            dst.unlink()
            not_copied[p] = "changed since it was registered"
    key = rec.episode_key
    if key is not None and not is_safe_name(key):  # a hostile key never becomes a file name
        key = "key-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    atomic_write_json(store.contained(qdir / quarantine_record_name(rec.dataset, key)), {
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
    final = store.staging_episode_dir(dataset, episode_uid) / "curated"
    res = frames_table(episode, episode_uid, fps)
    if res is None:
        return None
    with staged_dir(final) as tmp:
        write_table(res.table, tmp / "frames.parquet")
        cams = []
        for name, cam in episode.cameras.items():
            if cam.frames is None:
                continue
            video = store.contained(tmp / "videos" / f"{check_safe_name(name, 'camera name')}.mp4")
            n = write_camera_video(cam, res.grid, video)
            if n < res.grid.n:  # fewer frames decoded than the grid needs: keep no video
                video.unlink()
                continue
            cams.append(name)
        cur = Curated(episode_uid, res.grid.n, fps, res.grid.t0_ns, cams,
                      {k: asdict(v) for k, v in res.resampling.items()}, str(final))
        atomic_write_json(tmp / "curated.json", asdict(cur))
    return cur


def read_curated(episode_dir: Path) -> Curated | None:
    p = episode_dir / "curated" / "curated.json"
    if not p.is_file():
        return None
    return Curated(**json.loads(p.read_text()))


def remove_staged(store: Store, dataset: str, episode_uid: str) -> None:
    shutil.rmtree(store.staging_episode_dir(dataset, episode_uid), ignore_errors=True)
