"""Where a command's ``--out`` may not write: into the store, or over a recording.

An export replaces its ``--out`` folder (with ``--force``) and a report replaces its ``--out``
file: pointed at a published version, the store or a source recording, either would destroy
what embodiq promises to keep. Paths are compared as real paths (symlinks and ``..``
resolved), so no alias slips by.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pipelines.store import Store


def real_path(path: Path | str) -> Path:
    """``path`` with every symlink and ``..`` resolved (the path need not exist)."""
    return Path(os.path.realpath(os.path.expanduser(path)))


def registered_sources(store: Store) -> list[Path]:
    """Every recording (and mapping file) registered in the store: the raw inputs of its
    published versions, which no command may replace."""
    paths: list[Path] = []
    for rec in store.registered_source_records():
        for p in [rec.get("path"), rec.get("mapping"), *(rec.get("files") or {})]:
            if isinstance(p, str) and p:
                paths.append(Path(p))
    return paths


def overlap(out: Path, kept: Iterable[tuple[str, Path, bool]]) -> str | None:
    """How ``out`` meets the first of ``kept`` — (what, path, whether a path inside it is
    kept too) — that it is, contains, or (when kept too) lies inside, as a phrase such as
    ``"lies inside the store /srv/store"``; None when it meets none."""
    target = real_path(out)
    for what, path, inside_too in kept:
        real = real_path(path)
        if target == real:
            relation = "is"
        elif target in real.parents:
            relation = "contains"
        elif inside_too and real in target.parents:
            relation = "lies inside"
        else:
            continue
        given = str(out) if target == Path(out) else f"{out} (really {target})"
        return f"{given} {relation} {what} {real}"
    return None
