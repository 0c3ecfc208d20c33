"""Choosing the executor: in-process unless a broker is configured; a distributed ingest that
could not run is refused up front with a plain error, before any recording is read."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pipelines.cli.main import app
from pipelines.definitions import build_definitions
from pipelines.executor_settings import check_executor, default_executor
from pipelines.executors import _chunks


def test_in_process_unless_a_broker_is_configured(monkeypatch):
    monkeypatch.delenv("EMBODIQ_CELERY_BROKER", raising=False)
    assert default_executor() == "in-process" == check_executor(None)
    monkeypatch.setenv("EMBODIQ_CELERY_BROKER", "redis://127.0.0.1:6379/0")
    assert default_executor() == "celery"
    assert check_executor("in-process") == "in-process"


def test_the_celery_job_fans_out_the_same_assets(monkeypatch):
    monkeypatch.setenv("EMBODIQ_CELERY_BROKER", "redis://127.0.0.1:6379/0")
    local = build_definitions()
    spread = build_definitions(executor="celery", chunk_size=2)
    job = spread.resolve_job_def("ingest_recording")
    assert job.executor_def.name == "embodiq_celery"
    assert {n.name for n in job.graph.node_dict["ingest_recordings"].definition.node_defs} == {
        "plan_chunks", "ingest_chunk", "ingest_done"}
    keys = lambda d: {k for a in d.resolve_all_asset_specs() for k in [a.key]}  # noqa: E731
    assert keys(local) == keys(spread)


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 9, 64])
def test_chunks_keep_every_key_once_in_order_and_balanced(n):
    keys = [f"k{i}" for i in range(n)]
    chunks = _chunks(keys, 4)
    assert [k for c in chunks for k in c] == keys
    assert all(chunks) and len(chunks) == max(min(2, n), -(-n // 4))
    assert not chunks or max(map(len, chunks)) - min(map(len, chunks)) <= 1


@pytest.mark.parametrize(("env", "args", "message"), [
    ({}, ["--executor", "celery"], "needs a broker: set EMBODIQ_CELERY_BROKER"),
    ({}, ["--executor", "dask"], "unknown executor 'dask'"),
    ({"EMBODIQ_CELERY_BROKER": "redis://u:secret@127.0.0.1:1/0"}, [],
     "the broker at redis://u:***@127.0.0.1:1/0 (EMBODIQ_CELERY_BROKER) cannot be reached"),
    ({"EMBODIQ_CELERY_BROKER": "redis://u:secret@127.0.0.1:1/0",
      "EMBODIQ_CELERY_VISIBILITY_TIMEOUT": "soon"}, [],
     "EMBODIQ_CELERY_VISIBILITY_TIMEOUT must be a number of seconds above 0, not 'soon'"),
])
def test_an_ingest_that_could_not_run_is_refused_plainly(tmp_path, monkeypatch, env, args,
                                                         message):
    monkeypatch.delenv("EMBODIQ_CELERY_BROKER", raising=False)
    monkeypatch.delenv("EMBODIQ_CELERY_VISIBILITY_TIMEOUT", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    (tmp_path / "in").mkdir()
    res = CliRunner().invoke(app, ["ingest", str(tmp_path / "in"), "--dataset", "d",
                                   "--store", str(tmp_path / "store"), *args])
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split())
    assert "Traceback" not in res.output and "secret" not in res.output


def test_a_worker_needs_a_broker(tmp_path, monkeypatch):
    monkeypatch.delenv("EMBODIQ_CELERY_BROKER", raising=False)
    res = CliRunner().invoke(app, ["worker", "--store", str(tmp_path / "store")])
    assert res.exit_code == 2 and "set EMBODIQ_CELERY_BROKER" in res.output


def test_a_worker_refuses_a_bad_visibility_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBODIQ_CELERY_BROKER", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("EMBODIQ_CELERY_VISIBILITY_TIMEOUT", "-5")
    res = CliRunner().invoke(app, ["worker", "--store", str(tmp_path / "store")])
    assert res.exit_code == 2, res.output
    assert "EMBODIQ_CELERY_VISIBILITY_TIMEOUT must be a number of seconds above 0, not '-5'" in \
        " ".join(res.output.split())
    assert "Traceback" not in res.output


def test_a_distributed_run_looks_at_its_steps_often():
    """dagster-celery's execution loop pauses ``TICK_SECONDS`` between looks at its steps'
    results; the executor shortens that pause. Fails if dagster-celery stops reading the
    setting there (the shorter pause would then silently be lost)."""
    import inspect

    from dagster_celery import core_execution_loop

    from pipelines.executors import POLL_S, celery_executor

    celery_executor()
    assert core_execution_loop.TICK_SECONDS == POLL_S < 1
    assert "time.sleep(TICK_SECONDS)" in inspect.getsource(
        core_execution_loop.core_celery_execution_loop)
