"""What every command shares: the store option, consoles, progress and clean errors."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipelines.store import Store

#: Data on stdout, everything for people on stderr.
out = Console()
err = Console(stderr=True)

StoreOpt = Annotated[Path | None, typer.Option(
    "--store", envvar="EMBODIQ_STORE", show_envvar=True,
    help="Store root (default: datasets/store in the checkout).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and the result.")]


def open_store(path: Path | None) -> Store:
    return Store(path)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one clear sentence and return the exit to raise."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextlib.contextmanager
def progress(enabled: bool, label: str) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on a terminal (stderr); a no-op when quiet or not interactive."""
    if not enabled or not sys.stderr.isatty():
        yield lambda _msg, _i, _n: None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[item]}"), TimeElapsedColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task(label, total=None, item="")

        def update(msg: str, i: int, n: int) -> None:
            bar.update(task, completed=i, total=n, item=msg)

        yield update
