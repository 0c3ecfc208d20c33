"""Mapping files: what a foreign layout lacks, said once per source, as data.

A mapping is a TOML file naming the robot profile the data belongs to, the metadata the source
does not carry (operator, site, task, serial, start time, rates), and how source channel names
map to the profile's joint names. Every value taken from a mapping (or a default) is reported
as a ``schema.inferred`` finding — never silently invented. Shipped mappings are package data
(``pipelines/mappings/*.toml``, so an installed wheel has them as a checkout does):
``<layout>.toml`` is used when no ``--mapping`` is given, and any of them can be named by its
stem (``--mapping lerobot-unitree-g1-inspire``). A name that is not shipped is an error naming
it and where it was looked for, never a silent fallback to the defaults.
"""

from __future__ import annotations

import copy
import math
import os
import tomllib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from schemas.episode import ACTION_SPACES, COLLECTION_MODES, STREAM_KINDS, Stream
from schemas.findings import Finding, Severity
from schemas.limits import rate_problem
from schemas.names import name_problem

#: The shipped mappings: package data, next to this module in a checkout and in a wheel alike.
MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"
_TOP_KEYS = {"robot_model", "robot_serial", "operator_id", "site", "task", "task_id", "scene",
             "collection_mode", "started_at", "rate_hz", "success", "names", "streams",
             "topics", "cameras", "description", "units"}
#: keys of one ``[streams."<source name>"]`` or ``[topics."<topic>"]`` table
_STREAM_KEYS = {"name", "stream", "camera", "kind", "unit", "space", "names", "columns",
                "rate_hz", "skip"}


#: Units a mapping's ``[units]`` table may declare for a recorded channel. ``deg`` and ``mm``
#: are scaled to the profile's rad and m; ``range_m100_100`` and ``range_0_100`` are LeRobot's
#: normalised modes (``MotorNormMode``), spread over the profile joint's [lower, upper].
RECORDED_UNITS = ("rad", "m", "deg", "degrees", "mm", "range_m100_100", "range_0_100")
_SCALES = {"deg": math.pi / 180.0, "degrees": math.pi / 180.0, "mm": 1e-3}
_RANGES = {"range_m100_100": (-100.0, 100.0), "range_0_100": (0.0, 100.0)}


class MappingError(ValueError):
    """A mapping file is missing or malformed; the message names the file and key."""


def _check(data: dict[str, Any], where: str) -> dict[str, Any]:
    for key, val in data.items():
        if key not in _TOP_KEYS:
            known = ", ".join(sorted(_TOP_KEYS))
            raise MappingError(f"{where}: unknown key '{key}' (known: {known})")
        if key == "rate_hz":
            _check_rate(val, where)
        if key in ("names", "streams", "topics", "cameras", "units") and not isinstance(val,
                                                                                    dict):
            raise MappingError(f"{where}: '{key}' must be a table")
    for key in ("robot_model", "robot_serial", "operator_id", "site", "task", "started_at"):
        if key in data and not isinstance(data[key], str):
            raise MappingError(f"{where}: '{key}' must be a string")
    mode = data.get("collection_mode")
    if mode is not None and mode not in COLLECTION_MODES:
        raise MappingError(f"{where}: 'collection_mode' must be one of "
                           f"{', '.join(COLLECTION_MODES)}")
    if "started_at" in data:
        try:
            datetime.fromisoformat(data["started_at"])
        except ValueError:
            raise MappingError(f"{where}: 'started_at' is not an ISO 8601 time") from None
    for src, dst in data.get("names", {}).items():
        if not isinstance(dst, str):
            raise MappingError(f"{where}: names.\"{src}\" must be a string")
    for src, unit in data.get("units", {}).items():
        if unit not in RECORDED_UNITS:
            raise MappingError(f"{where}: units.\"{src}\" is {unit!r}; it must be one of "
                               f"{', '.join(RECORDED_UNITS)}")
    for table in ("streams", "topics"):
        for name, spec in data.get(table, {}).items():
            _check_stream(spec, f"{where}: {table}.\"{name}\"")
    for name, val in data.get("cameras", {}).items():  # source camera -> camera name
        for v in (val,) if not isinstance(val, dict) else \
                [val[k] for k in ("name", "camera") if k in val]:
            problem = name_problem(v, "camera name")
            if problem is not None:
                raise MappingError(f"{where}: cameras.\"{name}\": {problem}")
    for topic, spec in data.get("topics", {}).items():
        if not {"stream", "camera", "skip"} & set(spec):
            raise MappingError(f"{where}: topics.\"{topic}\" needs 'stream', 'camera' or "
                               "'skip'")
    data["_source"] = where
    return data


