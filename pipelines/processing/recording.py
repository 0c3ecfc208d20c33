"""One recording: :func:`process_recording` is the one path a recording takes, read once
(schema and uid → checks → grade → report → quarantine or curate), run in a worker from a
small picklable :class:`RecordingTask`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from checks.grading import grade_of, quality_score
from pipelines.processing.assessment import assess
from pipelines.processing.outcomes import Curated, curate, quarantine, write_report
from pipelines.processing.reading import reads_so_far
from pipelines.processing.registration import SourceRecord, verify_unchanged
from pipelines.sources import SourceRef, digest_source
from pipelines.store import Store
from robots.profile import ProfileCatalog
from schemas.assessment import Assessment
from schemas.findings import Finding, Severity
from schemas.quality_profile import QualityProfile

if TYPE_CHECKING:
    from pipelines.frames import NotCuratable


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


def _fail(a: Assessment, exc: NotCuratable) -> None:
    """Fail ``a`` with the reason its episode cannot be curated (a ``schema.stream`` error)."""
    a.findings = [*a.findings, Finding("schema.stream", Severity.ERROR, str(exc),
                                       stream=exc.stream)]
    a.grade, a.passed = grade_of(a.findings), False
    a.quality_score = quality_score(a.findings)


def process_recording(task: RecordingTask) -> RecordingOutcome:
    """One recording, read once: schema and uid, checks, grade; then (ingest) the report is
    written and the recording quarantined when it fails, else curated into staging."""
    before = reads_so_far()
    ref, rec = task.ref, task.rec
    # cached while the profile files are unchanged: a worker outlives a run
    catalog = _catalog(task.robots_dirs)
    if rec is None:
        dig = digest_source(ref)
        a, episode = assess(ref, task.profile, catalog, episode_uid=dig.episode_uid,
                            source_sha256=dig.primary_sha256, mapping=task.mapping)
        if a.passed and episode is not None:
            # what ingest would refuse at curation, told by the gate: the clock is only
            # planned, no frame is built
            from pipelines.frames import DEFAULT_FPS, SparseSources, make_grid

            try:
                make_grid(episode, float(task.fps or DEFAULT_FPS))
            except SparseSources as exc:
                _fail(a, exc)
        return RecordingOutcome(task.name, a, reads=reads_so_far() - before)
    store = Store(task.store_root)
    problems = verify_unchanged(rec)
    if problems:
        return RecordingOutcome(task.name, None, key=rec.key, error=(
            f"{rec.display_name}: {'; '.join(problems)} — register it again"))
    from robots.registry_backends import open_registry, store_registry

    registry = (open_registry(task.registry) if task.registry
                else store_registry(store.registry_path))
    from pipelines.frames import DEFAULT_FPS, NotCuratable

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
                                 float(task.fps or DEFAULT_FPS))
        except NotCuratable as exc:
            # the dataset clock would invent frames the samples cannot support, or the table
            # could not hold its values: a rejection like any other, quarantined with the
            # reason, never a silently dropped or silently altered recording
            _fail(a, exc)
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
