"""Per-recording work as plain functions: register, validate, judge, quarantine, curate.

Dagster assets and the ``embodiq check`` command call the same functions. Each is stateless
and idempotent: its inputs are the source files (identified by their sha256) and the store, so
it can run on any machine and be retried safely.

:func:`process_recording` is the one path a recording takes, read once: read → schema and uid
→ checks → grade → report → quarantine or curate. :func:`run_recordings` runs it over many
recordings on a pool of worker processes with a watchdog, so one file that hangs the HDF5
library costs one worker, never the batch.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks.grading import grade_of, quality_score
from checks.registry import run_episode_checks
from pipelines.sources import SourceRef, Unrecognised, digest_source, read_source
from pipelines.store import Store, atomic_copy, atomic_write_json, check_name, staged_dir
from robots.profile import ProfileCatalog, RobotProfile
from schemas.episode import Episode
from schemas.findings import Finding, Severity
from schemas.names import check_safe_name, contained_problem, is_safe_name
from schemas.quality_profile import QualityProfile
from schemas.read_result import ReadResult


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


# --------------------------------------------------------------------------- reading
#: Recordings read by this process, by display name: the read-once rule is counted here.
_READS: Counter[str] = Counter()


def read_recording(ref: SourceRef, mapping: dict | None = None) -> ReadResult:
    """Read one episode through its adapter (every read in the pipeline goes through here)."""
    _READS[ref.display_name] += 1
    return read_source(ref, mapping)


def reads_so_far() -> int:
    """How many recordings this process has read since it started."""
    return sum(_READS.values())


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
    from pipelines.adapters.profiles import profiles_for_reading

    with profiles_for_reading(catalog):  # the adapter names columns from the judge's profiles
        rr = read_recording(ref, mapping)
    findings = list(rr.findings)
    ep = rr.episode
    if ep is None:
        return Validation(None, None, None, findings)
    md = ep.metadata
    # by id or alias: a LeRobot robot_type names the model in its own spelling
    robot = catalog.resolve(md.robot_model) if md.robot_model else None
    robot_uid = md.robot_uid or None
    if registry is not None and md.robot_model and md.robot_serial:
        from robots.stamping import resolve_robot_uid

        robot_uid, uid_findings = resolve_robot_uid(
            registry, robot, robot.id if robot is not None else md.robot_model,
            md.robot_serial, md.robot_uid or None, run_id)
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
    from checks.digest import digest_episode

    findings = list(v.findings)
    ep = v.episode
    digest = None
    if ep is not None:
        findings += run_episode_checks(ep, v.robot, profile)
        digest = digest_episode(ep, episode_uid, v.robot_uid).to_dict()
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


def assess(ref: SourceRef, profile: QualityProfile, catalog: ProfileCatalog, *,
           episode_uid: str, source_sha256: str, registry: Any | None = None,
           run_id: str | None = None, mapping: dict | None = None
           ) -> tuple[Assessment, Episode | None]:
    """Read the episode once, validate and judge it; the episode comes back for curation."""
    v = validate_source(ref, catalog, registry, run_id, mapping)
    a = judge(v, profile, episode_uid=episode_uid, source_name=ref.display_name,
              source_path=str(ref.path), source_sha256=source_sha256, layout=ref.layout)
    return a, v.episode


def assess_ref(ref: SourceRef, profile: QualityProfile, catalog: ProfileCatalog,
               registry: Any | None = None, run_id: str | None = None,
               mapping: dict | None = None) -> Assessment:
    """Everything ``embodiq check`` needs for one episode, in one read."""
    dig = digest_source(ref)
    return assess(ref, profile, catalog, episode_uid=dig.episode_uid,
                  source_sha256=dig.primary_sha256, registry=registry, run_id=run_id,
                  mapping=mapping)[0]


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
    from pipelines.frames import frames_table, write_camera_video, write_table

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


# --------------------------------------------------------------------------- one recording
#: Seconds one recording may take in its worker (layout detection and reading included)
#: before the worker is stopped and the recording reported as unreadable.
DEFAULT_TIMEOUT_S = 300.0


@dataclass
class RecordingTask:
    """What a worker needs to process one recording; small and picklable."""

    ref: SourceRef
    profile: QualityProfile
    #: Every folder robot profiles are looked up in, in order (see :func:`robot_dirs`).
    robots_dirs: tuple[str, ...]
    mapping: dict | None = None
    #: For an ingest: the registered record, the store, the dataset clock and the run.
    #: Without a record the recording is only judged (``embodiq check``): nothing is written.
    rec: SourceRecord | None = None
    store_root: str | None = None
    fps: float | None = None
    run_id: str | None = None
    #: Where the robot registry is (a PostgreSQL URL or the store's SQLite file), resolved by
    #: the process that made the task: a worker outlives the configuration it started with.
    registry: str | None = None

    @property
    def name(self) -> str:
        return self.ref.display_name


@dataclass
class RecordingOutcome:
    """What became of one recording: its report, and where it went."""

    name: str
    assessment: Assessment | None
    key: str | None = None
    curated: Curated | None = None
    report_path: str | None = None
    quarantined_to: str | None = None
    #: A problem that is not a grade: files changed since registration, no frame buildable.
    error: str | None = None
    #: How often the recording was read while processing it (the pipeline reads it once).
    reads: int = 0
    #: The worker was stopped (timeout), died or raised; the recording counts as unreadable.
    stopped: bool = False


def robot_dirs(store: Store) -> tuple[str, ...]:
    """The robot profile folders as this process sees them (store, ``EMBODIQ_ROBOTS``,
    shipped), resolved here because a worker's environment may be older than ours."""
    from robots.profile import search_dirs

    return tuple(str(d) for d in search_dirs([store.robots_dir]))


