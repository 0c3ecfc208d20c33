"""Episode-level checks: plausible duration and the operator's success label."""

from __future__ import annotations

from collections.abc import Iterator

from checks.registry import EpisodeContext, episode_check
from schemas.findings import Finding


@episode_check("episode.duration", "episodes implausibly short or long")
def duration(ctx: EpisodeContext) -> Iterator[Finding]:
    st = ctx.settings("episode.duration")
    lo, hi = float(st["min_s"]), float(st["max_s"])
    span = ctx.episode.span_ns()
    if span is None:
        return
    d = (span[1] - span[0]) / 1e9
    if d < lo or d > hi:
        yield Finding(
            "episode.duration", st.severity,
            f"the episode lasts {d:.2f} s, outside the plausible {lo:g}–{hi:g} s",
            value=d, threshold=lo if d < lo else hi)


@episode_check("episode.success", "episodes not labelled successful")
def success(ctx: EpisodeContext) -> Iterator[Finding]:
    st = ctx.settings("episode.success")
    label = ctx.episode.metadata.success
    if label is None:
        yield Finding("episode.success", st.severity,
                      "the operator's success label is absent (unknown outcome)")
    elif label is False:
        yield Finding("episode.success", st.severity,
                      "the operator labelled this episode unsuccessful", value=0)
