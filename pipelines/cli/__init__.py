"""The ``embodiq`` command line. Each module here with a ``register(app)`` adds its commands."""

from __future__ import annotations


def main() -> None:
    from pipelines.cli.main import run

    run()