def _check_stream(spec: Any, where: str) -> None:
    if not isinstance(spec, dict):
        raise MappingError(f"{where} must be a table")
    unknown = set(spec) - _STREAM_KEYS
    if unknown:
        raise MappingError(f"{where}: unknown key '{sorted(unknown)[0]}' (known: "
                           f"{', '.join(sorted(_STREAM_KEYS))})")
    for key in ("name", "stream", "camera"):  # these become stream and camera names
        if key in spec:
            problem = name_problem(spec[key], f"{key} value")
            if problem is not None:
                raise MappingError(f"{where}: {problem}")
    if "kind" in spec and spec["kind"] not in STREAM_KINDS:
        raise MappingError(f"{where}: 'kind' must be one of {', '.join(STREAM_KINDS)}")
    if "space" in spec and spec["space"] not in ACTION_SPACES:
        raise MappingError(f"{where}: 'space' must be one of {', '.join(ACTION_SPACES)}")
    cols = spec.get("columns")
    if cols is not None and not (isinstance(cols, list) and len(cols) == 2
                                 and all(isinstance(c, int) and c >= 0 for c in cols)
                                 and cols[0] < cols[1]):
        raise MappingError(f"{where}: 'columns' must be [first, end) with 0 <= first < end")
    names = spec.get("names")
    if names is not None and not (isinstance(names, list)
                                  and all(isinstance(n, str) for n in names)):
        raise MappingError(f"{where}: 'names' must be a list of strings")
    if "rate_hz" in spec:
        _check_rate(spec["rate_hz"], where)


def _check_rate(val: Any, where: str) -> None:
    if isinstance(val, bool) or not isinstance(val, (int, float)) or not val > 0:
        raise MappingError(f"{where}: 'rate_hz' must be a number > 0")
    if (why := rate_problem(val)) is not None:
        raise MappingError(f"{where}: 'rate_hz': {why}")


def shipped_mappings() -> list[str]:
    """The names of the shipped mappings (``--mapping NAME``), sorted."""
    return sorted(p.stem for p in MAPPINGS_DIR.glob("*.toml"))


def _is_name(ref: str) -> bool:
    """A ``--mapping`` value that names a shipped mapping rather than a file: one path
    component, no ``.toml`` suffix."""
    p = Path(ref)
    return bool(ref) and len(p.parts) == 1 and p.name == ref and p.suffix != ".toml"


def find_mapping(ref: Path | str) -> Path:
    """The file a ``--mapping`` value means: an existing file, else the shipped mapping it names.

    A bare name (``lerobot-unitree-g1-inspire``) that is neither a file nor shipped is a
    :class:`MappingError` naming the name and both places looked in.
    """
    p = Path(ref)
    if p.is_file() or not _is_name(str(ref)):
        return p  # a path: load_mapping says when it is missing
    shipped = MAPPINGS_DIR / f"{p.name}.toml"
    if shipped.is_file():
        return shipped
    names = ", ".join(shipped_mappings()) or "none"
    raise MappingError(f"mapping '{ref}' not found: no file {p.absolute()} and no shipped "
                       f"mapping {shipped} (shipped: {names})")


def load_mapping(path: Path | str) -> dict[str, Any]:
    """The mapping a ``--mapping`` value means (a file path or a shipped name), checked."""
    p = find_mapping(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"{p}: mapping file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{p}: not valid TOML ({exc})") from None
    return _check(data, str(p))


def default_mapping(layout: str) -> dict[str, Any]:
    """The shipped ``<layout>.toml``; every layout that reads a mapping ships one, so a
    missing file is a broken installation, reported as such rather than read as defaults."""
    p = MAPPINGS_DIR / f"{layout}.toml"
    if not p.is_file():
        raise MappingError(f"no shipped mapping for the {layout} layout: {p} is missing "
                           f"(shipped: {', '.join(shipped_mappings()) or 'none'}); "
                           "reinstall embodiq or pass --mapping FILE")
    mtime = p.stat().st_mtime_ns
    # parsed once per version of the file: every episode of a source asks for it
    return copy.deepcopy(_default_mapping_at(p, mtime))


@lru_cache(maxsize=16)
def _default_mapping_at(p: Path, mtime: int) -> dict[str, Any]:
    return load_mapping(p)


