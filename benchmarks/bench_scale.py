"""The distributed executor on 1 and 2 workers (goal: ``ingest_speedup_2_workers`` >= 1.7).

200 short synthetic recordings (4 s, 50 Hz joints, 200 Hz IMU, one small stored camera) are
ingested into a fresh store through the single-host recipe of docs/orchestration.md: PostgreSQL
for the instance and the registry, ``deploy/single-host.sh N`` for the Redis broker and N
``dagster-celery`` workers. The ratio is the whole ingest's time (finding, registering, the
distributed run, publishing the version and its report) with 1 worker over its time with 2,
each the best of ``REPEATS`` interleaved rounds, so a busy machine does not decide the ratio.
Each phase's time and the CPU seconds of each component (workers, broker, database, the
ingest's own process) are printed beside it, to show where the time goes. Skipped, with the
reason, on a machine without PostgreSQL or Redis.

Two baselines are measured in the same rounds, on the same recordings, 1 against 2 processes:
the same ingest on the in-process executor (this host's reading pool, no broker), and reading
and checking alone (what ``embodiq check`` does, nothing written). They show what two cores of
this machine give this work without the distributed executor. A third, a pure-Python CPU loop
in 1 against 2 processes, shows what the machine's second core gives any work at all in the same
rounds (a virtual machine's cores share their host: a busy neighbour shows here too).
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from pipelines.synthetic import CameraPlan, EpisodePlan, generate_episode  # noqa: E402
from robots.profile import get_profile  # noqa: E402
from schemas.recording_writer import write_recording  # noqa: E402

N_RECORDINGS = 200
REPEATS = 3
BIN = Path(sys.executable).parent


def missing() -> str | None:
    """Why the benchmark cannot run here, or None."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (Debian package 'redis-server')"
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "PostgreSQL is not installed (Debian package 'postgresql')"
    return None


def make_recordings(folder: Path) -> None:
    folder.mkdir(parents=True)
    h1 = get_profile("unitree-h1")
    for i in range(N_RECORDINGS):
        plan = EpisodePlan(duration_s=4.0, seed=i, robot_serial=f"H1A{i % 4:07d}",
                           cameras=(CameraPlan("cam_head", "rgb8"),))
        write_recording(generate_episode(h1, plan), folder / f"take_{i:03d}.h5")


def _ping(broker: str) -> int:
    from celery import Celery

    app = Celery("embodiq-bench", broker=broker, backend=broker)
    try:
        return len(app.control.inspect(timeout=1).ping() or {})
    except Exception:  # the broker is not up yet
        return 0
    finally:
        app.close()


def _procs() -> dict[int, tuple[int, float]]:
    """Every process: pid -> (parent pid, CPU seconds of it and of its reaped children)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            f = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(d.name)] = (int(f[1]), sum(int(x) for x in f[11:15]) / tick)
    return out


def _tree_cpu(procs: dict[int, tuple[int, float]], root: int) -> float:
    """CPU seconds of ``root`` and all its descendants, living or reaped."""
    kids: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in procs:
            total += procs[pid][1]
            todo.extend(kids.get(pid, []))
    return total


def _postmaster(url: str) -> int:
    """The pid of the PostgreSQL server listening on ``url``'s port."""
    port = url.rsplit(":", 1)[1].split("/", 1)[0]
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd[0].endswith(b"/postgres") and port.encode() in cmd:
                return int(d.name)
    raise SystemExit(f"no PostgreSQL server found on port {port}")


def _usage(cluster: int, postmaster: int) -> dict[str, float]:
    """CPU seconds so far of the workers, the broker, the database and this process."""
    procs = _procs()
    redis = [pid for pid, (ppid, _) in procs.items()
             if ppid == cluster and b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    broker = sum(_tree_cpu(procs, r) for r in redis)
    workers = _tree_cpu(procs, cluster) - broker
    return {"workers": workers, "broker": broker, "database": _tree_cpu(procs, postmaster),
            "ingest process": _tree_cpu(procs, os.getpid()) - workers - broker}


def _wait_gone(pgid: int) -> None:
    """Until every process of the group (the broker, the workers) has exited."""
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)


def timed_ingest(env: dict, inbox: Path, store: Path, n_workers: int, log: Path
                 ) -> tuple[float, dict[str, float]]:
    """Seconds of an ingest with ``n_workers`` workers, and of each of its phases."""
    from pipelines.runner import ingest
    from pipelines.store import Store

    os.environ.update(env)
    with open(log, "wb") as fh:
        cluster = subprocess.Popen([str(ROOT / "deploy" / "single-host.sh"), str(n_workers)],
                                   cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    phases: dict[str, float] = {}
    marks: list[tuple[str, float]] = []

    def progress(what: str, _done: int, _total: int) -> None:
        if what in ("finding recordings", "registering", "checking", "publishing"):
            marks.append((what, time.perf_counter()))

    try:
        while _ping(env["EMBODIQ_CELERY_BROKER"]) < n_workers:
            if cluster.poll() is not None:
                raise SystemExit(f"the workers did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        postmaster = _postmaster(env["EMBODIQ_POSTGRES_URL"])
        before, load = _usage(cluster.pid, postmaster), os.getloadavg()[0]
        t = time.perf_counter()
        marks.append(("starting", t))  # checking that a worker listens, loading the job
        summary = ingest(Store(store), [inbox], "bench", executor="celery",
                         on_progress=progress)
        elapsed = time.perf_counter() - t
        after = _usage(cluster.pid, postmaster)
        cpu = {k: after[k] - before[k] for k in after}
        print(f"# {n_workers} worker(s), CPU seconds: "
              + ", ".join(f"{k} {v:.0f}" for k, v in cpu.items())
              + f"; {sum(cpu.values()) / elapsed:.2f} of {os.cpu_count()} cores busy with the "
                f"ingest; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")
        if summary.run_failed:
            raise SystemExit(f"the ingest failed: {summary.run_errors or summary.publish_error}")
    finally:
        os.killpg(cluster.pid, signal.SIGTERM)
        cluster.wait()
        _wait_gone(cluster.pid)
    marks.append(("end", t + elapsed))
    for (what, start), (_, end) in itertools.pairwise(marks):
        phases[what] = phases.get(what, 0.0) + end - start
    return elapsed, phases


def timed_in_process(inbox: Path, store: Path, n_workers: int) -> float:
    """Seconds of the same ingest on the in-process executor with ``n_workers`` pool workers."""
    from pipelines.runner import ingest
    from pipelines.store import Store

    t = time.perf_counter()
    summary = ingest(Store(store), [inbox], "bench", executor="in-process", workers=n_workers)
    elapsed = time.perf_counter() - t
    if summary.run_failed:
        raise SystemExit(f"the ingest failed: {summary.run_errors or summary.publish_error}")
    return elapsed


def timed_check(inbox: Path, robots: tuple[str, ...], n_workers: int) -> float:
    """Seconds to read and check every recording on ``n_workers`` pool workers, writing
    nothing (what ``embodiq check`` does once started)."""
    from pipelines.processing import RecordingTask, discover_guarded, run_recordings
    from schemas.quality_profile import load_quality_profile

    t = time.perf_counter()
    refs, _ = discover_guarded([inbox], workers=n_workers)
    profile = load_quality_profile("default")
    tasks = [RecordingTask(ref=ref, profile=profile, robots_dirs=robots) for ref in refs]
    for _ in run_recordings(tasks, workers=n_workers):
        pass
    return time.perf_counter() - t


def _spin(n: int) -> int:
    """Pure CPU work: no memory traffic beyond the cache, no I/O, no lock."""
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


def timed_cpu(n_workers: int, loops: int = 8_000_000) -> float:
    """Seconds of 4 equal pure-CPU tasks on ``n_workers`` processes."""
    import multiprocessing as mp

    t = time.perf_counter()
    pool = mp.get_context("fork").Pool(n_workers)
    try:
        pool.map(_spin, [loops] * 4, chunksize=1)
    finally:  # the workers end on their own: no signal reaches them
        pool.close()
        pool.join()
    return time.perf_counter() - t


def main() -> None:
    why = missing()
    if why:
        print(f"# bench_scale skipped: {why}")
        return
    from tests.servers import create_database, free_port, postgres_server

    with tempfile.TemporaryDirectory() as tmp, postgres_server() as server:
        work = Path(tmp)
        t = time.perf_counter()
        inbox = work / "inbox"
        make_recordings(inbox)
        size = sum(p.stat().st_size for p in inbox.iterdir()) / 1e6
        print(f"# {N_RECORDINGS} recordings written in {time.perf_counter() - t:.1f} s "
              f"({size:.0f} MB)")
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
               "PYTHONPATH": str(ROOT),
               "EMBODIQ_POSTGRES_URL": create_database(server, f"b_{uuid.uuid4().hex[:8]}")}
        # warm this process up (imports, the reading pool, the instance's tables) so that
        # neither measurement pays for the first use
        os.environ["EMBODIQ_POSTGRES_URL"] = env["EMBODIQ_POSTGRES_URL"]
        from pipelines.processing import discover_guarded
        from pipelines.processing.pool import REPORT_MODULES, preload_also
        from pipelines.runner import instance_for
        from pipelines.store import Store

        preload_also(REPORT_MODULES)  # as `embodiq ingest` does, before its workers start
        discover_guarded([inbox])
        instance_for(Store(work / "warm")).dispose()
        import pipelines.definitions
        import pipelines.executors  # noqa: F401  (the job the first measured ingest loads)
        from pipelines.processing import robot_dirs

        robots = robot_dirs(Store(work / "warm"))
        times: dict[int, float] = {}
        runs: dict[int, float] = {}
        local: dict[int, float] = {}  # the in-process executor's ingest
        checks: dict[int, float] = {}  # reading and checking alone
        cpu: dict[int, float] = {}  # the machine's own ceiling
        for i in range(REPEATS):  # interleaved, best kept: a busy machine does not decide
            for n in (1, 2):
                store = work / f"local-{n}-{i}"
                local[n] = min(local.get(n, float("inf")), timed_in_process(inbox, store, n))
                checks[n] = min(checks.get(n, float("inf")), timed_check(inbox, robots, n))
                cpu[n] = min(cpu.get(n, float("inf")), timed_cpu(n))
                print(f"# baselines, {n} worker(s), round {i + 1}: in-process ingest "
                      f"{local[n]:.1f} s, reading and checking {checks[n]:.1f} s, CPU loop "
                      f"{cpu[n]:.2f} s (best so far)")
                shutil.rmtree(store, ignore_errors=True)
                store = work / f"store-{n}-{i}"
                env["EMBODIQ_STORE"] = str(store)
                env["EMBODIQ_CELERY_BROKER"] = f"redis://127.0.0.1:{free_port()}/0"
                total, phases = timed_ingest(env, inbox, store, n, work / f"workers-{n}.log")
                print(f"# {n} worker(s), round {i + 1}: {total:.1f} s: "
                      + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))
                if total < times.get(n, float("inf")):
                    times[n], runs[n] = total, phases.get("checking", 0.0)
                shutil.rmtree(store, ignore_errors=True)
        for n in (1, 2):
            print(f"scale_ingest_s_{n}_workers={times[n]:.2f}")
    print(f"ingest_speedup_2_workers={times[1] / times[2]:.2f}")
    print(f"ingest_run_speedup_2_workers={runs[1] / runs[2]:.2f}")
    print("# (the distributed run alone: finding, registering and publishing run in the "
          "ingest's own process whatever the number of workers)")
    print(f"in_process_ingest_speedup_2_workers={local[1] / local[2]:.2f}")
    print(f"check_speedup_2_workers={checks[1] / checks[2]:.2f}")
    print(f"cpu_speedup_2_processes={cpu[1] / cpu[2]:.2f}")
    print("# (baselines on the same recordings: the same ingest on this host's reading pool, "
          "and reading and checking alone; and what a second core gives a pure CPU loop here, "
          "the ceiling of any work on this machine in these rounds)")
    print("# goal: ingest_speedup_2_workers >= 1.7")


if __name__ == "__main__":
    main()
