"""The worker pool: functions run over many items on worker processes under a watchdog, so
one file that hangs the HDF5 library costs one worker, never the batch; recordings go to the
workers in chunks."""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.processing.recording import (
    RecordingOutcome,
    RecordingTask,
    process_recording,
    stopped_outcome,
)
from schemas.findings import Finding
from schemas.quality_profile import QualityProfile

#: Seconds one recording may take in its worker (layout detection and reading included)
#: before the worker is stopped and the recording reported as unreadable.
DEFAULT_TIMEOUT_S = 300.0


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


#: The most worker processes per core a command may start: past a few per core reading only
#: queues for the cores, and each worker is a process of its own, so a slip such as
#: ``--workers 100000`` must be refused, not fork until the machine runs out of memory.
MAX_WORKERS_PER_CORE = 8


def workers_problem(workers: int, what: str = "--workers") -> str | None:
    """Why ``workers`` processes cannot be started here, or None."""
    most = MAX_WORKERS_PER_CORE * default_workers()
    if workers < 1:
        return f"{what} {workers}: at least 1 worker is needed"
    if workers > most:
        return (f"{what} {workers}: at most {most} on this machine ({MAX_WORKERS_PER_CORE} per "
                f"core; more only queue for the cores)")
    return None


_POOLS: dict[int, Any] = {}
_POOLS_LOCK = threading.Lock()

#: What drawing a report's figures imports (matplotlib and pyplot, about a second):
#: preloaded by the fork server of the commands that write reports, never by ``embodiq check``.
REPORT_MODULES = ("pipelines.report.pyplot",)

#: Modules the fork server imports on top of :func:`worker_modules`.
_EXTRA_PRELOAD: list[str] = []
#: Whether the fork server imports only :data:`_EXTRA_PRELOAD` (a command whose workers never
#: read a recording).
_ONLY_EXTRA: list[bool] = [False]


def preload_also(modules: Sequence[str], *, start: bool = False, only: bool = False) -> None:
    """Have the workers' fork server import ``modules`` too, so no worker imports them again.

    Only counts before the fork server of this process first starts (the first pool, or
    ``start``). With ``start`` it is started now, without waiting for it: it imports what the
    workers need while this process goes on with its own imports. With ``only`` it imports
    ``modules`` and not the reading and checking code (:func:`worker_modules`), for a command
    whose workers only draw figures; a worker given a recording all the same imports what it
    needs then.
    """
    _EXTRA_PRELOAD.extend(m for m in modules if m not in _EXTRA_PRELOAD)
    _ONLY_EXTRA[0] = _ONLY_EXTRA[0] or only
    if start:
        from multiprocessing import forkserver

        _set_preload()
        forkserver.ensure_running()


def _set_preload() -> None:
    multiprocessing.get_context("forkserver").set_forkserver_preload(
        [*([] if _ONLY_EXTRA[0] else worker_modules()), *_EXTRA_PRELOAD])


def worker_modules() -> list[str]:
    """What the workers' fork server imports once, so no worker imports it again: the reading
    and checking code (numba, pyarrow, OpenCV and the check catalogue). The process that
    starts the pool imports none of it: it only hands out work and collects verdicts."""
    import pkgutil

    import checks.catalog
    import pipelines.adapters
    import pipelines.processing

    return ["pipelines.processing",
            *(f"pipelines.processing.{m.name}"
              for m in pkgutil.iter_modules(pipelines.processing.__path__)),
            "checks.digest", "pipelines.frames",
            *(f"checks.catalog.{m.name}" for m in pkgutil.iter_modules(checks.catalog.__path__)),
            *(f"pipelines.adapters.{m.name}"
              for m in pkgutil.iter_modules(pipelines.adapters.__path__))]


def loaded_modules(names: Sequence[str]) -> list[str]:
    """Which of ``names`` this process has imported; run on a worker, it tells what the
    fork server preloaded (and what the worker's tasks imported)."""
    import sys

    return [n for n in names if n in sys.modules]


