"""The check registry: each check is one small module that registers a function under its id.

An episode check takes an :class:`EpisodeContext` and yields findings; a dataset check takes a
:class:`DatasetContext` (digests of many episodes). Severities and thresholds come from the
quality profile, never from constants in the check, so users can tune them as data.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from robots.profile import RobotProfile
from schemas.episode import Episode
from schemas.findings import Finding, Severity
from schemas.quality_profile import CheckSettings, QualityProfile

log = logging.getLogger(__name__)

Scope = Literal["episode", "dataset"]


@dataclass
class EpisodeContext:
    episode: Episode
    robot: RobotProfile | None
    profile: QualityProfile
    #: Per-episode scratch shared by checks (e.g. a cached velocity array), keyed by name.
    cache: dict[str, Any] = field(default_factory=dict)
    #: Checks that needed a robot profile and were not run because there is none.
    skipped: list[str] = field(default_factory=list)

    def settings(self, check_id: str) -> CheckSettings:
        return self.profile.settings(check_id, self.episode.metadata.robot_model)

    def param(self, check_id: str, name: str) -> Any:
        return self.settings(check_id).params[name]

    def severity(self, check_id: str) -> Severity:
        return self.settings(check_id).severity


@dataclass
class DatasetContext:
    #: One digest per episode (see ``checks.digest``), in recording order.
    digests: Sequence[Any]
    profile: QualityProfile

    def settings(self, check_id: str) -> CheckSettings:
        return self.profile.settings(check_id)

    def param(self, check_id: str, name: str) -> Any:
        return self.settings(check_id).params[name]

    def severity(self, check_id: str) -> Severity:
        return self.settings(check_id).severity


@dataclass(frozen=True)
class CheckSpec:
    check_id: str
    scope: Scope
    fn: Callable[..., Iterable[Finding]]
    summary: str
    #: The check judges against the robot profile (limits, efforts) and cannot run without one.
    needs_robot: bool = False


_REGISTRY: dict[str, CheckSpec] = {}


def _register(check_id: str, scope: Scope, summary: str, needs_robot: bool = False):
    def deco(fn: Callable[..., Iterable[Finding]]):
        if check_id in _REGISTRY and _REGISTRY[check_id].fn is not fn:
            raise ValueError(f"check '{check_id}' is registered twice")
        _REGISTRY[check_id] = CheckSpec(check_id, scope, fn, summary, needs_robot)
        return fn

    return deco


def episode_check(check_id: str, summary: str, *, needs_robot: bool = False):
    """Register ``fn(ctx: EpisodeContext) -> Iterable[Finding]`` under ``check_id``.

    ``needs_robot``: the check cannot judge without the robot profile; when a recording's
    ``robot_model`` has none, the runner does not call it and lists it as skipped in the
    ``schema.robot`` finding instead, so the reader knows what was not checked."""
    return _register(check_id, "episode", summary, needs_robot)


def dataset_check(check_id: str, summary: str):
    """Register ``fn(ctx: DatasetContext) -> Iterable[Finding]`` under ``check_id``."""
    return _register(check_id, "dataset", summary)


_LOADED = False


def _load_all() -> None:
    """Import every module of ``checks.catalog`` so each registers its checks."""
    global _LOADED
    if _LOADED:
        return
    import checks.catalog as catalog

    for mod in sorted(pkgutil.iter_modules(catalog.__path__), key=lambda m: m.name):
        importlib.import_module(f"checks.catalog.{mod.name}")
    _LOADED = True


def all_checks() -> dict[str, CheckSpec]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def _run(spec: CheckSpec, ctx: Any, settings: CheckSettings) -> list[Finding]:
    try:
        return list(spec.fn(ctx))
    except Exception as exc:  # a bug in one check must not sink the batch or hide the others
        log.error("check %s crashed:\n%s", spec.check_id, traceback.format_exc())
        return [
            Finding(
                check_id=spec.check_id,
                severity=Severity.ERROR,
                message=f"check {spec.check_id} could not run: {type(exc).__name__}: {exc}",
            )
        ]


#: The check that reports a robot model without a profile and the checks skipped for it.
ROBOT_CHECK = "schema.robot"


def _selected(scope: Scope, ctx: EpisodeContext | DatasetContext,
              wanted: set[str] | None) -> list[CheckSpec]:
    """Every enabled check of ``scope`` (or those in ``wanted``) that the profile configures."""
    return [spec for cid, spec in all_checks().items()
            if spec.scope == scope and (wanted is None or cid in wanted)
            and cid in ctx.profile.checks and ctx.settings(cid).enabled]


def _run_scope(scope: Scope, ctx: EpisodeContext | DatasetContext,
               only: Iterable[str] | None) -> list[Finding]:
    """Run the selected checks; without a robot profile, those that need one are skipped and
    named (by ``schema.robot``, or here as info when that check is not run)."""
    wanted = set(only) if only is not None else None
    specs = _selected(scope, ctx, wanted)
    out: list[Finding] = []
    if isinstance(ctx, EpisodeContext) and ctx.robot is None:
        ctx.skipped = [s.check_id for s in specs if s.needs_robot]
        specs = [s for s in specs if not s.needs_robot]
        if ctx.skipped and ROBOT_CHECK not in {s.check_id for s in specs}:
            # schema.robot is off or not asked for: still say what was not checked, as info
            out.append(unknown_robot_finding(ctx, Severity.INFO))
    for spec in specs:
        out.extend(_run(spec, ctx, ctx.settings(spec.check_id)))
    return out


def unknown_robot_finding(ctx: EpisodeContext, severity: Severity) -> Finding:
    """The one finding of an episode whose robot has no profile: why, what to add, and which
    checks did not run for lack of it (also in ``value``, as a count)."""
    model = ctx.episode.metadata.robot_model
    if model:
        why = (f"root attribute robot_model '{model}' has no robot profile; add "
               f"robots/profiles/{model}.toml or a file in $EMBODIQ_ROBOTS")
    else:
        why = ("no robot_model names the robot, so there is no robot profile; name it in the "
               "mapping file")
    skipped = ", ".join(ctx.skipped) if ctx.skipped else "none"
    return Finding(ROBOT_CHECK, severity,
                   f"{why}; skipped for lack of a profile: {skipped}",
                   stream="robot_model", value=len(ctx.skipped))


def run_episode_checks(
    episode: Episode,
    robot: RobotProfile | None,
    profile: QualityProfile,
    only: Iterable[str] | None = None,
) -> list[Finding]:
    """Run every enabled episode check (or those in ``only``) and return their findings."""
    return _run_scope("episode", EpisodeContext(episode=episode, robot=robot, profile=profile),
                      only)


def run_dataset_checks(
    digests: Sequence[Any], profile: QualityProfile, only: Iterable[str] | None = None
) -> list[Finding]:
    """Run every enabled dataset check over episode digests (in recording order)."""
    return _run_scope("dataset", DatasetContext(digests=digests, profile=profile), only)
