"""The distributed executor on 1 and 2 workers (goal: ``ingest_speedup_2_workers`` >= 1.7).

200 short synthetic recordings (4 s, 50 Hz joints, 200 Hz IMU, one small stored camera) are
ingested as an operator runs it (``embodiq ingest``, a fresh process, a fresh store) through the
single-host recipe of docs/orchestration.md: PostgreSQL for the instance and the registry,
``deploy/single-host.sh N`` for the Redis broker and N ``dagster-celery`` workers. The ratio is
the end-to-end time with 1 worker over the time with 2. Beside it, where the time goes: the
ingest run itself (from the instance's run record) and the rest (finding and registering the
recordings, publishing the version and its report). Skipped, with the reason, on a machine
without PostgreSQL or Redis.
"""

from __future__ import annotations

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
    return len(app.control.inspect(timeout=1).ping() or {})


def timed_ingest(env: dict, inbox: Path, store: Path, n_workers: int, log: Path
                 ) -> tuple[float, float]:
    """Seconds of ``embodiq ingest`` with ``n_workers`` workers, and of its ingest run."""
    with open(log, "wb") as fh:
        cluster = subprocess.Popen([str(ROOT / "deploy" / "single-host.sh"), str(n_workers)],
                                   cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        while _ping(env["EMBODIQ_CELERY_BROKER"]) < n_workers:
            if cluster.poll() is not None:
                raise SystemExit(f"the workers did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        t = time.perf_counter()
        proc = subprocess.run([str(BIN / "embodiq"), "ingest", str(inbox), "--dataset", "bench",
                               "--store", str(store), "--quiet"], env=env, capture_output=True,
                              text=True)
        elapsed = time.perf_counter() - t
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-3000:])
            raise SystemExit(f"embodiq ingest exited {proc.returncode}")
    finally:
        os.killpg(cluster.pid, signal.SIGTERM)
        cluster.wait()
    return elapsed, _run_seconds(env, store)


def _run_seconds(env: dict, store: Path) -> float:
    os.environ["EMBODIQ_POSTGRES_URL"] = env["EMBODIQ_POSTGRES_URL"]
    from pipelines.runner import instance_for
    from pipelines.store import Store

    inst = instance_for(Store(store))
    total = 0.0
    for run in inst.get_runs():
        if run.job_name == "ingest_recording" and run.tags.get("embodiq/dataset") == "bench":
            stats = inst.get_run_stats(run.run_id)
            if stats.start_time and stats.end_time:
                total += stats.end_time - stats.start_time
    inst.dispose()
    return total


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
               "EMBODIQ_POSTGRES_URL": create_database(server, f"b_{uuid.uuid4().hex[:8]}"),
               "EMBODIQ_CELERY_BROKER": f"redis://127.0.0.1:{free_port()}/0"}
        times = {}
        for n in (1, 2):
            env["EMBODIQ_STORE"] = str(work / f"store-{n}")
            total, run = timed_ingest(env, inbox, work / f"store-{n}", n,
                                      work / f"workers-{n}.log")
            times[n] = total
            print(f"scale_ingest_s_{n}_workers={total:.2f}")
            print(f"# {n} worker(s): the ingest run {run:.1f} s, the rest (finding, "
                  f"registering, publishing) {total - run:.1f} s")
    print(f"ingest_speedup_2_workers={times[1] / times[2]:.2f}")
    print("# goal: ingest_speedup_2_workers >= 1.7")


if __name__ == "__main__":
    main()
