"""Atomic writes, folders claimed by rename, and OS locks on local disk: the file operations
the local store (and the fsspec store on a local disk) are made of."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import filelock

try:
    import fcntl
except ImportError:  # not a POSIX system
    fcntl = None  # type: ignore[assignment]


def current_umask() -> int:
    """The process umask, read without changing it (``os.umask`` alone must set it, which
    would briefly open every file another thread creates meanwhile)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # most restrictive while probing
    os.umask(mask)
    return mask


def shared_mode(path: Path | str, *, directory: bool) -> None:
    """Give a file or folder made by ``mkstemp``/``mkdtemp`` (always owner-only) the mode an
    ordinary ``open``/``mkdir`` would have: 0o666 or 0o777 less the umask. Who may read the
    store (a training job's account) is then the umask's decision, as for any other file."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


@contextlib.contextmanager
def atomic_path(path: Path, *, suffix: str = ".tmp") -> Iterator[Path]:
    """A temp name beside ``path`` (nothing there yet) for the block to write; renamed to
    ``path`` when the block ends without error, removed otherwise. A reader of ``path`` sees
    the old file or the new one, never part of one. ``suffix`` ends the temp name (``.mp4``
    for a writer that goes by the extension)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A binary file written under a temp name and renamed to ``path`` when the block ends
    without error (see :func:`atomic_path`). It gets the mode an ordinary ``open`` gives."""
    with atomic_path(path) as tmp, open(tmp, "xb") as fh:
        yield fh


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, flushed to disk before the rename."""
    with atomic_output(path) as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def atomic_write_json(path: Path, obj: Any) -> Path:
    return atomic_write_bytes(
        path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())


def atomic_copy(src: Path, dst: Path, *, metadata: bool = True) -> Path:
    """Copy ``src`` to ``dst`` byte for byte, atomically. ``metadata``: the source's mode and
    timestamps too (a quarantined recording kept as it came); without, the copy is a new
    file of the store's own (a published video takes neither the source's often read-only
    mode nor its times)."""
    with atomic_path(dst) as tmp:
        (shutil.copy2 if metadata else shutil.copyfile)(src, tmp)
    return dst


@contextlib.contextmanager
def staged_dir(final: Path, *, replace: bool = True) -> Iterator[Path]:
    """Yield a temp folder beside ``final``; on success it is renamed into place.

    With ``replace=True`` (staging results, an export the user asked to overwrite) an existing
    ``final`` is replaced as a whole (the old one is moved aside, then removed), so a reader
    sees either the old folder or the new one. With ``replace=False`` (a published version)
    ``final`` is claimed by the rename itself: when it exists already, :class:`FileExistsError`
    is raised and nothing in place is touched. On error the temp folder is removed. The folder
    gets the mode the umask gives (``mkdtemp`` alone makes it owner-only).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        shared_mode(tmp, directory=True)
        yield tmp
        if not replace:
            _rename_noreplace(tmp, final)
        elif final.exists():
            old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _rename_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``, failing with FileExistsError when ``dst`` exists.

    ``renameat2(RENAME_NOREPLACE)`` makes the check and the rename one step on Linux; elsewhere
    (or on file systems without it) a plain rename after the check still never replaces a
    folder with content, since renaming onto a non-empty folder fails.
    """
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst),
                      _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise FileExistsError(err, f"{dst} already exists; it is never replaced", str(dst))
        if err not in (errno.EINVAL, errno.ENOSYS):
            raise OSError(err, os.strerror(err), str(src), None, str(dst))
    if dst.exists() or dst.is_symlink():
        raise FileExistsError(errno.EEXIST, f"{dst} already exists; it is never replaced",
                              str(dst))
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise FileExistsError(errno.EEXIST, f"{dst} already exists; it is never replaced",
                                  str(dst)) from None
        raise


def _load_renameat2():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_renameat2 = _load_renameat2() if sys.platform.startswith("linux") else None


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive OS lock on ``path`` (created if missing) for the ``with`` block.

    A blocking ``flock``: a waiter sleeps in the kernel until the holder releases the lock, and
    a holder that dies releases it with its file. Where ``flock`` does not exist, ``filelock``
    stands in.
    """
    if fcntl is None:
        with filelock.FileLock(path):
            yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock
