"""The per-dataset publish lock: in PostgreSQL when the instance is there, else a file lock.

Publishers of one dataset take turns from choosing a version number to moving ``LATEST``. On
one host, or on hosts whose shared filesystem honours ``flock``, a lock file in the dataset's
folder does it (:meth:`pipelines.store.Store.publish_lock`). When the instance is on PostgreSQL
(``EMBODIQ_POSTGRES_URL``), every host already shares that server, so the lock is a PostgreSQL
session advisory lock keyed by the dataset's name: it does not depend on the filesystem, and a
publisher that dies releases it with its connection.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

from pipelines.instance_config import POSTGRES_URL_ENV, postgres_url
from pipelines.store import Store, StoreError, check_name


def lock_key(name: str) -> int:
    """The advisory lock key (a signed 64-bit integer) of dataset ``name``'s publishing."""
    digest = hashlib.sha256(f"embodiq.publish/{check_name(name)}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def publish_lock(store: Store, name: str) -> Iterator[None]:
    """Hold dataset ``name``'s publish lock for the ``with`` block (waiting for it)."""
    url = postgres_url()
    if url is None:
        with store.publish_lock(name):
            yield
        return
    import psycopg

    try:
        con = psycopg.connect(url, autocommit=True, connect_timeout=30)
    except psycopg.Error as exc:
        raise StoreError(f"the publish lock of '{name}' cannot be taken: the PostgreSQL server "
                         f"of {POSTGRES_URL_ENV} is unreachable "
                         f"({str(exc).strip().splitlines()[0]})") from None
    try:
        con.execute("SELECT pg_advisory_lock(%s)", (lock_key(name),))
        yield
    finally:
        with contextlib.suppress(psycopg.Error):  # closing the session releases it anyway
            con.execute("SELECT pg_advisory_unlock(%s)", (lock_key(name),))
        con.close()
