"""The check registry: each check is one small module that registers a function under its id.

A check is called as ``fn(ctx, settings, emit)``: the context (an :class:`EpisodeContext`, or a
:class:`DatasetContext` of many episodes' digests), the check's own settings resolved from the
quality profile (for the episode's robot model), and an :class:`Emit` bound to the check's id
and severity. So a check never names itself: its id is written once, where it is registered,
and its thresholds come from the profile, never from constants in the check, so users can tune
them as data (as pandera hands a check its thresholds).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

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
        """Any check's settings for this episode's robot model: for the few checks that share
        a pass with another (the clock scan, the camera scan) and must agree with its
        settings; a check's own arrive as its argument."""
        return self.profile.settings(check_id, self.episode.metadata.robot_model)

    def enabled(self, check_id: str) -> bool:
        """Whether ``check_id`` runs on this episode (configured and not turned off)."""
        return check_id in self.profile.checks and self.settings(check_id).enabled


@dataclass
class DatasetContext:
    #: One digest per episode (see ``checks.digest``), in recording order.
    digests: Sequence[Any]
    profile: QualityProfile

    def settings(self, check_id: str) -> CheckSettings:
        return self.profile.settings(check_id)

    def enabled(self, check_id: str) -> bool:
        return check_id in self.profile.checks and self.settings(check_id).enabled


@dataclass(frozen=True, slots=True)
class Emit:
    """Makes a finding of one check: its id always, its profile severity unless another is
    given (a check that escalates past a second threshold)."""

    check_id: str
    severity: Severity

    def __call__(self, message: str, *, severity: Severity | None = None,
                 stream: str | None = None, value: float | None = None,
                 threshold: float | None = None, t_start_ns: int | None = None,
                 t_end_ns: int | None = None,
                 episode_uids: tuple[str, ...] | None = None) -> Finding:
        return Finding(self.check_id, self.severity if severity is None else severity, message,
                       stream=stream, value=value, threshold=threshold, t_start_ns=t_start_ns,
                       t_end_ns=t_end_ns, episode_uids=episode_uids)


#: An episode check: ``fn(ctx, settings, emit)`` yields the episode's findings.
EpisodeCheck = Callable[[EpisodeContext, CheckSettings, Emit], Iterable[Finding]]
#: A dataset check: the same over the digests of many episodes.
DatasetCheck = Callable[[DatasetContext, CheckSettings, Emit], Iterable[Finding]]
E = TypeVar("E", bound=EpisodeCheck)
D = TypeVar("D", bound=DatasetCheck)


@dataclass(frozen=True)
class CheckSpec:
    check_id: str
    scope: Scope
    fn: Callable[[Any, CheckSettings, Emit], Iterable[Finding]]
    summary: str
    #: The check judges against the robot profile (limits, efforts) and cannot run without one.
    needs_robot: bool = False
    #: What the check says of itself (its function's docstring): the catalogue page prints it.
    doc: str = ""

    def emitter(self, settings: CheckSettings) -> Emit:
        return Emit(self.check_id, settings.severity)

    def call(self, ctx: EpisodeContext | DatasetContext,
             settings: CheckSettings | None = None) -> list[Finding]:
        """Run the check on ``ctx`` with ``settings`` (by default, the context's for it)."""
        st = ctx.settings(self.check_id) if settings is None else settings
        return list(self.fn(ctx, st, self.emitter(st)))


_REGISTRY: dict[str, CheckSpec] = {}


def _register(check_id: str, scope: Scope, summary: str, needs_robot: bool,
              fn: Callable[[Any, CheckSettings, Emit], Iterable[Finding]]) -> None:
    if check_id in _REGISTRY and _REGISTRY[check_id].fn is not fn:
        raise ValueError(f"check '{check_id}' is registered twice")
    _REGISTRY[check_id] = CheckSpec(check_id, scope, fn, summary, needs_robot,
                                    _dedent(fn.__doc__))


def _dedent(doc: str | None) -> str:
    return inspect.cleandoc(doc) if doc else ""


def episode_check(check_id: str, summary: str, *,
                  needs_robot: bool = False) -> Callable[[E], E]:
    """Register ``fn(ctx: EpisodeContext, settings, emit) -> Iterable[Finding]`` under
    ``check_id``.

    ``needs_robot``: the check cannot judge without the robot profile; when a recording's
    ``robot_model`` has none, the runner does not call it and lists it as skipped in the
    ``schema.robot`` finding instead, so the reader knows what was not checked."""
    def deco(fn: E) -> E:
        _register(check_id, "episode", summary, needs_robot, fn)
        return fn

    return deco


def dataset_check(check_id: str, summary: str) -> Callable[[D], D]:
    """Register ``fn(ctx: DatasetContext, settings, emit) -> Iterable[Finding]`` under
    ``check_id``."""
    def deco(fn: D) -> D:
        _register(check_id, "dataset", summary, False, fn)
        return fn

    return deco


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


def _run(spec: CheckSpec, ctx: EpisodeContext | DatasetContext,
         settings: CheckSettings) -> list[Finding]:
    try:
        return spec.call(ctx, settings)
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
              wanted: set[str] | None) -> list[tuple[CheckSpec, CheckSettings]]:
    """Every enabled check of ``scope`` (or those in ``wanted``) that the profile configures,
    with its settings (resolved once, here, and handed to the check)."""
    out = []
    for cid, spec in all_checks().items():
        if spec.scope != scope or (wanted is not None and cid not in wanted) \
                or cid not in ctx.profile.checks:
            continue
        st = ctx.settings(cid)
        if st.enabled:
            out.append((spec, st))
    return out


def _run_scope(scope: Scope, ctx: EpisodeContext | DatasetContext,
               only: Iterable[str] | None) -> list[Finding]:
    """Run the selected checks; without a robot profile, those that need one are skipped and
    named (by ``schema.robot``, or here as info when that check is not run)."""
    wanted = set(only) if only is not None else None
    selected = _selected(scope, ctx, wanted)
    out: list[Finding] = []
    if isinstance(ctx, EpisodeContext) and ctx.robot is None:
        ctx.skipped = [s.check_id for s, _ in selected if s.needs_robot]
        selected = [(s, st) for s, st in selected if not s.needs_robot]
        if ctx.skipped and ROBOT_CHECK not in {s.check_id for s, _ in selected}:
            # schema.robot is off or not asked for: still say what was not checked, as info
            out.append(unknown_robot_finding(ctx, Emit(ROBOT_CHECK, Severity.INFO)))
    for spec, st in selected:
        out.extend(_run(spec, ctx, st))
    return out


def unknown_robot_finding(ctx: EpisodeContext, emit: Emit,
                          severity: Severity | None = None) -> Finding:
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
    return emit(f"{why}; skipped for lack of a profile: {skipped}", severity=severity,
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
