"""``embodiq worker``: a ``dagster-celery`` worker for one store, on this host.

It opens the store's instance first (so its ``dagster.yaml`` follows this host's
configuration), writes the executor's configuration beside it, and then becomes
``dagster-celery worker start``: the worker takes the steps of distributed ingest runs from the
broker named by ``EMBODIQ_CELERY_BROKER``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.common import StoreOpt, check_workers, fail, open_store


def worker(
    name: Annotated[str | None, typer.Option(
        help="The worker's name (default: embodiq-<pid>); its host is added to it.")] = None,
    concurrency: Annotated[int, typer.Option(
        min=1, help="Steps this worker runs at once, each on one core.")] = 1,
    store: StoreOpt = None,
) -> None:
    """Run a distributed-executor worker for the store (until stopped)."""
    from pipelines.executor_settings import BROKER_ENV, broker_url, worker_yaml
    from pipelines.runner import instance_for
    from pipelines.store import atomic_write_bytes

    check_workers(concurrency, "--concurrency")
    if not broker_url():
        raise fail(f"set {BROKER_ENV} to the broker's URL (e.g. redis://127.0.0.1:6379/0)", 2)
    try:
        settings = worker_yaml()
    except ValueError as exc:  # a bad setting in the environment
        raise fail(str(exc), 2) from None
    st = open_store(store).ensure()
    instance_for(st).dispose()  # creates or checks the instance (PostgreSQL when configured)
    config = st.dagster_home / "celery.yaml"
    atomic_write_bytes(config, settings.encode())
    bindir = Path(sys.executable).parent
    env = {**os.environ, "DAGSTER_HOME": str(st.dagster_home), "EMBODIQ_STORE": str(st.root),
           "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    args = [str(bindir / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
            "-y", str(config), "-n", name or f"embodiq-{os.getpid()}",
            "-i", "pipelines.executors", "--",
            "--concurrency", str(concurrency), "--without-gossip", "--without-mingle"]
    os.execve(args[0], args, env)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
