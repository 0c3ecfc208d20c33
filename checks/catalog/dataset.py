"""Dataset checks: across all episodes of a publish (or of one ``check`` over many files)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator

import numpy as np

from checks.digest import EpisodeDigest
from checks.registry import DatasetContext, dataset_check
from schemas.findings import Finding, Severity


def _digests(ctx: DatasetContext) -> list[EpisodeDigest]:
    return [d if isinstance(d, EpisodeDigest) else EpisodeDigest.from_dict(d)
            for d in ctx.digests]


@dataset_check("dataset.duplicate", "two episodes with the same stream content")
def duplicate(ctx: DatasetContext) -> Iterator[Finding]:
    sev = ctx.severity("dataset.duplicate")
    first: dict[str, EpisodeDigest] = {}
    for d in _digests(ctx):
        orig = first.setdefault(d.content_hash, d)
        if orig is not d:
            yield Finding("dataset.duplicate", sev,
                          f"episode {d.episode_uid} carries the same stream content as "
                          f"{orig.episode_uid} (a copy under other metadata)",
                          episode_uids=(d.episode_uid,))


@dataset_check("dataset.uid_conflict", "one robot uid for two robots, or two uids for one")
def uid_conflict(ctx: DatasetContext) -> Iterator[Finding]:
    sev = ctx.severity("dataset.uid_conflict")
    by_uid: dict[str, dict[tuple[str, str], list[str]]] = defaultdict(lambda: defaultdict(list))
    by_robot: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for d in _digests(ctx):
        if not d.robot_uid:
            continue
        pair = (d.robot_model, d.robot_serial)
        by_uid[d.robot_uid][pair].append(d.episode_uid)
        by_robot[pair][d.robot_uid].append(d.episode_uid)
    for uid, pairs in by_uid.items():
        if len(pairs) > 1:
            who = "; ".join(f"{m} serial {s}" for m, s in pairs)
            yield Finding("dataset.uid_conflict", sev,
                          f"robot uid {uid} is claimed by {len(pairs)} robots: {who}",
                          episode_uids=tuple(u for eps in pairs.values() for u in eps))
    for (model, serial), uids in by_robot.items():
        if len(uids) > 1:
            yield Finding("dataset.uid_conflict", sev,
                          f"{model} serial {serial} carries {len(uids)} different robot uids: "
                          f"{', '.join(uids)}",
                          episode_uids=tuple(u for eps in uids.values() for u in eps))


@dataset_check("dataset.length_outlier", "episode durations far from their task's")
def length_outlier(ctx: DatasetContext) -> Iterator[Finding]:
    st = ctx.settings("dataset.length_outlier")
    z_max, min_n = float(st["max_robust_z"]), int(st["min_episodes"])
    by_task: dict[str, list[EpisodeDigest]] = defaultdict(list)
    for d in _digests(ctx):
        by_task[d.task].append(d)
    for task, eps in by_task.items():
        if len(eps) < min_n:
            continue
        dur = np.array([e.duration_s for e in eps])
        med = float(np.median(dur))
        mad = float(np.median(np.abs(dur - med))) * 1.4826
        if mad <= 0:
            continue
        for e, x in zip(eps, dur, strict=True):
            z = abs(x - med) / mad
            if z > z_max:
                yield Finding("dataset.length_outlier", st.severity,
                              f"episode {e.episode_uid} lasts {x:.1f} s; its task '{task}' "
                              f"usually takes {med:.1f} s ({z:.1f} robust z-scores away)",
                              value=z, threshold=z_max, episode_uids=(e.episode_uid,))


def _channels(digests: list[EpisodeDigest]) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """(stream, channel name) -> [(index in digests, ...)] for channels present."""
    out: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for i, d in enumerate(digests):
        for sname, s in d.streams.items():
            for name in s.names:
                out[(sname, name)].append((i, name))
    return out


@dataset_check("dataset.stuck_channel", "a channel that barely moves in most episodes")
def stuck_channel(ctx: DatasetContext) -> Iterator[Finding]:
    st = ctx.settings("dataset.stuck_channel")
    min_range, share_max = float(st["min_range"]), float(st["max_share"])
    min_n = int(st["min_episodes"])
    digests = _digests(ctx)
    if len(digests) < min_n:
        return
    for (sname, ch), where in sorted(_channels(digests).items()):
        stuck = []
        for i, _ in where:
            s = digests[i].streams[sname]
            j = s.names.index(ch)
            rng = s.max[j] - s.min[j]
            if math.isfinite(rng) and rng < min_range:
                stuck.append(digests[i].episode_uid)
        share = len(stuck) / len(where)
        if len(where) >= min_n and share > share_max:
            yield Finding("dataset.stuck_channel", st.severity,
                          f"{sname}/{ch} barely moves (range below {min_range:g}) in "
                          f"{share:.0%} of {len(where)} episodes: an unused degree of freedom "
                          "or a stuck actuator; training would normalise it by zero",
                          stream=sname, value=share, threshold=share_max,
                          episode_uids=tuple(stuck))


@dataset_check("dataset.drift", "channel means shifting between early and late episodes")
def drift(ctx: DatasetContext) -> Iterator[Finding]:
    st = ctx.settings("dataset.drift")
    max_sd, min_n = float(st["max_pooled_sd"]), int(st["min_episodes"])
    digests = _digests(ctx)
    if len(digests) < min_n:
        return
    q = max(len(digests) // 4, 1)
    early, late = digests[:q], digests[-q:]
    for (sname, ch), _where in sorted(_channels(digests).items()):
        def stats(group: list[EpisodeDigest], sname: str = sname, ch: str = ch):
            m, v = [], []
            for d in group:
                s = d.streams.get(sname)
                if s is None or ch not in s.names:
                    continue
                j = s.names.index(ch)
                if math.isfinite(s.mean[j]) and math.isfinite(s.std[j]):
                    m.append(s.mean[j])
                    v.append(s.std[j] ** 2)
            return m, v

        m1, v1 = stats(early)
        m2, v2 = stats(late)
        if not m1 or not m2:
            continue
        pooled = math.sqrt((np.mean(v1) + np.mean(v2)) / 2 + 1e-12)
        shift = abs(float(np.mean(m2)) - float(np.mean(m1))) / pooled
        if shift > max_sd:
            yield Finding("dataset.drift", st.severity,
                          f"{sname}/{ch}: its mean moves by {shift:.1f} pooled standard "
                          f"deviations between the first and last {q} episodes (operator or "
                          "environment drift)", stream=sname, value=shift, threshold=max_sd,
                          episode_uids=tuple(d.episode_uid for d in early + late))


@dataset_check("dataset.balance", "episode counts per task, robot, operator and site")
def balance(ctx: DatasetContext) -> Iterator[Finding]:
    sev = ctx.severity("dataset.balance")
    digests = _digests(ctx)
    if not digests:
        return
    for label, key in (("task", lambda d: d.task), ("robot", lambda d: d.robot_model),
                       ("operator", lambda d: d.operator_id), ("site", lambda d: d.site)):
        counts = Counter(key(d) for d in digests)
        n = sum(counts.values())
        ent = abs(-sum(c / n * math.log2(c / n) for c in counts.values()))
        norm = ent / math.log2(len(counts)) if len(counts) > 1 else 1.0
        listing = ", ".join(f"{k or '?'}: {c}" for k, c in counts.most_common(8))
        yield Finding("dataset.balance", Severity(sev),
                      f"episodes per {label}: {listing} (entropy {ent:.2f} bits, "
                      f"{norm:.0%} of even)", stream=label, value=ent,
                      episode_uids=tuple(d.episode_uid for d in digests))
