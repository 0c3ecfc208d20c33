"""The one rule for names that become path components, and for files a source may be read from.

A name taken from a recording or a mapping (a dataset, stream or camera name, an episode key) ends
up as a folder or file name in the store: ``staging/<dataset>/…/videos/<camera>.mp4``,
``quarantine/<sha>/findings-<episode>.json``. A name that holds a path separator, starts with a
dot, is absolute or carries a control character could make a write land outside the store, so
every such name is held to :data:`SAFE_NAME` before it is used, and refused otherwise.

Files a source is read from (sidecar videos, a LeRobot dataset's parquet and video files) must
lie inside the source's own folder and be reached without any symbolic link: a recording must
never make the pipeline read, hash or copy a file elsewhere on the machine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, cast

#: Letters, digits, ``_``, ``-`` and ``.``, starting with a letter or digit, at most 64 characters.
#: Always applied with ``fullmatch`` (``$`` would accept a trailing newline).
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SAFE_NAME_RULE = ("letters, digits, '_', '-' and '.', starting with a letter or digit, at most "
                  "64 characters")


class UnsafeNameError(ValueError):
    """A name that would not be a single, plain path component; the message names the rule."""


def is_safe_name(name: Any) -> bool:
    """Whether ``name`` is a string that is safe as one path component."""
    return isinstance(name, str) and SAFE_NAME.fullmatch(name) is not None


def name_problem(name: Any, what: str = "name") -> str | None:
    """Why ``name`` is refused as a ``what`` (one sentence naming the rule), or None when safe."""
    if is_safe_name(name):
        return None
    return f"the {what} {name!r} is not a safe name ({SAFE_NAME_RULE})"


def check_safe_name(name: Any, what: str = "name") -> str:
    """``name`` itself when safe; raises :class:`UnsafeNameError` otherwise."""
    problem = name_problem(name, what)
    if problem is not None:
        raise UnsafeNameError(problem)
    return cast(str, name)  # a safe name is a string


def is_plain_file_name(name: str) -> bool:
    """A file name that stays in its folder: not blank, no path separator, no ``..``, no NUL,
    not absolute, no drive letter."""
    return bool(name.strip()) and not (
        "/" in name or "\\" in name or ".." in name or "\0" in name
        or Path(name).is_absolute() or re.match(r"[A-Za-z]:", name))


def contained_problem(root: Path, path: Path | str) -> str | None:
    """Why ``path`` may not be read as part of the source at ``root``, or None when it may.

    ``path`` (absolute, or relative to ``root``) must lie under ``root`` without any ``..``, and no
    component from ``root`` down to it (itself included) may be a symbolic link. ``root`` itself
    may be reached through links: that is where the user pointed.
    """
    p = Path(path)
    rel = None
    for base in dict.fromkeys((Path(os.path.abspath(root)), Path(os.path.realpath(root)))):
        try:
            rel = (p if p.is_absolute() else base / p).relative_to(base)
        except ValueError:
            continue
        root = base
        break
    if rel is None:
        return f"{p} lies outside {root}"
    if ".." in rel.parts:
        return f"{p} climbs out of {root} with '..'"
    cur = root
    for part in rel.parts:
        cur = cur / part
        if cur.is_symlink():
            return f"{cur} is a symbolic link (files must be read from inside {root} directly)"
    return None
