"""The adapter contract shared by every source layout."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from schemas.read_result import ReadResult

__all__ = ["Adapter", "ReadResult"]


class Adapter(Protocol):
    #: Layout name used by ``--layout`` and in ``episodes.parquet`` (``embodiq``, ``aloha``…).
    name: str

    def detect(self, path: Path) -> bool:
        """Cheap sniff: does ``path`` (a file or folder) look like this layout?"""
        ...

    def episode_keys(self, path: Path) -> Sequence[str | None]:
        """The episodes inside ``path``: ``[None]`` for a one-episode file, else their keys."""
        ...

    def source_files(self, path: Path, key: str | None) -> list[Path]:
        """Every file the episode ``key`` is read from (hashed for its identity, quarantined
        byte for byte when it fails). The first one is the primary file."""
        ...

    def read(self, path: Path, key: str | None, mapping: dict | None = None) -> ReadResult:
        """Read one episode. Never raises for bad input: problems become findings."""
        ...
