"""Helpers to run ingests in processes of their own and watch them (concurrent publishes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipelines.store import Store

REPO = Path(__file__).resolve().parents[2]
#: A safety net for waits on other processes, not a timing assertion.
PATIENCE_S = 900


def ingest_proc(store: Store, inbox: Path, dataset: str, env_extra: dict | None = None, *,
                umask: int | None = None, export_to: Path | None = None,
                workers: int | None = None) -> subprocess.Popen:
    """``ingest`` of ``inbox`` into ``dataset`` in a new process (exit 1 when the run failed),
    optionally under ``umask`` and followed by a Parquet export to ``export_to``."""
    store_arg = f"Store({str(store.root)!r})"
    code = (
        "import os, sys; from pathlib import Path\n"
        + (f"os.umask({umask})\n" if umask is not None else "")
        + "from pipelines.store import Store\nfrom pipelines.runner import ingest\n"
        f"s = ingest({store_arg}, [Path({str(inbox)!r})], {dataset!r}, write_report=False"
        + (f", workers={workers}" if workers is not None else "") + ")\n"
        + ("from pipelines.export.core import export_dataset\n"
           f"export_dataset({store_arg}, {dataset!r}, 'parquet', {str(export_to)!r})\n"
           if export_to is not None else "")
        + "sys.exit(1 if s.run_failed else 0)\n"
    )
    env = {**os.environ, **(env_extra or {}), "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def process_state(pid: int) -> str:
    """The kernel's state letter of a process (T: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def finish(proc: subprocess.Popen) -> None:
    """Wait for ``proc``; it must succeed (its stderr's end is the message otherwise)."""
    _out, errs = proc.communicate(timeout=PATIENCE_S)
    assert proc.returncode == 0, errs.decode()[-3000:]
