"""What every command shares: the store option, consoles, progress and clean errors."""

from __future__ import annotations

import contextlib
import errno
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from pipelines.store import Store, StoreError, default_store_root, text_path

#: Data on stdout, everything for people on stderr.
out = Console()
err = Console(stderr=True)

StoreOpt = Annotated[Path | None, typer.Option(
    "--store", envvar="EMBODIQ_STORE", show_envvar=True,
    help="Store root (default: datasets/store in a source checkout, else "
         "$XDG_DATA_HOME/embodiq/store).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and the result.")]

#: Accepted ``--fps`` (ingest and export), frames per second, both ends included: slower is not
#: a teleoperation recording, faster than any control loop we record.
FPS_MIN, FPS_MAX = 1.0, 1000.0

#: What an operating-system error means for the person at the terminal, by errno.
_OS_REASONS = {
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied (the folder is not writable or not yours)",
    errno.EPERM: "operation not permitted (the folder is read-only or protected)",
    errno.ENOSPC: "no space left on the device; free some space and run again",
    errno.EDQUOT: "the disk quota is exceeded; free some space and run again",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOENT: "no such file or folder",
    errno.ENAMETOOLONG: "the path is too long",
    errno.EIO: "input/output error (the device failed)",
}


#: The store the running command opened: named when an error carries no path (a full disk
#: reports ENOSPC on a write, long after the file was opened).
_opened_store: list[Path] = []


def describe_os_error(exc: OSError) -> str:
    """One sentence for an ``OSError``: the path it concerns and what its errno means."""
    reason = _OS_REASONS.get(exc.errno or -1) or exc.strerror or str(exc) or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p not in (None, "")]
    if paths:
        return f"{' -> '.join(paths)}: {reason}"
    if _opened_store and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS):
        return f"writing to the store {_opened_store[-1]} failed: {reason}"
    return reason


def os_error_exit_code(exc: OSError) -> int:
    """2 when the path given cannot be a folder (bad usage), else 1."""
    return 2 if exc.errno == errno.ENOTDIR else 1


class PlainErrorsGroup(TyperGroup):
    """The command group whose commands never end in a traceback for an ``OSError``.

    A read-only store, a full disk or a path through a file surface deep inside a library;
    here, at the boundary, they become one sentence naming the path (exit 1, or 2 when the
    path itself is unusable).
    """

    def invoke(self, ctx: Any) -> Any:
        _opened_store.clear()
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # a closed pipe (| head) is not an error to report
                raise
            raise fail(describe_os_error(exc), os_error_exit_code(exc)) from None


def open_store(path: Path | None) -> Store:
    """The store at ``path`` (or the default); exit 2 when it cannot be a folder."""
    root = (path.expanduser() if path is not None else default_store_root())
    try:
        text_path(root)
    except StoreError as exc:
        raise fail(f"--store {exc}", 2) from None
    if root.exists() and not root.is_dir():
        raise fail(f"--store {root} is a file, not a store folder", 2)
    for parent in root.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise fail(f"--store {root}: {parent} is a file, not a folder", 2)
            break
    store = Store(path)
    _opened_store.append(store.root)
    return store


def check_fps(fps: float | None) -> None:
    """Refuse a ``--fps`` outside the accepted range (exit 2); None means the default."""
    if fps is None:
        return
    if not math.isfinite(fps) or not FPS_MIN <= fps <= FPS_MAX:
        raise fail(f"--fps {fps:g} is not a usable rate: give a number of frames per second "
                   f"from {FPS_MIN:g} to {FPS_MAX:g}", 2)


def check_workers(workers: int | None, what: str = "--workers") -> None:
    """Refuse a worker count this machine cannot sensibly start (exit 2); None: the default."""
    from pipelines.processing.pool import workers_problem

    if workers is not None and (why := workers_problem(workers, what)) is not None:
        raise fail(why, 2)


def load_mapping_option(mapping: Path | None) -> dict | None:
    """The ``--mapping`` file, checked before any recording is read (exit 2 when unusable)."""
    if mapping is None:
        return None
    from pipelines.mapping import load_mapping

    try:
        return load_mapping(mapping)
    except (ValueError, OSError) as exc:
        raise fail(str(exc), 2) from None


def print_listing(title: str, key: str, columns: Sequence[str],
                  rows: Iterable[Sequence[str]]) -> None:
    """A listing (``checks``, ``robots list``): the ``key`` column is never wrapped, the
    others fold to fit the terminal. Every cell is :func:`shown`: profiles are files a user
    wrote, and a model name in brackets is a name, not markup."""
    table = Table(title=shown(title), box=box.SIMPLE_HEAD)
    table.add_column(key, no_wrap=True)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*map(shown, row))
    out.print(table)


def write_json(doc: dict[str, Any], out: Any = None) -> None:
    """``doc`` as JSON on ``out`` (stdout): each top-level key on a line of its own, and each
    element of a list (an episode, a finding) on a line of its own.

    Readable and line-oriented (``grep`` an episode, diff two runs) while every line is encoded
    by the C encoder: an indented dump goes through Python's pure-Python encoder, which on a
    check of thousands of episodes took longer than many of the episodes' checks.
    """
    import json

    out = out if out is not None else sys.stdout
    out.write("{")
    for i, (key, value) in enumerate(doc.items()):
        out.write(("," if i else "") + "\n" + json.dumps(key) + ": ")
        if isinstance(value, list) and value:
            out.write("[\n" + ",\n".join(json.dumps(x) for x in value) + "\n]")
        else:
            out.write(json.dumps(value))
    out.write("\n}\n")


#: Characters that reorder or hide what follows them on a terminal: the bidirectional marks,
#: embeddings, overrides and isolates (a file named "\u202egnp.exe" shows as "exe.png").
_DIRECTIONAL = frozenset((0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def _hidden(o: int) -> bool:
    """A control character, a direction mark, or a byte of a name that is not UTF-8 (kept by
    Python as a lone surrogate, which would reach the terminal as that raw byte)."""
    return o < 0x20 or 0x7F <= o < 0xA0 or o in _DIRECTIONAL or 0xD800 <= o <= 0xDFFF


def _visible(c: str) -> str:
    o = ord(c)
    if o < 0x20 or 0x7F <= o < 0xA0:
        return f"\\x{o:02x}"
    return f"\\u{o:04x}" if _hidden(o) else c


def shown(text: object, lines: bool = False) -> str:
    """Text from a file, a folder or a person, made safe to print: control characters and
    direction marks become visible escapes (a file name cannot clear the screen, retitle the
    window or reverse what follows it), so do the bytes of a name that is not UTF-8, and rich
    markup is escaped (a name in brackets is printed as it is, never applied, and cannot end
    the command with a markup error).
    ``lines`` keeps line breaks (a message of several lines)."""
    s = str(text)
    if any(_hidden(ord(c)) for c in s):
        s = "".join(c if lines and c == "\n" else _visible(c) for c in s)
    return escape(s)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one clear sentence and return the exit to raise."""
    err.print(f"[bold red]error:[/] {shown(message, lines=True)}", highlight=False,
              soft_wrap=True)
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
