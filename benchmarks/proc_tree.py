"""A command's processes watched from /proc: peak memory and CPU time of each, workers included.

``embodiq check`` hands its recordings to worker processes started from a fork server, so the
figures of the command are those of a process tree, not of one process. The tree is polled
every 50 ms: peak RSS (VmHWM) is a high-water mark and CPU time only grows, so a poll misses at
most a process's last 50 ms.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from typing import IO


@dataclass
class TreeFigures:
    wall_s: float
    #: Peak RSS (MB) per process id, the command's own first.
    peaks_mb: dict[int, float] = field(default_factory=dict)
    #: CPU seconds per process id (user + system).
    cpu_s: dict[int, float] = field(default_factory=dict)
    stderr: str = ""

    @property
    def largest_mb(self) -> float:
        return max(self.peaks_mb.values(), default=0.0)

    @property
    def total_cpu_s(self) -> float:
        return sum(self.cpu_s.values())


def _read(path: str) -> str:
    """A /proc file's text; "" once the process is gone (any of them may end at any poll)."""
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    return [int(x) for t in tasks for x in _read(f"/proc/{pid}/task/{t}/children").split()]


def _hwm_mb(pid: int) -> float | None:
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024.0
    return None


def _cpu_s(pid: int) -> float | None:
    stat = _read(f"/proc/{pid}/stat")
    if ")" not in stat:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_watched(cmd: list[str], *, env: dict[str, str], cwd: str | os.PathLike[str],
                stdout: IO[str] | int = subprocess.DEVNULL) -> TreeFigures:
    """Run ``cmd`` to its end, polling its process tree."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE,
                            text=True)
    fig = TreeFigures(0.0)
    while proc.poll() is None:
        todo = [proc.pid]
        while todo:
            pid = todo.pop()
            mb, cpu = _hwm_mb(pid), _cpu_s(pid)
            if mb is not None:
                fig.peaks_mb[pid] = max(fig.peaks_mb.get(pid, 0.0), mb)
            if cpu is not None:
                fig.cpu_s[pid] = cpu
            todo += _children(pid)
        time.sleep(0.05)
    fig.stderr = proc.stderr.read() if proc.stderr else ""
    fig.wall_s = time.perf_counter() - t0
    return fig
