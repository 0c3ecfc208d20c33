"""Reading: every read of a recording in the pipeline goes through :func:`read_recording`,
which counts them, so the read-once rule can be checked."""

from __future__ import annotations

from collections import Counter

from pipelines.sources import SourceRef, read_source
from schemas.read_result import ReadResult

#: Recordings read by this process, by display name: the read-once rule is counted here.
_READS: Counter[str] = Counter()


def read_recording(ref: SourceRef, mapping: dict | None = None) -> ReadResult:
    """Read one episode through its adapter (every read in the pipeline goes through here)."""
    _READS[ref.display_name] += 1
    return read_source(ref, mapping)


def reads_so_far() -> int:
    """How many recordings this process has read since it started."""
    return sum(_READS.values())
