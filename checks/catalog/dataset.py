"""Dataset checks: across all episodes of a publish (or of one ``embodiq check`` over many
files).

They read episode digests only (see ``checks.digest``), never recordings, so a dataset of
thousands of episodes is judged in memory in moments. A dataset finding lists the episodes it
concerns; when it concerns one episode (a duplicate, a length outlier) it is also listed on that
episode, and a dataset *error* on one episode (a duplicate) fails that episode: it is not
published.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime

import numpy as np

from checks.digest import EpisodeDigest
from checks.registry import DatasetContext, Emit, dataset_check
from schemas.findings import Finding
from schemas.quality_profile import CheckSettings

#: Durations closer than this share of their task's median are never outliers, even when most
#: episodes of the task last exactly as long (a zero MAD).
_MIN_SCALE_SHARE = 0.01


def _start_key(d: EpisodeDigest) -> datetime | None:
    try:
        t = datetime.fromisoformat(d.started_at.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return t if t.tzinfo is not None else None


def _digests(ctx: DatasetContext) -> list[EpisodeDigest]:
    """The digests in recording order: by start time when every digest has a zoned one, else
    in the order given (which the caller keeps as recording order)."""
    ds = [d if isinstance(d, EpisodeDigest) else EpisodeDigest.from_dict(d)
          for d in ctx.digests]
    keys = [k for d in ds if (k := _start_key(d)) is not None]
    if ds and len(keys) == len(ds):
        order = sorted(range(len(ds)), key=lambda i: keys[i])  # stable on ties
        ds = [ds[i] for i in order]
    return ds


@dataset_check("dataset.duplicate", "two episodes with the same stream content")
def duplicate(ctx: DatasetContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    first: dict[str, EpisodeDigest] = {}
    for d in _digests(ctx):
        if not d.content_hash:
            continue
        orig = first.setdefault(d.content_hash, d)
        if orig is not d:
            yield emit(f"episode {d.episode_uid} carries the same stream content as the "
                       f"earlier episode {orig.episode_uid} (a copy, whatever its metadata)",
                       episode_uids=(d.episode_uid,))


@dataset_check("dataset.uid_conflict", "one robot uid for two robots, or two uids for one")
def uid_conflict(ctx: DatasetContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
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
            yield emit(f"robot uid {uid} is claimed by {len(pairs)} robots: {who}",
                       episode_uids=tuple(u for eps in pairs.values() for u in eps))
    for (model, serial), uids in by_robot.items():
        if len(uids) > 1:
            yield emit(f"{model} serial {serial} carries {len(uids)} different robot uids: "
                       f"{', '.join(uids)}",
                       episode_uids=tuple(u for eps in uids.values() for u in eps))


def robust_z(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """|x - median| / (1.4826 MAD) with the scale floored at 1% of the median; also returns
    the median and the scale used."""
    med = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - med)))
    scale = max(mad, _MIN_SCALE_SHARE * abs(med), 1e-9)
    return np.abs(values - med) / scale, med, scale


@dataset_check("dataset.length_outlier", "episode durations far from their task's")
def length_outlier(ctx: DatasetContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    z_max, min_n = float(st["max_robust_z"]), int(st["min_episodes"])
    by_task: dict[str, list[EpisodeDigest]] = defaultdict(list)
    for d in _digests(ctx):
        if math.isfinite(d.duration_s):
            by_task[d.task].append(d)
    for task, eps in by_task.items():
        if len(eps) < min_n:
            continue
        z, med, _scale = robust_z(np.array([e.duration_s for e in eps], dtype=np.float64))
        for e, zi in zip(eps, z.tolist(), strict=True):
            if zi > z_max:
                yield emit(f"episode {e.episode_uid} lasts {e.duration_s:.1f} s where its "
                           f"task '{task}' takes {med:.1f} s (median): {zi:.1f} robust "
                           f"z-scores away, limit {z_max:g}",
                           value=zi, threshold=z_max, episode_uids=(e.episode_uid,))


def _channels(digests: list[EpisodeDigest]) -> list[tuple[str, str]]:
    """Every (stream, channel) present in at least one digest, sorted."""
    seen = {(sname, ch) for d in digests for sname, s in d.streams.items() for ch in s.names}
    return sorted(seen)


def _channel_stats(d: EpisodeDigest, sname: str, ch: str) -> tuple[float, ...] | None:
    """(min, max, mean, std, count) of one channel of one episode, None when absent/empty."""
    s = d.streams.get(sname)
    j = s.channel(ch) if s is not None else None
    if s is None or j is None or not s.count[j] or not math.isfinite(s.mean[j]):
        return None
    return s.min[j], s.max[j], s.mean[j], s.std[j], s.count[j]


def _held_share(d: EpisodeDigest, sname: str, ch: str) -> float | None:
    s = d.streams.get(sname)
    j = s.channel(ch) if s is not None else None
    if s is None or j is None or j >= len(s.held) or not math.isfinite(s.held[j]):
        return None
    return s.held[j]


@dataset_check("dataset.stuck_channel",
               "a channel that barely moves, or holds its value, in most episodes")
def stuck_channel(ctx: DatasetContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """Stuck in an episode: the channel's range is below ``min_range``, or it holds its value
    for more than ``max_held_share`` of consecutive samples (a sensor that stops updating, or a
    degree of freedom that moves once and stays: the criterion lerobot-doctor uses too)."""
    min_range, share_max = float(st["min_range"]), float(st["max_share"])
    held_max = float(st["max_held_share"])
    min_n = int(st["min_episodes"])
    digests = _digests(ctx)
    for sname, ch in _channels(digests):
        present, stuck, by_range = 0, [], 0
        for d in digests:
            cs = _channel_stats(d, sname, ch)
            if cs is None:
                continue
            present += 1
            if cs[1] - cs[0] < min_range:
                stuck.append(d.episode_uid)
                by_range += 1
            elif (h := _held_share(d, sname, ch)) is not None and h > held_max:
                stuck.append(d.episode_uid)
        if present < min_n:
            continue
        share = len(stuck) / present
        if share > share_max:
            how = (f"barely moves (range below {min_range:g})" if by_range == len(stuck) else
                   f"barely moves (range below {min_range:g}) or holds its value for more "
                   f"than {held_max:.0%} of consecutive samples")
            yield emit(f"{sname}/{ch} {how} in {share:.0%} of {present} episodes (limit "
                       f"{share_max:.0%}): an unused degree of freedom, a stuck actuator or "
                       "a sensor that stops updating, which training would normalise by a "
                       "(near) zero deviation", stream=sname, value=share,
                       threshold=share_max, episode_uids=tuple(stuck))


@dataset_check("dataset.end_pose_outlier",
               "episodes whose final pose is far from their task's (likely failures)")
def end_pose_outlier(ctx: DatasetContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    """RMS over joints of the robust z-scores of each episode's final joint positions against
    the other episodes of its task: a take that ends elsewhere than its siblings is likely a
    failure or unfinished. Each joint's scale is floored (``min_scale``, in the joint's unit)
    so joints that always end in the same place do not turn noise into outliers."""
    z_max, min_n = float(st["max_rms_z"]), int(st["min_episodes"])
    floor = float(st["min_scale"])
    by_task: dict[str, list[EpisodeDigest]] = defaultdict(list)
    for d in _digests(ctx):
        by_task[d.task].append(d)
    for task, eps in by_task.items():
        if len(eps) < min_n:
            continue
        channels = sorted({(n, ch) for e in eps for n, s in e.streams.items()
                           if s.kind == "joint_position" for ch in s.names})
        if not channels:
            continue
        ends = np.full((len(eps), len(channels)), np.nan)
        for i, e in enumerate(eps):
            for k, (n, ch) in enumerate(channels):
                s = e.streams.get(n)
                j = s.channel(ch) if s is not None else None
                if s is not None and j is not None and j < len(s.last):
                    ends[i, k] = s.last[j]
        usable = np.isfinite(ends).sum(axis=0) >= min_n
        if not usable.any():
            continue
        ends = ends[:, usable]
        with np.errstate(all="ignore"):
            med = np.nanmedian(ends, axis=0)
            mad = 1.4826 * np.nanmedian(np.abs(ends - med), axis=0)
            z = np.abs(ends - med) / np.maximum(mad, floor)
            zz = z * z  # an episode without any of the joints has no RMS (NaN), silently
            n = (~np.isnan(zz)).sum(axis=1)
            rms = np.sqrt(np.where(n > 0, np.nansum(zz, axis=1) / np.maximum(n, 1), np.nan))
        for e, r in zip(eps, rms.tolist(), strict=True):
            if math.isfinite(r) and r > z_max:
                yield emit(f"episode {e.episode_uid} ends {r:.1f} robust z-scores (RMS over "
                           f"{int(usable.sum())} joints) from where the other episodes of "
                           f"task '{task}' end, limit {z_max:g}: a likely failure or an "
                           "unfinished take", value=r, threshold=z_max,
                           episode_uids=(e.episode_uid,))


def _group_moments(group: list[EpisodeDigest], sname: str, ch: str) -> tuple[float, float] | None:
    """Mean and variance of a channel over all samples of a group of episodes, from their
    per-episode moments (within-episode plus between-episode variance)."""
    rows = [cs for d in group if (cs := _channel_stats(d, sname, ch)) is not None]
    if not rows:
        return None
    mean_, std_, n_ = (np.array([r[k] for r in rows], dtype=np.float64) for k in (2, 3, 4))
    total = float(n_.sum())
    with np.errstate(over="ignore", invalid="ignore"):  # values near 1e308 overflow: not drift
        m = float((n_ * mean_).sum() / total)
        var = float((n_ * (std_ ** 2 + (mean_ - m) ** 2)).sum() / total)
    return m, var


@dataset_check("dataset.drift", "channel means shifting between early and late episodes")
def drift(ctx: DatasetContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    max_sd, min_n = float(st["max_pooled_sd"]), int(st["min_episodes"])
    digests = _digests(ctx)
    if len(digests) < min_n:
        return
    q = max(len(digests) // 4, 1)
    early, late = digests[:q], digests[-q:]
    for sname, ch in _channels(digests):
        a, b = _group_moments(early, sname, ch), _group_moments(late, sname, ch)
        if a is None or b is None:
            continue
        pooled = math.sqrt((a[1] + b[1]) / 2)
        if not pooled > 1e-9:  # a constant channel: stuck_channel's business, not drift's
            continue
        shift = abs(b[0] - a[0]) / pooled
        if shift > max_sd:
            yield emit(f"{sname}/{ch}: its mean moves from {a[0]:.4g} to {b[0]:.4g}, "
                       f"{shift:.1f} pooled standard deviations (limit {max_sd:g}), between "
                       f"the first and the last {q} episodes: operator or environment drift",
                       stream=sname, value=shift, threshold=max_sd,
                       episode_uids=tuple(d.episode_uid for d in early + late))


_BALANCE_KEYS: tuple[tuple[str, Callable[[EpisodeDigest], str]], ...] = (
    ("task", lambda d: d.task), ("robot", lambda d: d.robot_model),
    ("operator", lambda d: d.operator_id), ("site", lambda d: d.site))


def entropy_bits(counts: list[int]) -> float:
    """Shannon entropy of a count distribution, in bits."""
    n = sum(counts)
    return abs(-sum(c / n * math.log2(c / n) for c in counts if c)) if n else 0.0


@dataset_check("dataset.balance", "episode counts per task, robot, operator and site")
def balance(ctx: DatasetContext, st: CheckSettings, emit: Emit) -> Iterator[Finding]:
    digests = _digests(ctx)
    if not digests:
        return
    for label, key in _BALANCE_KEYS:
        counts = Counter(key(d) or "?" for d in digests)
        ent = entropy_bits(list(counts.values()))
        even = ent / math.log2(len(counts)) if len(counts) > 1 else 1.0
        listing = ", ".join(f"{k}: {c}" for k, c in counts.most_common(8))
        more = f" and {len(counts) - 8} more" if len(counts) > 8 else ""
        yield emit(f"episodes per {label}: {listing}{more} (entropy {ent:.2f} bits, "
                   f"{even:.0%} of an even spread)", stream=label, value=ent,
                   episode_uids=tuple(d.episode_uid for d in digests))
