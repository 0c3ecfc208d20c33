"""Stamping: the robot uid an episode carries, and the episode's own content-derived uid."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from robots.profile import RobotProfile
from robots.registry import RegistryConflict, RobotRegistry
from robots.uid import UidError, parse
from schemas.findings import Finding, Severity


def episode_uid_for(source_digests: Sequence[str], episode_key: str | None) -> str:
    """``ep-`` + 20 hex characters of sha256 over the sorted file digests and the episode key.

    The same bytes always give the same uid (re-ingesting never duplicates), wherever the files
    lie and whatever they are called; different bytes give a different uid.
    """
    blob = "\n".join(sorted(source_digests)) + "\n" + (episode_key or "")
    return "ep-" + hashlib.sha256(blob.encode()).hexdigest()[:20]


def _uid_error(message: str) -> Finding:
    return Finding("schema.uid", Severity.ERROR, message, stream="robot_uid")


def resolve_robot_uid(registry: RobotRegistry, profile: RobotProfile | None, robot_model: str,
                      robot_serial: str, given_uid: str | None, run_id: str | None = None
                      ) -> tuple[str | None, list[Finding]]:
    """The code to stamp on an episode, and ``schema.uid`` findings when that is impossible.

    A code the recording carries must be valid and agree with the registry (it is registered
    when the robot is new); a recording without one gets the registered code, or a new one
    issued from the profile. A disagreement is reported, never overwritten.
    """
    if given_uid is not None and not isinstance(given_uid, str):
        return None, [_uid_error(f"root attribute robot_uid must be a string, not "
                                 f"{type(given_uid).__name__}")]
    if given_uid:
        try:
            uid = parse(given_uid)
        except UidError as exc:
            return None, [_uid_error(f"root attribute robot_uid '{given_uid}' is invalid: {exc}")]
        try:
            b = registry.bind(uid.code, robot_model, robot_serial, run_id)
        except RegistryConflict as exc:
            return None, [_uid_error(f"root attribute robot_uid {uid.code} disagrees with the "
                                     f"registry: {exc}")]
        return b.code, []
    existing = registry.resolve(robot_model, robot_serial)
    if existing is not None:
        return existing.code, []
    if profile is None:
        return None, [_uid_error(f"no robot uid can be issued: robot_model '{robot_model}' "
                                 "has no profile")]
    try:
        return registry.issue(profile, robot_serial, run_id).code, []
    except (UidError, RegistryConflict) as exc:
        return None, [_uid_error(f"no robot uid can be issued for {robot_model} serial "
                                 f"'{robot_serial}': {exc}")]
