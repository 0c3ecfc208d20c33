"""What an export is made of: the selected episode slices, the summary, and the one error type."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ExportError(ValueError):
    """The export cannot be made as asked; the message says why in one sentence."""


@dataclass
class EpisodeSlice:
    """One selected episode: its ``episodes.parquet`` row, its split and the frames kept.

    ``start``/``stop`` index the published frames of the episode (``stop`` exclusive); they are
    narrower than the whole episode only with ``--trim-idle``.
    """

    row: dict[str, Any]
    split: str
    start: int
    stop: int

    @property
    def uid(self) -> str:
        return self.row["episode_uid"]

    @property
    def label(self) -> str:
        """A short name for progress lines."""
        return self.row.get("source_name") or self.uid


@dataclass
class ExportSummary:
    """What was written where; ``command`` is the command line that reproduces it."""

    out: Path
    fmt: str
    dataset: str
    version: int
    episodes: int
    frames: int
    fps: float
    splits: dict[str, int] = field(default_factory=dict)
    command: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "format": self.fmt, "dataset": self.dataset,
                "version": self.version, "episodes": self.episodes, "frames": self.frames,
                "fps": self.fps, "splits": self.splits, "command": self.command}