#: Catalogs this worker has loaded, by folders, with the profile files they were loaded from.
_CATALOGS: dict[tuple[str, ...], tuple[tuple, ProfileCatalog]] = {}


def _profiles_stamp(dirs: tuple[str, ...]) -> tuple:
    """Every profile file in ``dirs`` with its modification time and size: a profile added,
    edited or removed between tasks changes it."""
    out: list[tuple] = []
    for d in dirs:
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.name.endswith(".toml"):
                        try:
                            st = e.stat()
                            out.append((d, e.name, st.st_mtime_ns, st.st_size))
                        except OSError:
                            out.append((d, e.name, -1, -1))
        except OSError:
            out.append((d, "", -1, -1))
    return tuple(sorted(out))


def _catalog(dirs: tuple[str, ...]) -> ProfileCatalog:
    """The catalog of ``dirs``, parsed once per worker while its files stay as they were:
    parsing every profile for every recording cost more than checking a LeRobot episode."""
    stamp = _profiles_stamp(dirs)
    got = _CATALOGS.get(dirs)
    if got is not None and got[0] == stamp:
        return got[1]
    catalog = ProfileCatalog()
    catalog.dirs = [Path(d) for d in dirs]  # exactly the parent's folders, in its order
    _CATALOGS[dirs] = (stamp, catalog)
    return catalog


def process_recording(task: RecordingTask) -> RecordingOutcome:
    """One recording, read once: schema and uid, checks, grade; then (ingest) the report is
    written and the recording quarantined when it fails, else curated into staging."""
    before = reads_so_far()
    ref, rec = task.ref, task.rec
    # cached while the profile files are unchanged: a worker outlives a run
    catalog = _catalog(task.robots_dirs)
    if rec is None:
        dig = digest_source(ref)
        a, _ = assess(ref, task.profile, catalog, episode_uid=dig.episode_uid,
                      source_sha256=dig.primary_sha256, mapping=task.mapping)
        return RecordingOutcome(task.name, a, reads=reads_so_far() - before)
    store = Store(task.store_root)
    problems = verify_unchanged(rec)
    if problems:
        return RecordingOutcome(task.name, None, key=rec.key, error=(
            f"{rec.display_name}: {'; '.join(problems)} — register it again"))
    from robots.registry_backends import open_registry, store_registry

    registry = (open_registry(task.registry) if task.registry
                else store_registry(store.registry_path))
    from pipelines.frames import SparseSources

    a, episode = assess(ref, task.profile, catalog, episode_uid=rec.episode_uid,
                        source_sha256=rec.primary_sha256,
                        registry=registry, run_id=task.run_id,
                        mapping=task.mapping)
    out = RecordingOutcome(task.name, a, key=rec.key,
                           report_path=str(write_report(store, rec.dataset, a)))
    if not a.passed:
        out.quarantined_to = str(quarantine(store, rec, a))
    elif episode is not None:
        try:
            out.curated = curate(store, rec.dataset, episode, rec.episode_uid,
                                 float(task.fps or 30.0))
        except SparseSources as exc:
            # the dataset clock would invent frames the samples cannot support: a rejection
            # like any other, quarantined with the reason, never a silently dropped recording
            a.findings = [*a.findings, Finding("schema.stream", Severity.ERROR, str(exc))]
            a.grade, a.passed = grade_of(a.findings), False
            a.quality_score = quality_score(a.findings)
            out.report_path = str(write_report(store, rec.dataset, a))
            out.quarantined_to = str(quarantine(store, rec, a))
            out.reads = reads_so_far() - before
            return out
        if out.curated is None:
            out.error = (f"{rec.display_name}: its streams and cameras share no common time "
                         "span, so no frame can be built")
    out.reads = reads_so_far() - before
    return out


