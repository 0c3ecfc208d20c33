"""A whole host that vanishes in the middle of a distributed step loses nothing.

Unlike a worker process that dies (its worker gives the task back at once), a host that
vanishes takes its worker with it: the step's task stays unacknowledged in Redis until the
broker's visibility timeout (``EMBODIQ_CELERY_VISIBILITY_TIMEOUT``) gives it to another worker.
Here the "host" is a worker started in a process group of its own, with its pool and reader
processes; the whole group is frozen mid-step and killed, and a worker on another "host" starts
afterwards. The run completes, every recording is published once, in one version.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import polars as pl
import pytest

from pipelines.executor_settings import VISIBILITY_ENV, celery_settings
from pipelines.runner import instance_for
from pipelines.store import Store
from tests.scale.test_celery_executor import (
    _celery,
    _finish,
    _long_takes,
    _step_events,
    _wait_for,
)
from tests.servers import create_database, free_port, postgres_server

pytestmark = [pytest.mark.scale, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VISIBILITY_S = 8


def _host(env: dict[str, str], name: str, log: Path) -> subprocess.Popen:
    """A worker in a process group of its own: its "host"."""
    with open(log, "ab") as fh:
        return subprocess.Popen([str(BIN / "embodiq"), "worker", "--name", name], cwd=REPO,
                                env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _answering(broker: str) -> int:
    try:
        return len(_celery(broker).control.inspect(timeout=1).ping() or {})
    except Exception:  # the broker is starting
        return 0


def _vanish_mid_step(host: subprocess.Popen, inst, dataset: str) -> str | None:
    """Freeze the host's whole process group; if one of its chunk steps has started and not
    finished, kill the group (the host is gone) and return that step, else let it go on."""
    os.killpg(host.pid, signal.SIGSTOP)
    started = _step_events(inst, dataset, "STEP_START")
    done = set(_step_events(inst, dataset, "STEP_SUCCESS"))
    running = [s for s in started if ".ingest_chunk[" in s and s not in done]
    if running:
        os.killpg(host.pid, signal.SIGKILL)
        return running[0]
    os.killpg(host.pid, signal.SIGCONT)
    return None


def test_visibility_timeout_is_checked():
    os.environ.pop(VISIBILITY_ENV, None)
    assert "broker_transport_options" not in celery_settings()
    for bad in ("0", "-3", "soon"):
        os.environ[VISIBILITY_ENV] = bad
        with pytest.raises(ValueError, match=VISIBILITY_ENV):
            celery_settings()
    os.environ[VISIBILITY_ENV] = "90"
    try:
        assert celery_settings()["broker_transport_options"] == {"visibility_timeout": 90.0}
    finally:
        os.environ.pop(VISIBILITY_ENV)


def test_a_host_that_vanishes_mid_step_loses_nothing(tmp_path, monkeypatch):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package 'redis-server'; make test "
                    "installs it)")
    inbox = tmp_path / "inbox"
    picked = _long_takes(inbox, 8)  # two chunk steps of four
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    with postgres_server() as server:
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
               "PYTHONPATH": str(REPO), "EMBODIQ_STORE": str(tmp_path / "store"),
               "EMBODIQ_POSTGRES_URL": create_database(server, f"host_{uuid.uuid4().hex[:8]}"),
               "EMBODIQ_CELERY_BROKER": broker, VISIBILITY_ENV: str(VISIBILITY_S)}
        redis = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                                  "--save", "", "--appendonly", "no"],
                                 stdout=subprocess.DEVNULL, start_new_session=True)
        log = tmp_path / "workers.log"
        hosts = [_host(env, "host-a", log)]
        try:
            _wait_for(lambda: _answering(broker) >= 1, "the first host's worker to answer")
            monkeypatch.setenv("EMBODIQ_POSTGRES_URL", env["EMBODIQ_POSTGRES_URL"])
            store = Store(tmp_path / "store")
            inst = instance_for(store)
            proc = subprocess.Popen([str(BIN / "embodiq"), "ingest", str(inbox), "--dataset",
                                     "vanish"], env=env, cwd=REPO, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            step = _wait_for(lambda: proc.poll() is not None or
                             _vanish_mid_step(hosts[0], inst, "vanish"),
                             "a chunk step to start on the first host")
            assert proc.poll() is None, "the ingest ended before its host could vanish"
            hosts.append(_host(env, "host-b", log))  # the other host comes up afterwards
            _finish(proc)

            assert store.versions("vanish") == [1]
            eps = pl.read_parquet(store.version_dir("vanish") / "episodes.parquet")
            assert sorted(eps["source_name"]) == sorted(picked)
            assert eps["episode_uid"].n_unique() == len(picked)
            # the vanished host's step ran again on the other host, to the end
            assert _step_events(inst, "vanish", "STEP_START").count(step) == 2
            assert _step_events(inst, "vanish", "STEP_SUCCESS").count(step) == 1
            run = next(r for r in inst.get_runs() if r.job_name == "ingest_recording"
                       and r.tags.get("embodiq/dataset") == "vanish")
            assert run.status.value == "SUCCESS"
            inst.dispose()
        finally:
            for p in [*hosts, redis]:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
            for p in [*hosts, redis]:
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
