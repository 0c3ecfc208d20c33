"""The robot registry: which unique code belongs to which (model, serial), forever.

SQLite in the store, with UNIQUE constraints on the code and on the (model, serial) pair and
every write inside ``BEGIN IMMEDIATE``: two processes issuing at once serialise on the database
lock, so one robot never gets two codes and one code never names two robots. Bindings are
never updated or deleted.

Reading needs no write access: a registry opened ``read_only`` connects with SQLite's
``mode=ro`` and creates nothing, so codes can be listed and looked up on a read-only store (and
a store without a registry simply has no bindings).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from robots.profile import RobotProfile
from robots.uid import UidError, compose, normalize_serial, parse

#: The bindings table, the same on every backend: the code and the (model, serial) pair are
#: each UNIQUE, so one robot never gets two codes nor two robots one.
BINDINGS_TABLE = """(
    code         TEXT PRIMARY KEY,
    robot_model  TEXT NOT NULL,
    robot_serial TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    run_id       TEXT,
    UNIQUE (robot_model, robot_serial)
)"""
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS bindings {BINDINGS_TABLE};
CREATE TRIGGER IF NOT EXISTS bindings_immutable BEFORE UPDATE ON bindings
BEGIN SELECT RAISE(ABORT, 'robot uid bindings are immutable'); END;
CREATE TRIGGER IF NOT EXISTS bindings_permanent BEFORE DELETE ON bindings
BEGIN SELECT RAISE(ABORT, 'robot uid bindings are permanent'); END;
"""


class RegistryError(RuntimeError):
    """The registry file cannot be opened or is not a robot registry; the message names it."""


class RegistryConflict(ValueError):
    """A code or a robot is already bound differently; the message names both bindings."""


@dataclass(frozen=True)
class Binding:
    code: str
    robot_model: str
    robot_serial: str
    created_at: str
    run_id: str | None = None


class IssuingRegistry:
    """Issuing and binding, the same on every backend: a backend supplies ``_write()``, its
    write transaction, and ``_bind()``, which settles one binding inside it
    (:func:`settle_binding`) and inserts it when it is new."""

    def _write(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _bind(self, tx: Any, code: str, model: str, serial: str,
              run_id: str | None) -> Binding:
        raise NotImplementedError

    def issue(self, profile: RobotProfile, serial: str, run_id: str | None = None) -> Binding:
        """The robot's code, issued from its profile's segments on first request."""
        code = issued_code(profile, serial)
        with self._write() as tx:
            return self._bind(tx, code, profile.id, _serial_key(serial), run_id)

    def bind(self, code: str, model: str, serial: str, run_id: str | None = None) -> Binding:
        """Register a code that came with a recording; conflicts raise, never overwrite."""
        canonical = parse(code).code
        with self._write() as tx:
            return self._bind(tx, canonical, model, _serial_key(serial), run_id)


class RobotRegistry(IssuingRegistry):
    """The bindings of one store; every method opens its own connection, so an instance is
    cheap, and separate instances (threads, processes) see each other's committed writes."""

    def __init__(self, path: Path | str, timeout_s: float = 60.0, read_only: bool = False) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.read_only = read_only
        if read_only:
            if self.path.exists() and not self.path.is_file():
                raise RegistryError(f"{self.path}: is not a robot registry (not a file)")
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RegistryError(f"{self.path}: the robot registry cannot be created "
                                f"({_os_reason(exc)})") from None
        self._init_schema()

    def _init_schema(self) -> None:
        """Create the table and switch to WAL; several processes may do this at once.

        Switching the journal mode can report "locked" without waiting on the busy timeout
        while another process is creating the file, so it is retried until the timeout.
        """
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                with self._connect() as con:
                    if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                        con.execute("PRAGMA journal_mode=WAL")
                    con.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                raise RegistryError(f"{self.path}: the robot registry cannot be opened "
                                    f"({_sqlite_reason(exc, self.path)})") from None
            except sqlite3.DatabaseError as exc:
                raise RegistryError(f"{self.path}: is not a robot registry ({exc})") from None

    def _open(self) -> sqlite3.Connection:
        if not self.read_only:
            return sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        uri = f"file:{pathname2url(str(self.path.absolute()))}?mode=ro"
        if not os.access(self.path.parent, os.W_OK | os.X_OK) and not Path(
                f"{self.path}-shm").exists():
            # a WAL database needs its -shm file to be read; where nobody can create it, nobody
            # can write the database either, so it is read as the immutable file it is
            uri += "&immutable=1"
        return sqlite3.connect(uri, uri=True, timeout=self.timeout_s, isolation_level=None)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = self._open()
        try:
            con.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
            if not self.read_only:
                con.execute("PRAGMA synchronous=FULL")  # a committed binding survives power loss
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection | None]:
        """A connection for a query (None: a read-only registry that does not exist yet)."""
        if self.read_only and not self.path.is_file():
            yield None
            return
        try:
            with self._connect() as con:
                yield con
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc) or "no such table" in str(exc):
                raise RegistryError(f"{self.path}: is not a robot registry ({exc})") from None
            raise RegistryError(f"{self.path}: the robot registry cannot be read "
                                f"({_sqlite_reason(exc, self.path)})") from None

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise RegistryError(f"{self.path}: the robot registry was opened read-only")
        try:
            with self._connect() as con:
                con.execute("BEGIN IMMEDIATE")
                try:
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        con.execute("ROLLBACK")
                    raise
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"{self.path}: the robot registry cannot be written "
                                f"({_sqlite_reason(exc, self.path)})") from None

    @staticmethod
    def _row(row: tuple[Any, ...] | None) -> Binding | None:
        return Binding(*row) if row else None

    def resolve(self, model: str, serial: str) -> Binding | None:
        """The binding of one robot, by model and serial as recorded (normalised)."""
        with self._reading() as con:
            if con is None:
                return None
            return self._row(con.execute(
                "SELECT code, robot_model, robot_serial, created_at, run_id FROM bindings "
                "WHERE robot_model = ? AND robot_serial = ?",
                (model, _serial_key(serial))).fetchone())

    def lookup(self, code: str) -> Binding | None:
        canonical = parse(code).code
        with self._reading() as con:
            if con is None:
                return None
            return self._row(con.execute(
                "SELECT code, robot_model, robot_serial, created_at, run_id FROM bindings "
                "WHERE code = ?", (canonical,)).fetchone())

    def list(self) -> list[Binding]:
        with self._reading() as con:
            if con is None:
                return []
            rows = con.execute("SELECT code, robot_model, robot_serial, created_at, run_id "
                               "FROM bindings ORDER BY robot_model, robot_serial").fetchall()
        return [Binding(*r) for r in rows]

    def _bind(self, con: sqlite3.Connection, code: str, model: str, serial: str,
              run_id: str | None) -> Binding:
        cols = "SELECT code, robot_model, robot_serial, created_at, run_id FROM bindings"
        b, new = settle_binding(
            lambda: self._row(con.execute(f"{cols} WHERE robot_model = ? AND robot_serial = ?",
                                          (model, serial)).fetchone()),
            lambda: self._row(con.execute(f"{cols} WHERE code = ?", (code,)).fetchone()),
            code, model, serial, run_id)
        if new:
            con.execute("INSERT INTO bindings VALUES (?, ?, ?, ?, ?)",
                        (b.code, b.robot_model, b.robot_serial, b.created_at, b.run_id))
        return b


