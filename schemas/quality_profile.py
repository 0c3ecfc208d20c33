"""Quality profiles: which checks run, at what severity, with which thresholds.

A profile is a TOML file. ``default`` and ``strict`` ship in ``schemas/profiles/``; a user passes
a name found in ``EMBODIQ_QUALITY_PROFILES`` folders or a path. Layout::

    name = "my-lab"
    extends = "default"            # optional: start from another profile

    [checks."time.gap"]            # per check: enabled, severity, and its thresholds
    severity = "warning"
    max_gap_periods = 2.0

    [robots."aloha".checks."value.spike"]   # overrides for one robot model only
    enabled = false

    [checks."schema.robot"]        # a robot model with no profile: warning (default) or
    unknown_model = "error"        # error (strict); joints outside a profile stay ``severity``

Unknown checks or thresholds are refused with the offending key named, so a typo never silently
turns a check off.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.findings import Severity, encodable

BUILTIN_DIR = Path(__file__).parent / "profiles"
_CHECK_KEYS = {"enabled", "severity"}
#: Settings whose value is a severity: ``schema.robot``'s ``unknown_model`` (the severity of a
#: robot model with no profile) besides every check's own ``severity``.
_SEVERITY_KEYS = {"severity", "unknown_model"}


class QualityProfileError(ValueError):
    """A quality profile is missing or malformed; the message names the file and the key."""


@dataclass(frozen=True)
class CheckSettings:
    enabled: bool
    severity: Severity
    params: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.params[key]


@dataclass
class QualityProfile:
    name: str
    #: check id -> {"enabled", "severity", <thresholds>}, fully resolved (defaults included).
    checks: dict[str, dict[str, Any]]
    robots: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    description: str = ""
    source: str = "builtin"

    @property
    def digest(self) -> str:
        """sha256 of the resolved settings: two runs with equal digests judged alike."""
        blob = json.dumps({"checks": self.checks, "robots": self.robots}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def settings(self, check_id: str, robot_model: str | None = None) -> CheckSettings:
        base = self.checks.get(check_id)
        if base is None:
            raise KeyError(f"quality profile '{self.name}' has no settings for check '{check_id}'")
        merged = dict(base)
        if robot_model and robot_model in self.robots:
            merged.update(self.robots[robot_model].get(check_id, {}))
        params = {k: v for k, v in merged.items() if k not in _CHECK_KEYS}
        return CheckSettings(
            enabled=bool(merged.get("enabled", True)),
            severity=Severity(merged.get("severity", "warning")),
            params=params,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "checks": self.checks,
                "robots": self.robots, "digest": self.digest}


def _validate_check_table(table: Any, base: Mapping[str, Any] | None,
                         where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise QualityProfileError(f"{where}: must be a table")
    for key, val in table.items():
        if key in _SEVERITY_KEYS and (not isinstance(val, str)
                                      or val not in {s.value for s in Severity}):
            raise QualityProfileError(
                f"{where}.{key}: '{val}' is not one of error, warning, info")
        if key == "severity":
            pass
        elif key == "enabled":
            if not isinstance(val, bool):
                raise QualityProfileError(f"{where}.enabled: must be true or false")
        elif base is not None and key not in base:
            known = ", ".join(sorted(k for k in base if k not in _CHECK_KEYS)) or "none"
            raise QualityProfileError(
                f"{where}.{key}: unknown threshold (known: {known})")
        elif base is not None and isinstance(base[key], (int, float)) and not isinstance(
            base[key], bool
        ):
            _check_threshold(val, base[key], key, f"{where}.{key}")
    return dict(table)


#: Thresholds that may lie below zero, with their least value: a correlation runs from -1.
_SIGNED = {"min_correlation": -1.0}
#: Thresholds that a check divides by, so they must be above zero.
_POSITIVE = {"analysis_rate_hz"}


def _check_threshold(val: Any, default: int | float, key: str, where: str) -> None:
    """A threshold is a finite number, at least 0 (or its signed least value), and a whole
    number where the catalogue's is one: NaN would turn a check off without a word, a negative
    tolerance would fail every episode, and infinity cannot size a window or count frames."""
    if isinstance(val, bool) or not isinstance(val, (int, float)):
        raise QualityProfileError(f"{where}: must be a number")
    if not math.isfinite(val):
        raise QualityProfileError(f"{where}: {val} is not a threshold; it must be a finite "
                                  "number (turn a check off with enabled = false)")
    least = _SIGNED.get(key, 0.0)
    if val < least or (key in _POSITIVE and val <= 0):
        bound = "above 0" if key in _POSITIVE else f"at least {least:g}"
        raise QualityProfileError(f"{where}: {val:g} is not a threshold; it must be {bound}")
    if isinstance(default, int) and val != int(val):
        raise QualityProfileError(f"{where}: {val:g} is not a threshold; it must be a whole "
                                  "number")


def _search_dirs() -> list[Path]:
    env = os.environ.get("EMBODIQ_QUALITY_PROFILES", "")
    return [Path(p) for p in env.split(os.pathsep) if p] + [BUILTIN_DIR]


def _resolve_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or os.sep in str(name_or_path):
        if not p.is_file():
            raise QualityProfileError(f"{p}: quality profile file not found")
        return p
    for d in _search_dirs():
        cand = d / f"{name_or_path}.toml"
        if cand.is_file():
            return cand
    known = sorted({c.stem for d in _search_dirs() if d.is_dir() for c in d.glob("*.toml")})
    raise QualityProfileError(
        f"no quality profile named '{name_or_path}' (known: {', '.join(known)})")


def load_quality_profile(name_or_path: str | Path = "default", _depth: int = 0) -> QualityProfile:
    """Load and fully resolve a profile (its ``extends`` chain, then its own overrides)."""
    path = _resolve_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise QualityProfileError(f"{path}: not valid TOML ({exc})") from exc
    where = str(path)
    parent_name = data.get("extends")
    if parent_name is None and path.resolve() != (BUILTIN_DIR / "default.toml").resolve():
        parent_name = "default"
    if parent_name is not None:
        if _depth > 8:
            raise QualityProfileError(f"{where}: 'extends' chain is too deep or circular")
        parent = load_quality_profile(parent_name, _depth + 1)
        checks = copy.deepcopy(parent.checks)
        robots = copy.deepcopy(parent.robots)
    else:
        checks, robots = {}, {}
    allowed_top = {"name", "description", "extends", "checks", "robots"}
    for key in data:
        if key not in allowed_top:
            raise QualityProfileError(f"{where}: unknown key '{key}'")
    for cid, table in data.get("checks", {}).items():
        base = checks.get(cid) if parent_name is not None else None
        if parent_name is not None and base is None:
            raise QualityProfileError(f"{where}: checks.\"{cid}\": unknown check id")
        vals = _validate_check_table(table, base, f"{where}: checks.\"{cid}\"")
        checks.setdefault(cid, {}).update(vals)
    for model, rtable in data.get("robots", {}).items():
        if not isinstance(rtable, dict) or set(rtable) - {"checks"}:
            raise QualityProfileError(f"{where}: robots.\"{model}\": only 'checks' is allowed")
        for cid, table in rtable.get("checks", {}).items():
            if cid not in checks:
                raise QualityProfileError(
                    f"{where}: robots.\"{model}\".checks.\"{cid}\": unknown check id")
            vals = _validate_check_table(
                table, checks[cid], f"{where}: robots.\"{model}\".checks.\"{cid}\"")
            robots.setdefault(model, {}).setdefault(cid, {}).update(vals)
    for cid, table in checks.items():
        if "severity" not in table:
            raise QualityProfileError(f"{where}: checks.\"{cid}\": missing 'severity'")
        table.setdefault("enabled", True)
    return QualityProfile(  # a file's name may be any bytes; what is published is text
        name=encodable(str(data.get("name", path.stem))),
        checks=checks,
        robots=robots,
        description=str(data.get("description", "")),
        source=encodable(str(path)),
    )
