"""The robot registry on PostgreSQL, for many ingest hosts sharing one set of robot codes.

The same guarantees as the SQLite registry (:mod:`robots.registry`): the code and the
(model, serial) pair are each UNIQUE, triggers make bindings immutable and permanent, and every
write runs in a transaction that first takes one advisory lock, so concurrent issuers on any
number of hosts serialise and one robot never gets two codes. Issuing is rare (once per robot),
so one lock for all writes costs nothing and keeps the logic identical to the SQLite one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from robots.registry import (
    BINDINGS_TABLE,
    Binding,
    IssuingRegistry,
    RegistryError,
    _serial_key,
    settle_binding,
)
from robots.uid import parse

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


class PostgresRobotRegistry(IssuingRegistry):
    """The bindings in one PostgreSQL database (``postgresql://user@host:port/db``)."""

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise RegistryError(f"the PostgreSQL registry needs psycopg ({exc})") from None
        with self._write() as cur:
            cur.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"PostgresRobotRegistry({_redact(self.url)!r})"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Any]:
        import psycopg

        try:
            con = psycopg.connect(self.url, connect_timeout=int(self.timeout_s),
                                  autocommit=False)
        except psycopg.Error as exc:
            raise RegistryError(f"the robot registry at {_redact(self.url)} cannot be opened "
                                f"({str(exc).strip().splitlines()[0]})") from None
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        with self._connect() as con:
            try:
                with con.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                    yield cur
                con.commit()
            except BaseException:
                con.rollback()
                raise

    def _one(self, sql: str, args: tuple[Any, ...]) -> Binding | None:
        with self._connect() as con, con.cursor() as cur:
            cur.execute(sql, args)
            row = cur.fetchone()
        return Binding(*row) if row else None

    def resolve(self, model: str, serial: str) -> Binding | None:
        return self._one(f"SELECT {_COLS} FROM embodiq_robot_bindings "
                         "WHERE robot_model = %s AND robot_serial = %s",
                         (model, _serial_key(serial)))

    def lookup(self, code: str) -> Binding | None:
        return self._one(f"SELECT {_COLS} FROM embodiq_robot_bindings WHERE code = %s",
                         (parse(code).code,))

    def list(self) -> list[Binding]:
        with self._connect() as con, con.cursor() as cur:
            cur.execute(f"SELECT {_COLS} FROM embodiq_robot_bindings "
                        "ORDER BY robot_model, robot_serial")
            return [Binding(*r) for r in cur.fetchall()]

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
