"""The robot registry on PostgreSQL, for many ingest hosts sharing one set of robot codes.

The same guarantees as the SQLite registry (:mod:`robots.registry`): the code and the
(model, serial) pair are each UNIQUE, triggers make bindings immutable and permanent, and every
write runs in a transaction that first takes one advisory lock, so concurrent issuers on any
number of hosts serialise and one robot never gets two codes. Issuing is rare (once per robot),
so one lock for all writes costs nothing and keeps the logic identical to the SQLite one.

Each process keeps one connection per database, opened on first use and opened again when the
server dropped it: an ingest resolves a robot for every recording, and a new server connection
each time (a server process forked and authenticated) cost more than the queries themselves.
The schema is checked once per process and created only when it is missing.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from robots.registry import (
    BINDINGS_TABLE,
    Binding,
    IssuingRegistry,
    RegistryError,
    _serial_key,
    settle_binding,
)
from robots.uid import parse

if TYPE_CHECKING:
    from robots.profile import RobotProfile

_T = TypeVar("_T")

#: Key of the advisory lock every write takes (an arbitrary constant: "embodiq" in ASCII).
_LOCK_KEY = 0x656D626F646971

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS embodiq_robot_bindings {BINDINGS_TABLE};
CREATE OR REPLACE FUNCTION embodiq_bindings_frozen() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'robot uid bindings are immutable and permanent'; END;
$$ LANGUAGE plpgsql;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'embodiq_bindings_frozen') THEN
    CREATE TRIGGER embodiq_bindings_frozen BEFORE UPDATE OR DELETE ON embodiq_robot_bindings
    FOR EACH ROW EXECUTE FUNCTION embodiq_bindings_frozen();
  END IF;
END $$;
"""

_COLS = "code, robot_model, robot_serial, created_at, run_id"

#: The name this registry's connections carry on the server (``pg_stat_activity``).
APPLICATION_NAME = "embodiq-registry"


class _Kept:
    """One process's connection to one database, and the lock that gives it to one user at a
    time (a transaction must not interleave with another thread's statements)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.con: Any = None


#: (process id, URL) -> its kept connection; a forked child never uses its parent's.
_KEPT: dict[tuple[int, str], _Kept] = {}
_KEPT_LOCK = threading.Lock()
#: URLs whose schema this process has seen complete.
_SCHEMA_READY: set[str] = set()


def _kept(url: str) -> _Kept:
    with _KEPT_LOCK:
        return _KEPT.setdefault((os.getpid(), url), _Kept())


class PostgresRobotRegistry(IssuingRegistry):
    """The bindings in one PostgreSQL database (``postgresql://user@host:port/db``)."""

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise RegistryError(f"the PostgreSQL registry needs psycopg ({exc})") from None
        if url not in _SCHEMA_READY:
            self._again_if_dropped(self._ensure_schema)
            _SCHEMA_READY.add(url)

    def _ensure_schema(self) -> None:
        with self._connect() as con:
            row = con.execute(
                "SELECT to_regclass('embodiq_robot_bindings') IS NOT NULL AND EXISTS "
                "(SELECT 1 FROM pg_trigger WHERE tgname = 'embodiq_bindings_frozen')").fetchone()
        if not (row and row[0]):
            with self._write() as cur:
                cur.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"PostgresRobotRegistry({_redact(self.url)!r})"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Any]:
        """This process's connection to the database (autocommit: a write opens its own
        transaction), opened again when the server dropped it."""
        import psycopg

        kept = _kept(self.url)
        with kept.lock:
            if kept.con is None or kept.con.closed or kept.con.broken:
                try:
                    kept.con = psycopg.connect(self.url, connect_timeout=int(self.timeout_s),
                                               autocommit=True,
                                               application_name=APPLICATION_NAME)
                except psycopg.Error as exc:
                    kept.con = None
                    raise RegistryError(
                        f"the robot registry at {_redact(self.url)} cannot be opened "
                        f"({str(exc).strip().splitlines()[0]})") from None
            yield kept.con

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        with self._connect() as con, con.transaction(), con.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            yield cur

    def _again_if_dropped(self, op: Callable[[], _T]) -> _T:
        """``op``, run once more on a new connection when the kept one turns out to have been
        dropped by the server (a restart, an idle timeout). Safe for writes too: a binding is
        settled inside its transaction, so running one again finds what the first one did."""
        import psycopg

        try:
            return op()
        except psycopg.OperationalError:
            con = _kept(self.url).con
            if con is None or not (con.broken or con.closed):
                raise
        return op()

    def issue(self, profile: RobotProfile, serial: str, run_id: str | None = None) -> Binding:
        return self._again_if_dropped(lambda: super(PostgresRobotRegistry, self).issue(
            profile, serial, run_id))

    def bind(self, code: str, model: str, serial: str, run_id: str | None = None) -> Binding:
        return self._again_if_dropped(lambda: super(PostgresRobotRegistry, self).bind(
            code, model, serial, run_id))

    def _bindings(self, sql: str, args: tuple[Any, ...] = ()) -> list[Binding]:
        """The bindings a read returns, read again on a new connection if the kept one was
        dropped."""
        def rows() -> list[Any]:
            with self._connect() as con, con.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())

        return [Binding(*r) for r in self._again_if_dropped(rows)]

    def _one(self, sql: str, args: tuple[Any, ...]) -> Binding | None:
        found = self._bindings(sql, args)  # by a unique key: at most one
        return found[0] if found else None

    def resolve(self, model: str, serial: str) -> Binding | None:
        return self._one(f"SELECT {_COLS} FROM embodiq_robot_bindings "
                         "WHERE robot_model = %s AND robot_serial = %s",
                         (model, _serial_key(serial)))

    def lookup(self, code: str) -> Binding | None:
        return self._one(f"SELECT {_COLS} FROM embodiq_robot_bindings WHERE code = %s",
                         (parse(code).code,))

    def list(self) -> list[Binding]:
        return self._bindings(f"SELECT {_COLS} FROM embodiq_robot_bindings "
                              "ORDER BY robot_model, robot_serial")

    @staticmethod
    def _bind(cur: Any, code: str, model: str, serial: str, run_id: str | None) -> Binding:
        def one(where: str, args: tuple[Any, ...]) -> Binding | None:
            cur.execute(f"SELECT {_COLS} FROM embodiq_robot_bindings WHERE {where}", args)
            row = cur.fetchone()
            return Binding(*row) if row else None

        b, new = settle_binding(
            lambda: one("robot_model = %s AND robot_serial = %s", (model, serial)),
            lambda: one("code = %s", (code,)), code, model, serial, run_id)
        if new:
            cur.execute("INSERT INTO embodiq_robot_bindings VALUES (%s, %s, %s, %s, %s)",
                        (b.code, b.robot_model, b.robot_serial, b.created_at, b.run_id))
        return b


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
