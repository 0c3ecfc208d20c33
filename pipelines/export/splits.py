"""Deterministic, stable train/validation/test splits by episode (or by group).

Each key (an ``episode_uid``, or the value of a ``--group-by`` column) is hashed with the seed
to a number in [0, 1); the split is the first whose cumulative fraction exceeds it. So an
episode's split depends only on its own key, the seed and the fractions: adding episodes later
never moves one, and every episode of a group lands in the same split.
"""

from __future__ import annotations

import hashlib
import re

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class SplitError(ValueError):
    """A ``--split`` text that cannot be used."""


def parse_splits(text: str) -> list[tuple[str, float]]:
    """``"train=0.9,val=0.1"`` -> [("train", 0.9), ("val", 0.1)]; fractions must sum to 1."""
    out: list[tuple[str, float]] = []
    for part in text.split(","):
        name, sep, frac = part.strip().partition("=")
        name = name.strip()
        if not sep or not name:
            raise SplitError(f"'{part.strip()}' must look like name=fraction (e.g. train=0.9)")
        if not _NAME.match(name):
            raise SplitError(f"split name '{name}' must be letters, digits, '_' or '-' "
                             "(it names a folder)")
        try:
            f = float(frac)
        except ValueError:
            raise SplitError(f"'{part.strip()}': '{frac.strip()}' is not a number") from None
        if not 0 <= f <= 1:
            raise SplitError(f"'{part.strip()}': the fraction must be between 0 and 1")
        if name in dict(out):
            raise SplitError(f"split '{name}' is named twice")
        out.append((name, f))
    total = sum(f for _, f in out)
    if abs(total - 1.0) > 1e-6:
        raise SplitError(f"the fractions of '{text}' add up to {total:g}, not 1")
    return out


def unit_hash(key: str, seed: int) -> float:
    """A uniform number in [0, 1) from the seed and the key (SHA-256, platform independent)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(key: str, splits: list[tuple[str, float]], seed: int) -> str:
    """The split of ``key``: the first whose cumulative fraction exceeds its hash."""
    u = unit_hash(key, seed)
    acc = 0.0
    for name, frac in splits:
        acc += frac
        if u < acc:
            return name
    return next(name for name, frac in reversed(splits) if frac > 0)