def stopped_outcome(task: RecordingTask, why: str) -> RecordingOutcome:
    """The outcome of a recording whose worker was stopped or died: unreadable, and (ingest)
    reported and quarantined like any failed recording. Runs in the parent: no file is read."""
    finding = Finding("schema.unreadable", Severity.ERROR,
                      f"{task.name}: {why}; the file is probably corrupt")
    rec = task.rec
    a = Assessment(
        episode_uid=rec.episode_uid if rec else "", source_name=task.name,
        source_path=str(task.ref.path), source_sha256=rec.primary_sha256 if rec else "",
        layout=task.ref.layout, grade=grade_of([finding]), passed=False,
        quality_score=quality_score([finding]), findings=[finding], metadata={},
        robot_uid=None, duration_s=0.0, t0_ns=None, profile_name=task.profile.name,
        profile_digest=task.profile.digest)
    out = RecordingOutcome(task.name, a, key=rec.key if rec else None, stopped=True)
    if rec is not None:
        store = Store(task.store_root)
        out.report_path = str(write_report(store, rec.dataset, a))
        out.quarantined_to = str(quarantine(store, rec, a))
    return out


# --------------------------------------------------------------------------- worker pool
def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_POOLS: dict[int, Any] = {}


def worker_modules() -> list[str]:
    """What the workers' fork server imports once, so no worker imports it again: the reading
    and checking code (numba, pyarrow, OpenCV and the check catalogue). The process that
    starts the pool imports none of it: it only hands out work and collects verdicts."""
    import pkgutil

    import checks.catalog
    import pipelines.adapters

    return ["pipelines.processing", "checks.digest", "pipelines.frames",
            *(f"checks.catalog.{m.name}" for m in pkgutil.iter_modules(checks.catalog.__path__)),
            *(f"pipelines.adapters.{m.name}"
              for m in pkgutil.iter_modules(pipelines.adapters.__path__))]


def _worker_init() -> None:
    """Ctrl-C is for the parent: it stops the run; a worker killed by it would otherwise read
    as a recording that killed its worker, and be quarantined."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool(workers: int) -> Any:
    """A pool of ``workers`` processes, kept for the life of this process.

    Workers fork from a server that has imported the pipeline once (``forkserver``), so a
    replacement for a stopped worker is ready in milliseconds, and no worker inherits the
    parent's threads (Dagster's, SQLite's) mid-flight.
    """
    pool = _POOLS.get(workers)
    if pool is None or not pool.active:
        pool = _POOLS[workers] = _new_pool(workers)
    return pool


def _new_pool(workers: int) -> Any:
    from pebble import ProcessPool

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(worker_modules())
    return ProcessPool(max_workers=workers, context=ctx, initializer=_worker_init)


@atexit.register
def shutdown_pools() -> None:
    for pool in _POOLS.values():
        pool.stop()
        pool.join()
    _POOLS.clear()


@dataclass
class TaskResult:
    status: str  # "ok", "stopped" (timeout or worker death) or "error" (the function raised)
    value: Any = None
    why: str = ""


def iter_tasks(fn: Callable[[Any], Any], items: Sequence[Any], *, workers: int | None = None,
               timeout: float | None = DEFAULT_TIMEOUT_S,
               timeout_of: Callable[[Any], int] | None = None
               ) -> Iterator[tuple[int, TaskResult]]:
    """``fn(item)`` for every item on the worker pool, yielded as they finish.

    A task running longer than ``timeout`` seconds (times ``timeout_of(item)``, for an item
    that bundles several units of work) has its worker killed and replaced; it and a task
    whose worker died come back as ``stopped``, and the others go on.
    """
    if not items:
        return
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures import as_completed

    from pebble import ProcessExpired

    pool = _pool(workers or default_workers())
    def limit(item: Any) -> float | None:
        return timeout * timeout_of(item) if timeout is not None and timeout_of else timeout

    futures = {pool.schedule(fn, args=(item,), timeout=limit(item)): i
               for i, item in enumerate(items)}
    for fut in as_completed(futures):
        i = futures[fut]
        try:
            res = TaskResult("ok", fut.result())
        except FutureTimeout:
            res = TaskResult("stopped", why=f"reading it did not finish within {timeout:g} s "
                                            "(the worker was stopped)")
        except ProcessExpired as exc:
            res = TaskResult("stopped", why=f"the worker reading it died "
                                            f"(exit code {exc.exitcode})")
        except Exception as exc:
            res = TaskResult("error", exc, f"{type(exc).__name__}: {exc}")
        yield i, res


def run_tasks(fn: Callable[[Any], Any], items: Sequence[Any], *, workers: int | None = None,
              timeout: float | None = DEFAULT_TIMEOUT_S) -> list[TaskResult]:
    """Like :func:`iter_tasks`, results in the items' order."""
    out: list[TaskResult] = [TaskResult("error")] * len(items)
    for i, res in iter_tasks(fn, items, workers=workers, timeout=timeout):
        out[i] = res
    return out


