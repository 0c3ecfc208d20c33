"""The store: one root folder that holds everything embodiq keeps.

Every path the pipeline writes goes through :class:`Store`, and every write is atomic (temp file,
then rename), so a crash at any moment leaves either the old file or the new one. Keeping the
layout behind this one small class is what lets object storage replace the local disk later
without touching checks or assets.

Layout under the root::

    inbox/<dataset>/...                recordings dropped here are picked up by the sensor
    sources/<key>.json                 registered recordings (what a partition key points at)
    staging/<dataset>/<episode_uid>/   per-episode results: report.json, frames.parquet, videos
    quarantine/<content_uid>/          rejected recordings, byte for byte, with one
                                       findings-<dataset>.json per dataset that rejected them
    datasets/<name>/v<NNNN>/           immutable published versions; LATEST names the current one
    registry/robots.sqlite             the robot uid registry
    robots/                            user robot profiles (optional)
    dagster/                           the orchestrator's own state (DAGSTER_HOME)
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock

try:
    import fcntl
except ImportError:  # not a POSIX system
    fcntl = None  # type: ignore[assignment]

from schemas.names import name_problem

REPO_ROOT = Path(__file__).resolve().parent.parent
STORE_ENV = "EMBODIQ_STORE"
#: The per-user data folder (XDG base directories) and embodiq's store under it, used when
#: embodiq runs from an installed wheel rather than a source checkout.
DATA_HOME_ENV = "XDG_DATA_HOME"
USER_STORE = Path("embodiq") / "store"
_VERSION_RE = re.compile(r"^v(\d{4,})$")


class StoreError(RuntimeError):
    """Something in the store is missing or inconsistent; the message names the path."""


def default_store_root() -> Path:
    """``$EMBODIQ_STORE`` when set; else ``datasets/store`` in a source checkout (git-ignored);
    else, installed as a package, ``$XDG_DATA_HOME/embodiq/store`` (``~/.local/share/...``).

    A checkout is recognised by embodiq's ``pyproject.toml`` above the ``pipelines`` package;
    an installed package sits in ``site-packages``, where a store must never be written.
    """
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env).expanduser()
    pyproject = REPO_ROOT / "pyproject.toml"
    with contextlib.suppress(OSError):
        if pyproject.is_file() and 'name = "embodiq"' in pyproject.read_text(encoding="utf-8"):
            return REPO_ROOT / "datasets" / "store"
    data_home = os.environ.get(DATA_HOME_ENV, "")
    if not Path(data_home).is_absolute():  # unset, empty or relative: ignored, as XDG says
        data_home = str(Path.home() / ".local" / "share")
    return Path(data_home) / USER_STORE


def check_name(name: str, what: str = "dataset name") -> str:
    """``name`` when it is safe as one path component (the rule of :mod:`schemas.names`)."""
    problem = name_problem(name, what)
    if problem is not None:
        raise StoreError(problem)
    return name


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


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        shared_mode(tmp, directory=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_json(path: Path, obj: Any) -> Path:
    return atomic_write_bytes(
        path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())


def atomic_copy(src: Path, dst: Path) -> Path:
    """Copy ``src`` to ``dst`` byte for byte (metadata too), via a temp name in dst's folder."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
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


class Store:
    """Paths and atomic operations of one store root."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).expanduser().resolve() if root else default_store_root().resolve()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # folders -----------------------------------------------------------------------------
    @property
    def inbox_dir(self) -> Path:
        return self.root / "inbox"

    @property
    def sources_dir(self) -> Path:
        return self.root / "sources"

    @property
    def staging_dir(self) -> Path:
        return self.root / "staging"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def registry_path(self) -> Path:
        return self.root / "registry" / "robots.sqlite"

    @property
    def robots_dir(self) -> Path:
        return self.root / "robots"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def contained(self, path: Path) -> Path:
        """``path`` itself, once proven to lie under the root after resolving links and ``..``.

        Every path the store hands out for writing goes through here, so a name that slipped
        past validation still cannot make a write land outside the store.
        """
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(self.root):
            raise StoreError(f"refusing to write {path}: it resolves to {resolved}, outside the "
                             f"store {self.root}")
        return path

    def ensure(self) -> Store:
        for d in (self.inbox_dir, self.sources_dir, self.staging_dir, self.quarantine_dir,
                  self.datasets_dir, self.registry_path.parent, self.dagster_home):
            d.mkdir(parents=True, exist_ok=True)
        return self

    # staging -----------------------------------------------------------------------------
    def staging_episode_dir(self, dataset: str, episode_uid: str) -> Path:
        return self.contained(self.staging_dir / check_name(dataset)
                              / check_name(episode_uid, "episode uid"))

    def staged_episodes(self, dataset: str) -> list[Path]:
        """Staged episode folders of ``dataset`` that hold a finished ``report.json``."""
        d = self.staging_dir / check_name(dataset)
        if not d.is_dir():
            return []
        return sorted(
            p for p in d.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / "report.json").is_file()
        )

    # quarantine --------------------------------------------------------------------------
    def quarantine_path(self, content_uid: str) -> Path:
        """The quarantine folder of a source whose files have the content uid ``content_uid``
        (see :func:`pipelines.processing.quarantine_dir_for`)."""
        return self.contained(self.quarantine_dir / check_name(content_uid, "content uid"))

    # published datasets ------------------------------------------------------------------
    def dataset_dir(self, name: str) -> Path:
        return self.contained(self.datasets_dir / check_name(name))

    def dataset_names(self) -> list[str]:
        if not self.datasets_dir.is_dir():
            return []
        return sorted(p.name for p in self.datasets_dir.iterdir()
                      if p.is_dir() and (p / "LATEST").is_file())

    def publish_lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        """The lock held from choosing a version number to moving LATEST, so two publishers of
        one dataset (two ingests, a sensor run) take turns instead of claiming the same number."""
        d = self.dataset_dir(name)
        d.mkdir(parents=True, exist_ok=True)
        return file_lock(d / ".publish.lock")

    def versions(self, name: str) -> list[int]:
        d = self.dataset_dir(name)
        if not d.is_dir():
            return []
        return sorted(int(m.group(1)) for p in d.iterdir()
                      if p.is_dir() and (m := _VERSION_RE.match(p.name)))

    def latest_version(self, name: str) -> int | None:
        """The version ``LATEST`` names, or None when the dataset was never published."""
        latest = self.dataset_dir(name) / "LATEST"
        if not latest.is_file():
            return None
        text = latest.read_text().strip()
        m = _VERSION_RE.match(text)
        if not m:
            raise StoreError(f"{latest}: expected a version like v0001, found '{text}'")
        return int(m.group(1))

    @staticmethod
    def version_name(version: int) -> str:
        return f"v{version:04d}"

    def version_dir(self, name: str, version: int | None = None) -> Path:
        """The folder of ``version`` (default: LATEST) of dataset ``name``; raises when absent."""
        if version is None:
            version = self.latest_version(name)
            if version is None:
                known = ", ".join(self.dataset_names()) or "none"
                raise StoreError(
                    f"dataset '{name}' has no published version in {self.datasets_dir} "
                    f"(published datasets: {known})")
        d = self.dataset_dir(name) / self.version_name(version)
        if not (d / "manifest.json").is_file():
            raise StoreError(f"{d}: version {version} of dataset '{name}' does not exist")
        return d

    def set_latest(self, name: str, version: int) -> None:
        atomic_write_bytes(self.dataset_dir(name) / "LATEST",
                           f"{self.version_name(version)}\n".encode())
