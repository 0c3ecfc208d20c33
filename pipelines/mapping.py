"""Mapping files: what a foreign layout lacks, said once per source, as data.

A mapping is a TOML file naming the robot profile the data belongs to, the metadata the source
does not carry (operator, site, task, serial, start time, rates), and how source channel names
map to the profile's joint names. Every value taken from a mapping (or a default) is reported
as a ``schema.inferred`` finding — never silently invented. Shipped examples live in
``datasets/mappings/<layout>.toml`` and are used when no ``--mapping`` is given.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
MAPPINGS_DIR = REPO_ROOT / "datasets" / "mappings"
_TOP_KEYS = {"robot_model", "robot_serial", "operator_id", "site", "task", "task_id", "scene",
             "collection_mode", "started_at", "rate_hz", "success", "names", "streams",
             "topics", "cameras", "description"}


class MappingError(ValueError):
    """A mapping file is missing or malformed; the message names the file and key."""


def _check(data: dict[str, Any], where: str) -> dict[str, Any]:
    for key, val in data.items():
        if key not in _TOP_KEYS:
            known = ", ".join(sorted(_TOP_KEYS))
            raise MappingError(f"{where}: unknown key '{key}' (known: {known})")
        if key == "rate_hz" and (not isinstance(val, (int, float)) or val <= 0):
            raise MappingError(f"{where}: 'rate_hz' must be a number > 0")
        if key in ("names", "streams", "topics", "cameras") and not isinstance(val, dict):
            raise MappingError(f"{where}: '{key}' must be a table")
    for topic, spec in data.get("topics", {}).items():
        if not isinstance(spec, dict) or ("stream" not in spec and "camera" not in spec):
            raise MappingError(f"{where}: topics.\"{topic}\" needs 'stream' or 'camera'")
    data["_source"] = where
    return data


def load_mapping(path: Path | str) -> dict[str, Any]:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"{p}: mapping file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{p}: not valid TOML ({exc})") from None
    return _check(data, str(p))


def default_mapping(layout: str) -> dict[str, Any]:
    p = MAPPINGS_DIR / f"{layout}.toml"
    return load_mapping(p) if p.is_file() else {"_source": f"the {layout} defaults"}