def run_recordings(tasks: Sequence[RecordingTask], *, workers: int | None = None,
                   timeout: float | None = DEFAULT_TIMEOUT_S
                   ) -> Iterator[tuple[int, RecordingOutcome]]:
    """:func:`process_recording` over many recordings in parallel, yielded as they finish.

    The outcome of a recording does not depend on the others, on the number of workers or on
    the order they finish in.
    """
    n_workers = workers or default_workers()
    chunks = recording_chunks(tasks, n_workers)
    items = [[tasks[i] for i in chunk] for chunk in chunks]
    retry: list[int] = []
    # a chunk may take as long as its recordings together; each gets its own watchdog below
    # when the chunk is stopped
    for c, res in iter_tasks(_process_chunk, items, workers=n_workers, timeout=timeout,
                             timeout_of=len):
        if res.status == "ok":
            for i, (status, value, why) in zip(chunks[c], res.value, strict=True):
                yield i, _outcome(tasks[i], TaskResult(status, value, why))
        elif len(chunks[c]) == 1:
            yield chunks[c][0], _outcome(tasks[chunks[c][0]], res)
        else:  # a worker stopped or died inside a chunk: its recordings go again, one by one
            retry += chunks[c]
    if retry:
        for j, res in iter_tasks(process_recording, [tasks[i] for i in retry],
                                 workers=n_workers, timeout=timeout):
            yield retry[j], _outcome(tasks[retry[j]], res)


def _outcome(task: RecordingTask, res: TaskResult) -> RecordingOutcome:
    if res.status == "ok":
        return res.value
    if res.status == "stopped":
        return stopped_outcome(task, res.why)
    # like an adapter that raises: the recording is unreadable, and kept
    return stopped_outcome(task, f"processing it failed ({res.why})")


#: Most episodes of one multi-episode source a worker takes at a time (the LeRobot reader
#: reads this many episode files ahead).
CHUNK_EPISODES = 64


