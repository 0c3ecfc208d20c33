"""The humanoid robot unique identification code: 29 characters in four segments.

``country`` (2, ISO 3166-1 alpha-2) + ``enterprise`` (4) + ``product model`` (6) + ``serial``
(17, right-aligned, left-padded with ``0``), digits and upper-case letters only. People write it
with separators (``CN-UNTR-H10001-00000000000012345``); input is normalised by dropping ``-`` and
ASCII white space and upper-casing ASCII letters, nothing else. The *label form* appends ``-`` and
an ISO/IEC 7064 MOD 37,36 check character, so a mistyped label is caught instead of silently
accepted.

Normalisation never maps a non-ASCII character onto ASCII: Unicode case mapping turns ``ß`` into
``SS`` and ``ﬀ`` into ``FF``, so a different text would validate as some other robot's code. Any
non-ASCII character is refused, by position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from robots.countries import is_country
from robots.iso7064 import check_char
from robots.profile import UidSegments

CODE_LENGTH = 29
SEGMENTS = (("country", 2), ("enterprise", 4), ("product_model", 6), ("serial", 17))
_ALNUM = re.compile(r"^[0-9A-Z]*$")
#: Dropped by normalisation: the dash and ASCII white space people put between segments.
SEPARATORS = frozenset("- \t\r\n\v\f")
_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class UidError(ValueError):
    """A robot uid (or a serial to build one from) is invalid; the message says why."""


def check_ascii(text: str, what: str = "the code") -> None:
    """Refuse the first non-ASCII character of ``text``, naming it and its position (from 1)."""
    for i, ch in enumerate(text, 1):
        if not ch.isascii():
            raise UidError(f"only digits and letters A-Z are allowed: {what} has the non-ASCII "
                           f"character '{ch}' (U+{ord(ch):04X}) at position {i} (look-alike "
                           "letters are never converted)")


def normalize(text: str, what: str = "the code") -> str:
    """Drop separators and upper-case ASCII letters; refuse any non-ASCII character."""
    check_ascii(text, what)
    return "".join(c for c in text if c not in SEPARATORS).translate(_UPPER)


@dataclass(frozen=True)
class RobotUid:
    country: str
    enterprise: str
    product_model: str
    serial: str  # 17 characters, zero-padded

    @property
    def code(self) -> str:
        """The canonical form: the bare 29 characters."""
        return f"{self.country}{self.enterprise}{self.product_model}{self.serial}"

    @property
    def check(self) -> str:
        return check_char(self.code)

    @property
    def label(self) -> str:
        """The label form: the code, ``-`` and the check character."""
        return f"{self.code}-{self.check}"

    @property
    def pretty(self) -> str:
        return f"{self.country}-{self.enterprise}-{self.product_model}-{self.serial}"

    def __str__(self) -> str:
        return self.code


def _split(code: str) -> RobotUid:
    parts, i = {}, 0
    for name, n in SEGMENTS:
        parts[name] = code[i:i + n]
        i += n
    return RobotUid(**parts)


def parse(text: str) -> RobotUid:
    """Parse a code (bare or label form, any separators or case); raise :class:`UidError`."""
    raw = normalize(text)
    if not raw:
        raise UidError("the code is empty")
    if not _ALNUM.match(raw):
        i, ch = next((i, c) for i, c in enumerate(text, 1)
                     if c not in SEPARATORS and not _ALNUM.match(c.translate(_UPPER)))
        raise UidError(f"only digits and letters A-Z are allowed (found {ch!r} at position {i})")
    check = None
    if len(raw) == CODE_LENGTH + 1:
        raw, check = raw[:-1], raw[-1]
    elif len(raw) != CODE_LENGTH:
        raise UidError(f"a code has {CODE_LENGTH} characters (or {CODE_LENGTH + 1} with its "
                       f"check character), this one has {len(raw)}")
    uid = _split(raw)
    if not uid.country.isalpha() or not is_country(uid.country):
        raise UidError(f"'{uid.country}' is not an ISO 3166-1 alpha-2 country code")
    if check is not None and check != uid.check:
        raise UidError(f"check character is {check}, expected {uid.check} "
                       "(a character is mistyped or two are swapped)")
    return uid


def is_label(text: str) -> bool:
    return len(normalize(text)) == CODE_LENGTH + 1


def normalize_serial(serial: str) -> str:
    """A manufacturer serial as it goes into a code; raise :class:`UidError` when unusable."""
    s = normalize(serial, f"the serial '{serial}'")
    if not s:
        raise UidError("the serial is empty")
    if not _ALNUM.match(s):
        raise UidError(f"the serial '{serial}' must be letters and digits only "
                       "(dashes and spaces are ignored)")
    if len(s) > 17:
        raise UidError(f"the serial '{serial}' has {len(s)} characters; at most 17 fit a code")
    return s


def compose(segments: UidSegments, serial: str) -> RobotUid:
    """Build the code of one robot from its model's uid segments and its serial.

    ``segments`` is a profile's ``[uid]`` table (country, enterprise, product_model); the serial
    is normalised, must be 1-17 letters and digits, and is left-padded with ``0``.
    """
    s = normalize_serial(serial)
    uid = RobotUid(normalize(segments.country), normalize(segments.enterprise),
                   normalize(segments.product_model), s.rjust(17, "0"))
    for name, n in SEGMENTS[:3]:
        val = getattr(uid, name)
        if len(val) != n or not _ALNUM.match(val):
            raise UidError(f"the {name.replace('_', ' ')} segment '{val}' must be {n} "
                           "digits or letters")
    if not is_country(uid.country):
        raise UidError(f"the country segment '{uid.country}' is not an ISO 3166-1 alpha-2 "
                       "country code")
    return uid