def _os_reason(exc: OSError) -> str:
    return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)


def _sqlite_reason(exc: sqlite3.Error, path: Path) -> str:
    """SQLite's complaint, with what it means for a person where it is terse."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return f"{text}: the store is read-only or not writable by this user"
    if "disk is full" in text:
        return f"{text}: no space left on the device, free some space and run again"
    if "unable to open" in text:
        if path.parent.is_dir() and not os.access(path.parent, os.W_OK | os.X_OK):
            return f"{text}: the folder {path.parent} is read-only or not writable by this user"
        return f"{text}: the folder is missing or not accessible"
    return text


def issued_code(profile: RobotProfile, serial: str) -> str:
    """The code a robot of ``profile`` with ``serial`` gets; raises :class:`UidError` naming
    the profile when its ``[uid]`` segments are missing or unusable."""
    if profile.uid is None:
        raise UidError(f"robot profile '{profile.id}' has no [uid] segments "
                       "(country, enterprise, product_model), so no code can be issued")
    try:
        compose(profile.uid, "0")
    except UidError as exc:
        where = profile.path or profile.id
        raise UidError(f"robot profile {where}: key 'uid' is unusable: {exc}") from None
    return compose(profile.uid, serial).code


def settle_binding(by_robot: Callable[[], Binding | None], by_code: Callable[[], Binding | None],
                   code: str, model: str, serial: str, run_id: str | None
                   ) -> tuple[Binding, bool]:
    """The rule every registry backend applies inside its write transaction: the robot's
    existing binding when it has ``code``; a conflict when the robot or the code is bound
    otherwise; else a new binding (``True``: the caller inserts it)."""
    existing = by_robot()
    if existing is not None:
        if existing.code != code:
            raise RegistryConflict(f"robot {model} serial {serial} is registered as "
                                   f"{existing.code}, not {code}")
        return existing, False
    other = by_code()
    if other is not None:
        raise RegistryConflict(
            f"code {code} is already registered to {other.robot_model} serial "
            f"{other.robot_serial}, not to {model} serial {serial}")
    return Binding(code, model, serial, datetime.now(UTC).isoformat(timespec="seconds"),
                   run_id), True


def _serial_key(serial: str) -> str:
    try:
        return normalize_serial(serial)
    except UidError:
        return serial.strip()
