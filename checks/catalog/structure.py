"""Structural check that needs the robot profile: known model, known joint names."""

from __future__ import annotations

from collections.abc import Iterator

from checks.registry import EpisodeContext, episode_check
from schemas.findings import Finding


@episode_check("schema.robot", "robot model without a profile, or joints not in the profile")
def robot(ctx: EpisodeContext) -> Iterator[Finding]:
    sev = ctx.severity("schema.robot")
    model = ctx.episode.metadata.robot_model
    if ctx.robot is None:
        if model:
            yield Finding("schema.robot", sev,
                          f"root attribute robot_model '{model}' has no robot profile; add "
                          f"robots/profiles/{model}.toml or a file in $EMBODIQ_ROBOTS",
                          stream="robot_model")
        return
    for s in ctx.episode.streams.values():
        if not s.is_joint_space:
            continue
        unknown = [n for n in s.names if ctx.robot.joint(n) is None]
        if unknown:
            shown = ", ".join(unknown[:6]) + ("…" if len(unknown) > 6 else "")
            yield Finding("schema.robot", sev,
                          f"/streams/{s.name} attr 'names' has {len(unknown)} joint(s) not in "
                          f"profile '{ctx.robot.id}': {shown}", stream=s.name,
                          value=len(unknown))