def _worker_init() -> None:
    """Ctrl-C is for the parent: it stops the run; a worker killed by it would otherwise read
    as a recording that killed its worker, and be quarantined."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool(workers: int) -> Any:
    """A pool of ``workers`` processes, kept for the life of this process.

    Workers fork from a server that has imported the pipeline once (``forkserver``), so a
    replacement for a stopped worker is ready in milliseconds, and no worker inherits the
    parent's threads (Dagster's, SQLite's) mid-flight. A count past
    :data:`MAX_WORKERS_PER_CORE` per core (a resource configured by hand) is refused here too.
    """
    if (why := workers_problem(workers, "workers")) is not None:
        raise ValueError(why)
    with _POOLS_LOCK:  # a warm-up thread may be starting it too (warm_up)
        pool = _POOLS.get(workers)
        if pool is None or not pool.active:
            pool = _POOLS[workers] = _new_pool(workers)
        return pool


def warm_up(workers: int) -> list[TaskResult]:
    """Start the pool of ``workers`` now and have its processes load the check kernels, so a
    long-lived process's first recordings are no slower than the rest
    (:mod:`pipelines.processing.warmup`)."""
    from pipelines.processing.warmup import warm_checks

    return run_tasks(warm_checks, [None] * workers, workers=workers)


def _new_pool(workers: int) -> Any:
    from pebble import ProcessPool

    ctx = multiprocessing.get_context("forkserver")
    _set_preload()
    return ProcessPool(max_workers=workers, context=ctx, initializer=_worker_init)


@atexit.register
def shutdown_pools() -> None:
    for pool in _POOLS.values():
        pool.stop()
        pool.join()
    _POOLS.clear()


@dataclass
class TaskResult:
    status: str  # "ok", "stopped" (timeout or worker death) or "error" (the function raised)
    value: Any = None
    why: str = ""


def iter_tasks(fn: Callable[[Any], Any], items: Sequence[Any], *, workers: int | None = None,
               timeout: float | None = DEFAULT_TIMEOUT_S,
               timeout_of: Callable[[Any], int] | None = None
               ) -> Iterator[tuple[int, TaskResult]]:
    """``fn(item)`` for every item on the worker pool, yielded as they finish.

    A task running longer than ``timeout`` seconds (times ``timeout_of(item)``, for an item
    that bundles several units of work) has its worker killed and replaced; it and a task
    whose worker died come back as ``stopped``, and the others go on.
    """
    if items:
        yield from start_tasks(fn, items, workers=workers, timeout=timeout,
                               timeout_of=timeout_of)


def start_tasks(fn: Callable[[Any], Any], items: Sequence[Any], *, workers: int | None = None,
                timeout: float | None = DEFAULT_TIMEOUT_S,
                timeout_of: Callable[[Any], int] | None = None
                ) -> Iterator[tuple[int, TaskResult]]:
    """Like :func:`iter_tasks`, but the tasks go to the pool now, before the first result
    is asked for: the caller does its own work meanwhile, then collects."""
    if not items:
        return iter(())
    pool = _pool(workers or default_workers())

    def limit(item: Any) -> float | None:
        return timeout * timeout_of(item) if timeout is not None and timeout_of else timeout

    futures = {pool.schedule(fn, args=(item,), timeout=limit(item)): i
               for i, item in enumerate(items)}
    return _results(futures, timeout)


def _results(futures: dict[Any, int], timeout: float | None
             ) -> Iterator[tuple[int, TaskResult]]:
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures import as_completed

    from pebble import ProcessExpired

    for fut in as_completed(futures):
        i = futures[fut]
        try:
            res = TaskResult("ok", fut.result())
        except FutureTimeout:
            res = TaskResult("stopped", why=f"reading it did not finish within {timeout:g} s "
                                            "(the worker was stopped)")
        except ProcessExpired as exc:
            res = TaskResult("stopped", why=f"the worker reading it died "
                                            f"(exit code {exc.exitcode})")
        except Exception as exc:
            res = TaskResult("error", exc, f"{type(exc).__name__}: {exc}")
        yield i, res


def run_tasks(fn: Callable[[Any], Any], items: Sequence[Any], *, workers: int | None = None,
              timeout: float | None = DEFAULT_TIMEOUT_S) -> list[TaskResult]:
    """Like :func:`iter_tasks`, results in the items' order."""
    out: list[TaskResult] = [TaskResult("error")] * len(items)
    for i, res in iter_tasks(fn, items, workers=workers, timeout=timeout):
        out[i] = res
    return out


