"""Validation and judgement: an episode read once, held to the data-collection schema, the
robot profile and the uid rules, then checked and graded into its :class:`Assessment`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from checks.grading import grade_of, quality_score
from checks.registry import run_episode_checks
from pipelines.processing.reading import read_recording
from pipelines.sources import SourceRef, digest_source
from robots.profile import ProfileCatalog, RobotProfile
from schemas.assessment import Assessment
from schemas.episode import Episode
from schemas.findings import Finding, Severity
from schemas.quality_profile import QualityProfile


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
