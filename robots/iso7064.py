"""ISO/IEC 7064 MOD 37,36: the hybrid check character printed on robot uid labels.

Pure system over the alphabet ``0-9A-Z`` (values 0–35). It detects every single-character
substitution and every transposition of two adjacent characters.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_M = 36
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def _residue(text: str) -> int:
    p = _M
    for ch in text:
        v = _VALUE.get(ch)
        if v is None:
            raise ValueError(f"'{ch}' is not in 0-9A-Z")
        s = (p + v) % _M or _M
        p = (2 * s) % (_M + 1)
    return p


def check_char(text: str) -> str:
    """The check character for ``text`` (upper-case ``0-9A-Z``)."""
    return ALPHABET[(_M + 1 - _residue(text)) % _M]


def is_valid(text_with_check: str) -> bool:
    """True when the last character is the right check character for the rest."""
    if len(text_with_check) < 2:
        return False
    try:
        return check_char(text_with_check[:-1]) == text_with_check[-1]
    except ValueError:
        return False
