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


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as fh:
                out += [int(x) for x in fh.read().split()]
    except OSError:
        pass
    return out


def _hwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _cpu_s(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
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
