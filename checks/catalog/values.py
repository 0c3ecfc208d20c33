"""Value checks on streams: non-finite numbers and joint limits."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from checks.kernels.values import limit_scan, nonfinite_scan
from checks.registry import EpisodeContext, episode_check
from schemas.episode import Stream
from schemas.findings import Finding


def _contig(a: np.ndarray) -> np.ndarray:
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


@episode_check("value.nonfinite", "NaN or infinite numbers in any stream")
def nonfinite(ctx: EpisodeContext) -> Iterator[Finding]:
    sev = ctx.severity("value.nonfinite")
    for s in ctx.episode.streams.values():
        r = nonfinite_scan(_contig(s.values))
        if r[0] > 0:
            a, b = int(r[1]), int(r[2])
            yield Finding(
                "value.nonfinite", sev,
                f"{s.name}: {int(r[0])} value(s) are NaN or infinite; the first run spans "
                f"samples {a}–{b}",
                stream=s.name, value=int(r[0]), threshold=0,
                t_start_ns=int(s.timestamps[a]), t_end_ns=int(s.timestamps[b]))


def _limited(s: Stream) -> bool:
    return s.kind == "joint_position" or (s.kind == "action" and s.space == "joint_position")


@episode_check("value.joint_limit", "joint positions beyond the robot profile's limits")
def joint_limit(ctx: EpisodeContext) -> Iterator[Finding]:
    if ctx.robot is None:
        return
    st = ctx.settings("value.joint_limit")
    tol_rad, tol_m = float(st["tolerance_rad"]), float(st["tolerance_m"])
    for s in ctx.episode.streams.values():
        if not _limited(s):
            continue
        lo, hi, _vel = ctx.robot.limits_for(s.names)
        units = [ctx.robot.joint(n).unit if ctx.robot.joint(n) else "rad" for n in s.names]
        tol = np.array([tol_rad if u == "rad" else tol_m for u in units])
        r = limit_scan(_contig(s.values), lo, hi, tol)
        if r[0] <= 0:
            continue
        j, a, b = int(r[3]), int(r[1]), int(r[2])
        unit = "rad" if units[j] == "rad" else units[j]
        yield Finding(
            "value.joint_limit", st.severity,
            f"{s.name}: joint {s.names[j]} goes {r[4]:.3f} {unit} beyond its limits "
            f"[{lo[j]:.3f}, {hi[j]:.3f}] (tolerance {tol[j]:g}); {int(r[0])} sample(s) out of "
            f"range, first from sample {a} to {b}",
            stream=s.name, value=r[4], threshold=tol[j],
            t_start_ns=int(s.timestamps[a]), t_end_ns=int(s.timestamps[b]))
