"""The adapter contract shared by every source layout."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from pipelines.adapters._common import build_metadata, drop_unsafe_names
from schemas.episode import Camera, Episode, SourceInfo, Stream
from schemas.findings import Finding
from schemas.read_result import ReadResult
from schemas.recording import sha256_file

__all__ = ["Adapter", "FileSource", "ReadResult"]


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


class FileSource:
    """A layout whose episodes are each read from one file alone (ALOHA, robomimic, MCAP):
    the file is the episode's only source file, and holds one episode unless the layout
    lists several."""

    name: str

    def episode_keys(self, path: Path) -> Sequence[str | None]:
        return [None]

    def source_files(self, path: Path, key: str | None) -> list[Path]:
        return [path]

    def result(self, path: Path, key: str | None, mapping: dict, given: dict[str, Any],
               streams: dict[str, Stream], cameras: dict[str, Camera],
               findings: list[Finding]) -> ReadResult:
        """The end of every read: unsafe names left out, the metadata (the file's, else the
        mapping's, else defaults) and the file's identity."""
        drop_unsafe_names(str(path) if key is None else f"{path}#{key}", streams, cameras,
                          findings)
        md = build_metadata(self.name, mapping, given, findings)
        return ReadResult(Episode(md, streams, cameras, source=SourceInfo(
            path.resolve(), sha256_file(path), path.stat().st_size, self.name,
            episode_key=key)), findings)
