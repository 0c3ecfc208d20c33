"""The distributed executor on real servers: the single-host recipe of docs/orchestration.md
(PostgreSQL, a Redis broker, two ``dagster-celery`` workers), run command for command.

An ingest through the workers publishes exactly what the in-process ingest publishes, and a
worker process killed while it runs a step loses nothing: the step runs again on a worker, every
episode is published once, in one version.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from pipelines.demo import DEMO_SET
from pipelines.runner import ingest, instance_for
from pipelines.store import Store
from pipelines.synthetic import CameraPlan, EpisodePlan, generate_episode
from robots.profile import get_profile
from schemas.recording_writer import write_recording
from tests.servers import create_database, free_port, postgres_server

pytestmark = [pytest.mark.scale, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: A safety net for waits on other processes, not a timing assertion.
PATIENCE_S = 600
RECIPE_MARK = "<!-- single-host recipe"


def recipe() -> tuple[dict[str, str], list[list[str]]]:
    """The recipe's exported variables and its commands, as docs/orchestration.md gives them."""
    doc = (REPO / "docs" / "orchestration.md").read_text()
    block = doc.split(RECIPE_MARK, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    exports, commands = {}, []
    for line in filter(None, (x.strip() for x in block.splitlines())):
        if line.startswith("export "):
            name, value = line.removeprefix("export ").split("=", 1)
            exports[name] = value
        else:
            commands.append(shlex.split(line))
    return exports, commands


@dataclass
class Cluster:
    env: dict[str, str]
    store: Store
    broker: str
    ingest_cmd: list[str]
    log: Path

    def ingest_argv(self, inbox: Path, dataset: str) -> list[str]:
        """The recipe's ingest command for these recordings and this dataset."""
        argv = list(self.ingest_cmd)
        argv[2] = str(inbox)
        argv[argv.index("--dataset") + 1] = dataset
        return argv

    def ingest(self, inbox: Path, dataset: str) -> subprocess.Popen:
        return subprocess.Popen(self.ingest_argv(inbox, dataset), env=self.env, cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _celery(broker: str):
    from celery import Celery

    return Celery("embodiq-test", broker=broker, backend=broker)


def _wait_for(cond, what: str):
    deadline = time.monotonic() + PATIENCE_S
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


def _stop_group(proc: subprocess.Popen, patience_s: float) -> None:
    """Stop the process group ``proc`` leads (a worker, or the whole recipe): asked first,
    killed if it has not exited after ``patience_s``."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=patience_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package 'redis-server'; make test "
                    "installs it)")
    exports, commands = recipe()
    assert set(exports) == {"EMBODIQ_STORE", "EMBODIQ_POSTGRES_URL", "EMBODIQ_CELERY_BROKER"}
    script, ingest_cmd = commands
    assert script[0] == "deploy/single-host.sh" and ingest_cmd[:2] == ["embodiq", "ingest"]
    with postgres_server() as server:
        root = tmp_path_factory.mktemp("celery")
        broker = f"redis://127.0.0.1:{free_port()}/0"
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
               "PYTHONPATH": str(REPO), "EMBODIQ_STORE": str(root / "store"),
               "EMBODIQ_POSTGRES_URL": create_database(server, f"inst_{uuid.uuid4().hex[:8]}"),
               "EMBODIQ_CELERY_BROKER": broker}
        log = root / "single-host.log"
        with open(log, "wb") as fh:
            proc = subprocess.Popen(script, cwd=REPO, env=env, stdout=fh,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            app = _celery(broker)
            n = int(script[1])
            _wait_for(lambda: proc.poll() is not None or
                      len(app.control.inspect(timeout=1).ping() or {}) >= n,
                      f"{n} workers to answer")
            assert proc.poll() is None, log.read_text()[-3000:]
            yield Cluster(env, Store(root / "store"), broker, ingest_cmd, log)
        finally:
            _stop_group(proc, 120)


def _inbox(recordings: Path, dst: Path, picked: list[str]) -> Path:
    dst.mkdir(parents=True)
    for p in recordings.iterdir():
        if any(p.name == f or p.name.startswith(f.removesuffix(".h5") + ".") for f in picked):
            shutil.copy2(p, dst / p.name)
    return dst


def _manifest(store: Store, dataset: str) -> dict:
    return json.loads((store.version_dir(dataset) / "manifest.json").read_text())


def _instance(cluster: Cluster, monkeypatch):
    monkeypatch.setenv("EMBODIQ_POSTGRES_URL", cluster.env["EMBODIQ_POSTGRES_URL"])
    return instance_for(cluster.store)


def _finish(proc: subprocess.Popen) -> str:
    out, errs = proc.communicate(timeout=PATIENCE_S)
    assert proc.returncode == 0, (out + errs)[-4000:]
    return out


def test_recipe_script_is_the_one_shipped():
    _, commands = recipe()
    assert (REPO / commands[0][0]).is_file() and os.access(REPO / commands[0][0], os.X_OK)


def test_celery_ingest_publishes_what_the_in_process_ingest_publishes(
        cluster, recordings, tmp_path, monkeypatch, recwarn):
    picked = [r.file for r in DEMO_SET if r.defect in (None, "value.nonfinite",
                                                       "time.gap")][:6]
    inbox = _inbox(recordings, tmp_path / "inbox", picked)
    monkeypatch.delenv("EMBODIQ_POSTGRES_URL", raising=False)
    monkeypatch.delenv("EMBODIQ_CELERY_BROKER", raising=False)
    local = Store(tmp_path / "local")
    a = ingest(local, [inbox], "pick-cup", write_report=False, workers=2)
    assert a.publish_error is None and not a.run_failed

    out = _finish(cluster.ingest(inbox, "pick-cup"))
    assert "published new version v0001 of 'pick-cup': 6 episodes" in out
    assert _manifest(cluster.store, "pick-cup")["content_key"] == \
        _manifest(local, "pick-cup")["content_key"]

    # the recordings were processed in chunk steps, by both workers
    inst = _instance(cluster, monkeypatch)
    run = next(r for r in inst.get_runs() if r.job_name == "ingest_recording"
               and r.tags.get("embodiq/dataset") == "pick-cup")
    workers, seen = {}, []
    for rec in inst.all_logs(run.run_id):
        ev = rec.dagster_event
        if ev is not None and ev.event_type_value == "ENGINE_EVENT":
            md = ev.engine_event_data.metadata
            seen.append((ev.step_key, ev.message, sorted(md)))
            if ev.step_key and "Celery worker" in md:
                workers[ev.step_key] = md["Celery worker"].value
    chunks = {k: w for k, w in workers.items() if ".ingest_chunk[" in k}
    assert len(chunks) == 2 and len(set(chunks.values())) == 2, seen

    # each recording's verdict, as the workers sent it back, is the in-process ingest's
    monkeypatch.setenv("EMBODIQ_CELERY_BROKER", cluster.broker)
    b = ingest(cluster.store, [inbox], "pick-cup-again", write_report=False)
    assert b.runs == 1 and not b.run_failed
    verdicts = lambda s: sorted((o.source_name, o.grade, o.passed, o.reads, o.reason, o.run_ok)  # noqa: E731
                                for o in s.outcomes)
    assert verdicts(b) == verdicts(a)
    assert {o.passed for o in b.outcomes} == {True, False}
    # dagster-celery registering its task again for each step is not the user's to hear about
    assert not [w for w in recwarn if "is already registered" in str(w.message)]


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (none once it is gone)."""
    try:
        return [int(x) for t in Path(f"/proc/{pid}/task").iterdir()
                for x in (t / "children").read_text().split()]
    except OSError:
        return []


def _is_fork_server(pid: int) -> bool:
    try:
        return b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _warmed_pool_under(root: int) -> bool:
    """Whether a process below ``root`` is a reading worker: a child of the fork server that
    the worker's pool starts (before its first step only when it warms up)."""
    todo = [root]
    while todo:
        pid = todo.pop()
        kids = _children(pid)
        if _is_fork_server(pid) and any(_is_fork_server(k) for k in kids):
            return True
        todo.extend(kids)
    return False


def test_a_new_worker_warms_up_before_its_first_step(cluster):
    """A worker that has run no step yet already has its reading pool started (and the check
    kernels loaded), so its first step is no slower than the others."""
    proc = subprocess.Popen([str(BIN / "embodiq"), "worker", "--name", "warm-up-probe"],
                            env=cluster.env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for(lambda: proc.poll() is not None or _warmed_pool_under(proc.pid),
                  "the new worker's pool")
        assert proc.poll() is None
    finally:
        _stop_group(proc, 60)


def _active_chunks(app) -> dict[int, str]:
    """The worker processes running an ``ingest_chunk`` step now: pid -> step key."""
    out = {}
    # both workers answer within milliseconds: wait for their two replies, not the whole timeout
    for tasks in (app.control.inspect(timeout=2, limit=2).active() or {}).values():
        for t in tasks:
            args = (t.get("kwargs") or {}).get("execute_step_args_packed") or {}
            for key in args.get("step_keys_to_execute") or []:
                if ".ingest_chunk[" in key:
                    out[int(t["worker_pid"])] = key
    return out


def _step_events(inst, dataset: str, event_type: str) -> list[str]:
    """The step keys of the ``event_type`` events of the dataset's ingest run so far."""
    runs = [r for r in inst.get_runs() if r.job_name == "ingest_recording"
            and r.tags.get("embodiq/dataset") == dataset]
    return [r.dagster_event.step_key for run in runs for r in inst.all_logs(run.run_id)
            if r.dagster_event and r.dagster_event.event_type_value == event_type]


def _kill_mid_step(app, inst, dataset: str) -> str | None:
    """SIGKILL a worker process in the middle of a chunk step; the step's key (None: none is
    running now). The process is stopped first, so the step cannot finish meanwhile: it is
    killed only if the step has started and not succeeded."""
    for pid in _active_chunks(app):
        os.kill(pid, signal.SIGSTOP)
        step = _active_chunks(app).get(pid)
        if step and step in _step_events(inst, dataset, "STEP_START") and \
                step not in _step_events(inst, dataset, "STEP_SUCCESS"):
            os.kill(pid, signal.SIGKILL)
            return step
        os.kill(pid, signal.SIGCONT)
    return None


def _long_takes(folder: Path, n: int) -> list[str]:
    """``n`` clean 20 s takes with a 320x240 video each: with 16 of them, two chunk steps of
    eight that last seconds, so a worker is caught in the middle of one however warm it is."""
    h1 = get_profile("unitree-h1")
    for i in range(n):
        plan = EpisodePlan(duration_s=20.0, seed=100 + i, cameras=(
            CameraPlan("cam_head", "video", width=320, height=240),))
        write_recording(generate_episode(h1, plan), folder / f"take_{i:02d}.h5")
    return [f"take_{i:02d}.h5" for i in range(n)]


def test_a_worker_killed_mid_step_loses_nothing(cluster, tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    picked = _long_takes(inbox, 16)
    inst = _instance(cluster, monkeypatch)
    proc = cluster.ingest(inbox, "killed")
    app = _celery(cluster.broker)
    step = _wait_for(lambda: proc.poll() is not None or _kill_mid_step(app, inst, "killed"),
                     "a worker process to kill in the middle of a chunk step")
    assert proc.poll() is None, "the ingest ended before a step could be interrupted"
    _finish(proc)

    store = cluster.store
    assert store.versions("killed") == [1]
    eps = pl.read_parquet(store.version_dir("killed") / "episodes.parquet")
    assert sorted(eps["source_name"]) == sorted(picked)
    assert eps["episode_uid"].n_unique() == len(picked)
    # the killed step ran again, to the end, on a worker; the run succeeded
    starts = _step_events(inst, "killed", "STEP_START")
    assert starts.count(step) == 2, starts
    assert _step_events(inst, "killed", "STEP_SUCCESS").count(step) == 1
    run = next(r for r in inst.get_runs() if r.job_name == "ingest_recording"
               and r.tags.get("embodiq/dataset") == "killed")
    assert run.status.value == "SUCCESS"

    # the ingest run again (an operator's retry): nothing new, nothing lost
    out = _finish(cluster.ingest(inbox, "killed"))
    assert "unchanged, still v0001" in out
    assert store.versions("killed") == [1]