def robot_mapping(layout: str, robot_type: Any) -> tuple[str, dict[str, Any]] | None:
    """The shipped mapping for a robot of ``layout`` (``<layout>-<profile id>.toml``), found
    from the robot type the source names (a LeRobot ``robot_type``) through the robot profiles'
    aliases; None when no profile claims the type or no mapping ships for it. Returns the
    mapping's file name and the mapping."""
    if not isinstance(robot_type, str) or not robot_type.strip():
        return None
    name = _robot_mapping_name(layout, robot_type, os.environ.get("EMBODIQ_ROBOTS", ""))
    if name is None:
        return None
    p = MAPPINGS_DIR / name
    return name, copy.deepcopy(_default_mapping_at(p, p.stat().st_mtime_ns))


@lru_cache(maxsize=64)
def _robot_mapping_name(layout: str, robot_type: str, _robots_env: str) -> str | None:
    from robots.profile import ProfileCatalog, ProfileError

    try:
        prof = ProfileCatalog().resolve(robot_type)
    except ProfileError:
        return None  # a broken profile set is reported where profiles are used
    if prof is None:
        return None
    name = f"{layout}-{prof.id}.toml"
    return name if (MAPPINGS_DIR / name).is_file() else None


def convert_units(stream: Stream, source_names: list[str], mapping: dict[str, Any],
                  robot: Any) -> list[Finding]:
    """Bring the joint columns of ``stream`` into the profile's units, as the mapping's
    ``[units]`` table declares them, so the limit checks compare like with like.

    ``[units]`` keys are the channel names as recorded (``source_names``) or the profile joint
    names they were renamed to. Position columns are converted (a normalised range is spread
    over the joint's [lower, upper] from the profile named by ``robot``, a ``robot_model`` or
    LeRobot ``robot_type``); velocity columns are scaled alike without the offset. The stream
    is changed in place; the returned ``schema.inferred`` notes say what was converted."""
    units = mapping.get("units") or {}
    velocity = stream.kind == "joint_velocity" or (stream.kind == "action"
                                                    and stream.space == "joint_velocity")
    position = stream.kind == "joint_position" or (stream.kind == "action"
                                                   and stream.space == "joint_position")
    if not units or not (velocity or position):
        return []
    todo: dict[int, str] = {}
    for j, name in enumerate(stream.names):
        src = source_names[j] if j < len(source_names) else name
        unit = units.get(src, units.get(name))
        if unit is not None and unit not in ("rad", "m"):
            todo[j] = unit
    if not todo:
        return []
    prof = _profile_for(str(robot or ""), os.environ.get("EMBODIQ_ROBOTS", ""))
    vals = np.array(stream.values, dtype=np.float64)
    done: dict[str, list[str]] = {}
    unconverted: list[str] = []
    for j, unit in todo.items():
        name = stream.names[j]
        if unit in _SCALES:
            vals[:, j] *= _SCALES[unit]
        else:
            joint = prof.joint(name) if prof is not None else None
            if joint is None or not (math.isfinite(joint.lower) and math.isfinite(joint.upper)):
                unconverted.append(f"{name} ({unit})")
                continue
            a, b = _RANGES[unit]
            span = (joint.upper - joint.lower) / (b - a)
            vals[:, j] = vals[:, j] * span if velocity else joint.lower + (vals[:, j] - a) * span
        done.setdefault(unit, []).append(name)
    stream.values = vals
    src = mapping.get("_source", "the mapping")
    out = [Finding("schema.inferred", Severity.INFO,
                   f"{stream.name}: {', '.join(cols)} recorded in {unit}, converted to the "
                   f"profile's units as [units] in {src} says", stream=stream.name)
           for unit, cols in done.items()]
    if unconverted:
        why = f"profile '{prof.id}' gives them no finite limits" if prof is not None else \
            f"no robot profile matches {robot!r}"
        out.append(Finding("schema.inferred", Severity.INFO,
                           f"{stream.name}: {', '.join(unconverted)} left as recorded: {why}, "
                           "so a normalised range cannot be placed", stream=stream.name))
    return out


@lru_cache(maxsize=64)
def _profile_for(robot: str, _robots_env: str):
    from robots.profile import ProfileCatalog, ProfileError

    if not robot.strip():
        return None
    try:
        return ProfileCatalog().resolve(robot)
    except ProfileError:
        return None  # a broken profile set is reported where profiles are used
