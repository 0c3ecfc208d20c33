"""The worst episodes of a check, ranked, and what to run to drop them from a LeRobot dataset.

A grade is per episode; a curator wants the short list: which takes to look at first. Failed
episodes come first, then those with warnings — their own or a dataset check's that names them
(a final pose far from the task's, a length outlier) — each group by quality score.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import Any

#: A dataset warning naming an episode costs it this many points in the ranking.
DATASET_PENALTY = 5.0

_EPISODE_KEY = re.compile(r"episode_(\d+)")


def rank_episodes(entries: Sequence[dict[str, Any]], dataset_findings: Sequence[dict[str, Any]],
                  limit: int = 10) -> list[dict[str, Any]]:
    """Up to ``limit`` episodes with an error or a warning, worst first. Each entry of
    ``entries`` is an episode of ``embodiq check --json``; the result adds its reasons."""
    named: dict[str, list[str]] = {}
    for f in dataset_findings:
        uids: Sequence[str] = f.get("episode_uids") or ()
        # a dataset finding about one episode (its end pose, a duplicate) singles it out; one
        # about most of them (a stuck channel) says nothing about which to look at first
        if f.get("severity") in ("error", "warning") and len(uids) == 1:
            named.setdefault(uids[0], []).append(f["check_id"])
    ranked = []
    for e in entries:
        own = sorted({f["check_id"] for f in e["findings"]
                      if f["severity"] in ("error", "warning")})
        extra = sorted(set(named.get(e.get("episode_uid") or "", [])))
        if not own and not extra:
            continue
        score = float(e["quality_score"]) - DATASET_PENALTY * len(extra)
        ranked.append((bool(e["passed"]), score, e["source"],
                       {"source": e["source"], "episode_uid": e.get("episode_uid"),
                        "grade": e["grade"], "quality_score": e["quality_score"],
                        "reasons": own + [c for c in extra if c not in own]}))
    ranked.sort(key=lambda r: r[:3])
    return [{"rank": i + 1, **r[3]} for i, r in enumerate(ranked[:limit])]


def lerobot_delete_commands(ranked: Sequence[dict[str, Any]], layouts: dict[str, str]
                            ) -> list[str]:
    """One ``lerobot-edit-dataset`` command per LeRobot dataset among ``ranked``, deleting its
    ranked episodes into a new dataset beside it (the original is kept). ``layouts`` maps each
    entry's ``source`` to its layout."""
    by_root: dict[str, list[int]] = {}
    for r in ranked:
        src = r["source"]
        if layouts.get(src) != "lerobot" or "#" not in src:
            continue
        root, key = src.rsplit("#", 1)
        m = _EPISODE_KEY.fullmatch(key)
        if m:
            by_root.setdefault(root, []).append(int(m.group(1)))
    out = []
    for root, idx in sorted(by_root.items()):
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", root.rstrip("/").rsplit("/", 1)[-1]) or "dataset"
        out.append(" ".join([
            "lerobot-edit-dataset", f"--repo_id local/{name}", f"--root {shlex.quote(root)}",
            f"--new_repo_id local/{name}_curated",
            f"--new_root {shlex.quote(root.rstrip('/') + '_curated')}",
            "--operation.type delete_episodes",
            f"--operation.episode_indices {shlex.quote(str(sorted(set(idx))))}"]))
    return out
