"""Child processes a test starts, does its own work beside, and then requires to succeed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from multiprocessing.process import BaseProcess

#: A safety net for a child that hangs, not a timing assertion.
PATIENCE_S = 60


@contextlib.contextmanager
def running(procs: Sequence[BaseProcess]) -> Iterator[None]:
    """Start ``procs``; once the block is done, wait for each and require exit code 0."""
    for p in procs:
        p.start()
    yield
    for p in procs:
        p.join(PATIENCE_S)
        assert p.exitcode == 0, f"{p.name} ended with exit code {p.exitcode}"
