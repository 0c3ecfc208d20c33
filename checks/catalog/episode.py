"""Episode-level checks: plausible duration and the operator's success label."""

from __future__ import annotations

from collections.abc import Iterator

from checks.registry import Emit, EpisodeContext, episode_check
from schemas.findings import Finding
from schemas.quality_profile import CheckSettings


@episode_check("episode.duration", "episodes implausibly short or long")
def duration(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    lo, hi = float(st["min_s"]), float(st["max_s"])
    span = ctx.episode.span_ns()
    if span is None:
        return
    d = (span[1] - span[0]) / 1e9
    if d < lo or d > hi:
        yield emit(
            f"the episode lasts {d:.2f} s, outside the plausible {lo:g}–{hi:g} s",
            value=d, threshold=lo if d < lo else hi)


@episode_check("episode.success", "episodes not labelled successful")
def success(ctx: EpisodeContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    label = ctx.episode.metadata.success
    if label is None:
        yield emit("the operator's success label is absent (unknown outcome)")
    elif label is False:
        yield emit("the operator labelled this episode unsuccessful", value=0)
