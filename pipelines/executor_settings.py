"""The distributed executor's settings, read from the environment: which executor a run uses,
the broker its workers listen on, and the Celery settings the ingest and every worker share.

Nothing here imports Dagster, so a command checks its executor (and that some worker listens)
before it loads the orchestrator; :mod:`pipelines.executors` builds the executor itself.
"""

from __future__ import annotations

import os

BROKER_ENV = "EMBODIQ_CELERY_BROKER"
#: Seconds after which the broker gives a step's task to another worker when the one that took
#: it never acknowledged it (its whole host vanished). Redis's default is an hour; it must stay
#: longer than the longest step, or a slow step is run twice (harmless, but wasted).
VISIBILITY_ENV = "EMBODIQ_CELERY_VISIBILITY_TIMEOUT"
#: Where task results go; the broker's URL when unset (Redis is both).
BACKEND_ENV = "EMBODIQ_CELERY_BACKEND"
EXECUTORS = ("in-process", "celery")
#: Celery settings shared by the executor (the process that starts the run) and every worker
#: (``embodiq worker``): a task is acknowledged when done, and given back to the broker when the
#: process running it dies, so a killed worker's step runs again elsewhere.
CELERY_SETTINGS = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "broker_connection_retry_on_startup": True,
}


def broker_url() -> str | None:
    return os.environ.get(BROKER_ENV) or None


def default_executor() -> str:
    """``celery`` when a broker is configured, else ``in-process``."""
    return "celery" if broker_url() else "in-process"


def check_executor(executor: str | None) -> str:
    """The executor to use (``None``: :func:`default_executor`); a clear error when it is
    unknown or when Celery has no broker to reach its workers through."""
    executor = executor or default_executor()
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor '{executor}': use {' or '.join(EXECUTORS)}")
    if executor == "celery":
        if not broker_url():
            raise ValueError(f"the celery executor needs a broker: set {BROKER_ENV} (e.g. "
                             "redis://127.0.0.1:6379/0) to the broker the workers listen on")
        celery_settings()  # a bad setting is refused before the broker is asked
        _check_workers()
    return executor


def _redacted(url: str) -> str:
    """``url`` without its password."""
    import re

    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


def _check_workers() -> None:
    """A run waits for its steps for ever: refuse to start one that no worker would take.

    The first worker's answer is enough: without a limit, Celery waits out the whole timeout
    for answers from workers it cannot count, two idle seconds at the start of every ingest."""
    from celery import Celery

    url = broker_url() or ""
    app = Celery("embodiq-ping", broker=url)
    app.conf.broker_connection_max_retries = 0
    app.conf.broker_transport_options = {"max_retries": 1}
    try:
        answered = app.control.inspect(timeout=2, limit=1).ping()
    except Exception as exc:  # kombu's connection errors, whatever the transport
        raise ValueError(f"the broker at {_redacted(url)} ({BROKER_ENV}) cannot be reached: "
                         f"{str(exc).strip().splitlines()[0]}") from None
    finally:
        app.close()
    if not answered:
        raise ValueError(f"no worker listens on the broker at {_redacted(url)}: start some "
                         "with 'embodiq worker' (docs/orchestration.md)")


def celery_settings() -> dict:
    """:data:`CELERY_SETTINGS`, with the broker's visibility timeout when one is configured
    (``EMBODIQ_CELERY_VISIBILITY_TIMEOUT``, seconds)."""
    settings: dict = dict(CELERY_SETTINGS)
    raw = os.environ.get(VISIBILITY_ENV)
    if raw:
        try:
            seconds = float(raw)
        except ValueError:
            seconds = -1.0
        if not seconds > 0:
            raise ValueError(f"{VISIBILITY_ENV} must be a number of seconds above 0, not {raw!r}")
        settings["broker_transport_options"] = {"visibility_timeout": seconds}
    return settings


def executor_config() -> dict:
    """The Celery executor's configuration: URLs read from the environment when a run starts
    (never stored in the run's configuration), the shared settings."""
    backend = BACKEND_ENV if os.environ.get(BACKEND_ENV) else BROKER_ENV
    return {"broker": {"env": BROKER_ENV}, "backend": {"env": backend},
            "config_source": celery_settings()}


def worker_yaml() -> str:
    """The ``-y`` file of ``dagster-celery worker start``: the executor's configuration."""
    import yaml

    return yaml.safe_dump({"execution": {"config": executor_config()}}, sort_keys=False)
