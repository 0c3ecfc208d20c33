"""ISO 3166-1 alpha-2 country codes, shipped as data (``robots/data/iso3166_alpha2.txt``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_DATA = Path(__file__).parent / "data" / "iso3166_alpha2.txt"


@cache
def country_codes() -> frozenset[str]:
    codes: set[str] = set()
    for line in _DATA.read_text(encoding="ascii").splitlines():
        if not line.startswith("#"):
            codes.update(line.split())
    return frozenset(codes)


def is_country(code: str) -> bool:
    return code in country_codes()