def recording_chunks(tasks: Sequence[RecordingTask], workers: int) -> list[list[int]]:
    """Task indices grouped for the pool: consecutive episodes of one multi-episode source
    (a LeRobot dataset) go to one worker together, so it reads their files in one pass and the
    pool's per-task cost is paid once per chunk; every other recording is a chunk of its own.
    Chunks stay small enough (about four per worker) to keep all workers busy to the end."""
    runs: list[list[int]] = []
    for i, t in enumerate(tasks):
        prev = tasks[runs[-1][-1]] if runs else None
        if (prev is not None and t.ref.episode_key is not None
                and prev.ref.episode_key is not None and prev.ref.path == t.ref.path
                and prev.ref.layout == t.ref.layout):
            runs[-1].append(i)
        else:
            runs.append([i])
    out: list[list[int]] = []
    for run in runs:
        size = max(1, min(CHUNK_EPISODES, -(-len(run) // (4 * max(1, workers)))))
        out += [run[k:k + size] for k in range(0, len(run), size)]
    return out


def _process_chunk(chunk: list[RecordingTask]) -> list[tuple[str, Any, str]]:
    """:func:`process_recording` over a chunk in one worker; a recording that raises is
    reported as such and the others go on."""
    out: list[tuple[str, Any, str]] = []
    for task in chunk:
        try:
            out.append(("ok", process_recording(task), ""))
        except Exception as exc:
            out.append(("error", None, f"{type(exc).__name__}: {exc}"))
    return out


def _dataset_task(item: tuple[list[dict[str, Any]], QualityProfile]) -> list[Finding]:
    from checks.digest import EpisodeDigest
    from checks.registry import run_dataset_checks

    digests, profile = item
    # each dict is dropped as its digest is built: the two forms of thousands of digests
    # never sit in memory together
    digests.reverse()
    built = []
    while digests:
        built.append(EpisodeDigest.from_dict(digests.pop()))
    return run_dataset_checks(built, profile)


def dataset_findings(digests: list[dict[str, Any]], profile: QualityProfile, *,
                     workers: int | None = None) -> list[Finding]:
    """The dataset checks over episode digests (as :meth:`EpisodeDigest.to_dict` gives them,
    in recording order), run on a worker: that is where the check catalogue is loaded."""
    if len(digests) < 2:
        return []
    # a fresh worker: one that has just read thousands of episodes (and decoded their videos)
    # would add the digests to its own high-water mark
    pool = _new_pool(1)
    try:
        return pool.schedule(_dataset_task, args=((digests, profile),)).result()
    finally:
        pool.stop()
        pool.join()


# --------------------------------------------------------------------------- guarded discovery
def _discover_task(item: tuple[str, str | None, bool]) -> tuple[list[SourceRef],
                                                                   list[Unrecognised]]:
    from pipelines.sources import _DATA_SUFFIXES, discover

    path, layout, top = item
    refs, bad = discover([path], layout=layout)
    if not top:  # inside a walked folder, only data-like files are worth a report
        bad = [b for b in bad if b.path.suffix.lower() in _DATA_SUFFIXES]
    return refs, bad


def discover_guarded(paths: Iterable[Path | str], layout: str | None = None, *,
                     workers: int | None = None, timeout: float | None = DEFAULT_TIMEOUT_S
                     ) -> tuple[list[SourceRef], list[Unrecognised]]:
    """:func:`pipelines.sources.discover` with layout detection in workers under the watchdog.

    Detecting a layout opens the file, and a corrupt file can hang the HDF5 library there. A
    folder whose detection is stopped is detected again file by file; a file whose detection
    is stopped comes back as unrecognised, saying so.
    """
    from pipelines.sources import adapters

    if layout is not None and layout not in adapters():
        raise ValueError(f"unknown layout '{layout}' (known: {', '.join(adapters())})")
    return _discover_all([(Path(p), True) for p in paths], layout, workers, timeout)


def _discover_all(entries: list[tuple[Path, bool]], layout: str | None, workers: int | None,
                  timeout: float | None) -> tuple[list[SourceRef], list[Unrecognised]]:
    results = run_tasks(_discover_task, [(str(p), layout, top) for p, top in entries],
                        workers=workers, timeout=timeout)
    refs: list[SourceRef] = []
    bad: list[Unrecognised] = []
    for (path, _top), res in zip(entries, results, strict=True):
        if res.status == "ok":
            refs += res.value[0]
            bad += res.value[1]
        elif res.status == "error":
            raise res.value
        elif path.is_dir():
            children = [(c, False) for c in sorted(path.iterdir()) if not c.name.startswith(".")]
            more_refs, more_bad = _discover_all(children, layout, workers, timeout)
            refs += more_refs
            bad += more_bad
        else:
            bad.append(Unrecognised(path, res.why.replace("reading it", "detecting its layout")
                                    + "; the file is probably corrupt"))
    return refs, bad


def _register_task(item: tuple[str, SourceRef, str, str | None]) -> SourceRecord:
    store_root, ref, dataset, mapping = item
    return register_source(Store(store_root), ref, dataset, Path(mapping) if mapping else None)


def register_guarded(store: Store, refs: Sequence[SourceRef], dataset: str,
                     mapping: Path | None = None, *, workers: int | None = None,
                     timeout: float | None = DEFAULT_TIMEOUT_S
                     ) -> tuple[list[SourceRecord], list[Unrecognised]]:
    """:func:`register_source` for many recordings in parallel, under the watchdog (listing an
    episode's files opens it too)."""
    items = [(str(store.root), ref, dataset, str(mapping) if mapping else None) for ref in refs]
    records: list[SourceRecord] = []
    bad: list[Unrecognised] = []
    for ref, res in zip(refs, run_tasks(_register_task, items, workers=workers,
                                        timeout=timeout), strict=True):
        if res.status == "ok":
            records.append(res.value)
        elif res.status == "error":
            raise res.value
        else:
            bad.append(Unrecognised(ref.path, res.why + "; the file is probably corrupt"))
    return records, bad
