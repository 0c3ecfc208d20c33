"""Structural checks: the robot model and its joint names, and the streams a layout needs."""

from __future__ import annotations

from collections.abc import Iterator

from checks.registry import (
    ROBOT_CHECK,
    Emit,
    EpisodeContext,
    episode_check,
    unknown_robot_finding,
)
from schemas.findings import Finding, Severity
from schemas.quality_profile import CheckSettings


@episode_check(ROBOT_CHECK,
               "robot model without a profile, or joints not in the profile")
def robot(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """Joint names outside a known profile are ``severity`` (an error by default: the recording
    contradicts its robot). A model with no profile is ``unknown_model`` (a warning by default):
    every check that needs no profile still ran, and the finding lists those that did not."""
    if ctx.robot is None:
        yield unknown_robot_finding(ctx, emit,
                                    Severity(st.params.get("unknown_model", st.severity)))
        return
    for s in ctx.episode.streams.values():
        if not s.is_joint_space:
            continue
        unknown = [n for n in s.names if ctx.robot.joint(n) is None]
        if unknown:
            shown = ", ".join(unknown[:6]) + ("…" if len(unknown) > 6 else "")
            yield emit(f"/streams/{s.name} attr 'names' has {len(unknown)} joint(s) not in "
                       f"profile '{ctx.robot.id}': {shown}", stream=s.name,
                       value=len(unknown))


@episode_check("schema.stream", "the streams a training example needs")
def required_streams(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """Native recordings are held to this by the reader; adapted layouts are held here."""
    src = ctx.episode.source
    if src is None or src.layout == "embodiq":
        return
    for kind in ("joint_position", "action"):
        if not ctx.episode.streams_of_kind(kind):
            yield emit(f"no '{kind}' stream was found in this {src.layout} source; a "
                       "training example needs one joint_position and one action stream "
                       "(name it in the mapping file)")
