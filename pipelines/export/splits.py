"""Deterministic, stable train/validation/test splits by episode (or by group).

Each key (an ``episode_uid``, or the value of a ``--group-by`` column) is hashed with the seed
to a number in [0, 1); the split is the first whose cumulative fraction exceeds it. So an
episode's split depends only on its own key and the seed: adding episodes later never moves one,
and every episode of a group lands in the same split.
"""

from __future__ import annotations

import hashlib


class SplitError(ValueError):
    pass


def parse_splits(text: str) -> list[tuple[str, float]]:
    """``"train=0.9,val=0.1"`` -> [("train", 0.9), ("val", 0.1)]; fractions must sum to 1."""
    out: list[tuple[str, float]] = []
    for part in text.split(","):
        name, sep, frac = part.strip().partition("=")
        if not sep or not name:
            raise SplitError(f"split '{part}' must look like name=fraction (e.g. train=0.9)")
        try:
            f = float(frac)
        except ValueError:
            raise SplitError(f"split '{part}': '{frac}' is not a number") from None
        if not 0 <= f <= 1:
            raise SplitError(f"split '{part}': the fraction must be between 0 and 1")
        if name in dict(out):
            raise SplitError(f"split '{name}' is named twice")
        out.append((name, f))
    total = sum(f for _, f in out)
    if abs(total - 1.0) > 1e-6:
        raise SplitError(f"split fractions add up to {total:g}, not 1 ({text})")
    return out


def unit_hash(key: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(key: str, splits: list[tuple[str, float]], seed: int) -> str:
    u = unit_hash(key, seed)
    acc = 0.0
    for name, frac in splits:
        acc += frac
        if u < acc:
            return name
    return splits[-1][0]