def run_recordings(tasks: Sequence[RecordingTask], *, workers: int | None = None,
                   timeout: float | None = DEFAULT_TIMEOUT_S
                   ) -> Iterator[tuple[int, RecordingOutcome]]:
    """:func:`process_recording` over many recordings in parallel, yielded as they finish.

    The outcome of a recording does not depend on the others, on the number of workers or on
    the order they finish in.
    """
    n_workers = workers or default_workers()
    chunks = recording_chunks(tasks, n_workers)
    items = [[tasks[i] for i in chunk] for chunk in chunks]
    retry: list[int] = []
    # a chunk may take as long as its recordings together; each gets its own watchdog below
    # when the chunk is stopped
    for c, res in iter_tasks(_process_chunk, items, workers=n_workers, timeout=timeout,
                             timeout_of=len):
        if res.status == "ok":
            for i, (status, value, why) in zip(chunks[c], res.value, strict=True):
                yield i, _outcome(tasks[i], TaskResult(status, value, why))
        elif len(chunks[c]) == 1:
            yield chunks[c][0], _outcome(tasks[chunks[c][0]], res)
        else:  # a worker stopped or died inside a chunk: its recordings go again, one by one
            retry += chunks[c]
    if retry:
        for j, res in iter_tasks(process_recording, [tasks[i] for i in retry],
                                 workers=n_workers, timeout=timeout):
            yield retry[j], _outcome(tasks[retry[j]], res)


def _outcome(task: RecordingTask, res: TaskResult) -> RecordingOutcome:
    if res.status == "ok":
        return res.value
    if res.status == "stopped":
        return stopped_outcome(task, res.why)
    # like an adapter that raises: the recording is unreadable, and kept
    return stopped_outcome(task, f"processing it failed ({res.why})")


#: Most episodes of one multi-episode source a worker takes at a time (the LeRobot reader
#: reads this many episode files ahead).
CHUNK_EPISODES = 64


def recording_chunks(tasks: Sequence[RecordingTask], workers: int) -> list[list[int]]:
    """Task indices grouped for the pool: consecutive episodes of one multi-episode source
    (a LeRobot dataset) go to one worker together, so it reads their files in one pass and the
    pool's per-task cost is paid once per chunk; every other recording is a chunk of its own.
    Chunks stay small enough (about four per worker) to keep all workers busy to the end."""
    runs: list[list[int]] = []
    for i, t in enumerate(tasks):
        prev = tasks[runs[-1][-1]] if runs else None
        if (prev is not None and t.ref.episode_key is not None
                and prev.ref.episode_key is not None and prev.ref.path == t.ref.path
                and prev.ref.layout == t.ref.layout):
            runs[-1].append(i)
        else:
            runs.append([i])
    out: list[list[int]] = []
    for run in runs:
        size = max(1, min(CHUNK_EPISODES, -(-len(run) // (4 * max(1, workers)))))
        out += [run[k:k + size] for k in range(0, len(run), size)]
    return out


def _process_chunk(chunk: list[RecordingTask]) -> list[tuple[str, Any, str]]:
    """:func:`process_recording` over a chunk in one worker; a recording that raises is
    reported as such and the others go on."""
    out: list[tuple[str, Any, str]] = []
    for task in chunk:
        try:
            out.append(("ok", process_recording(task), ""))
        except Exception as exc:
            out.append(("error", None, f"{type(exc).__name__}: {exc}"))
    return out


def _dataset_task(item: tuple[list[dict[str, Any]], QualityProfile]) -> list[Finding]:
    from checks.digest import EpisodeDigest
    from checks.registry import run_dataset_checks

    digests, profile = item
    # each dict is dropped as its digest is built: the two forms of thousands of digests
    # never sit in memory together
    digests.reverse()
    built = []
    while digests:
        built.append(EpisodeDigest.from_dict(digests.pop()))
    return run_dataset_checks(built, profile)


def dataset_findings(digests: list[dict[str, Any]], profile: QualityProfile, *,
                     workers: int | None = None) -> list[Finding]:
    """The dataset checks over episode digests (as :meth:`EpisodeDigest.to_dict` gives them,
    in recording order), run on a worker: that is where the check catalogue is loaded."""
    if len(digests) < 2:
        return []
    # a fresh worker: one that has just read thousands of episodes (and decoded their videos)
    # would add the digests to its own high-water mark
    pool = _new_pool(1)
    try:
        return pool.schedule(_dataset_task, args=((digests, profile),)).result()
    finally:
        pool.stop()
        pool.join()
