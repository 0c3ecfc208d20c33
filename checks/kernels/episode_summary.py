"""Per-channel figures the dataset checks compare across episodes, one pass each."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def held_and_last(values: np.ndarray) -> np.ndarray:
    """float64[D, 2] for ``values`` [T, D]: the share of consecutive finite pairs whose value
    did not change (NaN when a column has no such pair), and the column's last finite value
    (NaN when it has none)."""
    t, d = values.shape
    out = np.full((d, 2), np.nan)
    same = np.zeros(d)
    pairs = np.zeros(d)
    for i in range(1, t):
        for j in range(d):
            a = values[i - 1, j]
            b = values[i, j]
            if np.isfinite(a) and np.isfinite(b):
                pairs[j] += 1.0
                if a == b:
                    same[j] += 1.0
    for j in range(d):
        if pairs[j] > 0:
            out[j, 0] = same[j] / pairs[j]
        for i in range(t - 1, -1, -1):
            if np.isfinite(values[i, j]):
                out[j, 1] = values[i, j]
                break
    return out


class HeldAndLast(NamedTuple):
    """:func:`held_and_last` by name: one array per figure, one entry per column."""

    held: np.ndarray
    last: np.ndarray


def held_and_last_of(values: np.ndarray) -> HeldAndLast:
    """:func:`held_and_last`, its columns named."""
    t = held_and_last(values)
    return HeldAndLast(t[:, 0], t[:, 1])
