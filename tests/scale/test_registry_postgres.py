"""The robot registry on a real PostgreSQL server: same guarantees as on SQLite."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from robots.profile import get_profile
from robots.registry import RegistryConflict, RegistryError
from robots.registry_pg import PostgresRobotRegistry
from tests.children import running

pytestmark = pytest.mark.scale


def test_issue_is_idempotent_and_survives_a_reopen(pg_url):
    h1 = get_profile("unitree-h1")
    reg = PostgresRobotRegistry(pg_url)
    a = reg.issue(h1, "H1-0001", run_id="r1")
    assert reg.issue(h1, "h1 0001") == a  # normalised serial, same robot, same code
    again = PostgresRobotRegistry(pg_url)  # schema creation is idempotent
    assert again.resolve("unitree-h1", "H10001") == a and again.lookup(a.code) == a
    assert [b.code for b in again.list()] == [a.code]


def test_conflicts_are_refused_and_bindings_are_immutable(pg_url):
    import psycopg

    h1, g1 = get_profile("unitree-h1"), get_profile("unitree-g1")
    reg = PostgresRobotRegistry(pg_url)
    a = reg.issue(h1, "SN1")
    with pytest.raises(RegistryConflict, match="already registered"):
        reg.bind(a.code, "unitree-g1", "SN9")
    other = reg.issue(g1, "SN2")
    with pytest.raises(RegistryConflict, match="is registered as"):
        reg.bind(other.code, "unitree-h1", "SN1")
    with psycopg.connect(pg_url) as con, pytest.raises(psycopg.errors.RaiseException):
        con.execute("UPDATE embodiq_robot_bindings SET robot_serial = 'X'")
    with psycopg.connect(pg_url) as con, pytest.raises(psycopg.errors.RaiseException):
        con.execute("DELETE FROM embodiq_robot_bindings")
    assert len(reg.list()) == 2


def test_unreachable_server_is_a_clear_error():
    with pytest.raises(RegistryError, match="cannot be opened") as exc:
        PostgresRobotRegistry("postgresql://embodiq:secret@127.0.0.1:1/none", timeout_s=2)
    assert "secret" not in str(exc.value)


def _issuer(url: str, serials: list[str], out: mp.Queue) -> None:
    reg = PostgresRobotRegistry(url)
    h1 = get_profile("unitree-h1")
    out.put([(s, reg.issue(h1, s).code) for s in serials])


def test_eight_concurrent_issuers_get_exactly_one_code_per_robot(pg_url):
    serials = [f"SN{i:03d}" for i in range(12)]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_issuer, args=(pg_url, serials[k:] + serials[:k], q))
             for k in range(8)]
    with running(procs):
        results = [q.get(timeout=120) for _ in procs]
    per_serial: dict[str, set[str]] = {}
    for res in results:
        for s, code in res:
            per_serial.setdefault(s, set()).add(code)
    assert all(len(codes) == 1 for codes in per_serial.values())
    rows = PostgresRobotRegistry(pg_url).list()
    assert len(rows) == 12 and len({b.code for b in rows}) == 12


def test_backend_chosen_by_configuration(pg_url, tmp_path, monkeypatch):
    from robots.registry import RobotRegistry
    from robots.registry_backends import open_registry, registry_url

    monkeypatch.delenv("EMBODIQ_REGISTRY_URL", raising=False)
    monkeypatch.delenv("EMBODIQ_POSTGRES_URL", raising=False)
    assert registry_url() is None
    assert isinstance(open_registry(tmp_path / "r.sqlite"), RobotRegistry)
    monkeypatch.setenv("EMBODIQ_POSTGRES_URL", pg_url)
    assert registry_url() == pg_url
    assert isinstance(open_registry(registry_url()), PostgresRobotRegistry)


def _registry_sessions(url: str) -> int:
    import psycopg

    from robots.registry_pg import APPLICATION_NAME

    with psycopg.connect(url, autocommit=True) as con:
        row = con.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                          "AND datname = current_database()", (APPLICATION_NAME,)).fetchone()
    return int(row[0]) if row else 0


def test_one_connection_per_process_however_often_it_is_opened(pg_url):
    """An ingest opens the registry for every recording: each open reuses the process's
    connection instead of starting a server process."""
    import psycopg

    h1 = get_profile("unitree-h1")
    with psycopg.connect(pg_url, autocommit=True) as con:
        before = con.execute("SELECT sessions FROM pg_stat_database "
                             "WHERE datname = current_database()").fetchone()
    for i in range(20):
        reg = PostgresRobotRegistry(pg_url)
        reg.issue(h1, f"SN{i:03d}")
        assert reg.resolve("unitree-h1", f"SN{i:03d}") is not None
    assert len(PostgresRobotRegistry(pg_url).list()) == 20
    assert _registry_sessions(pg_url) == 1
    with psycopg.connect(pg_url, autocommit=True) as con:
        after = con.execute("SELECT sessions FROM pg_stat_database "
                            "WHERE datname = current_database()").fetchone()
    assert before is not None and after is not None
    assert after[0] - before[0] <= 3  # the registry's one, and this test's own two


def test_a_connection_dropped_by_the_server_is_opened_again(pg_url):
    import psycopg

    from robots.registry_pg import APPLICATION_NAME

    h1 = get_profile("unitree-h1")
    reg = PostgresRobotRegistry(pg_url)
    a = reg.issue(h1, "SN1")
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s", (APPLICATION_NAME,))
    assert reg.resolve("unitree-h1", "SN1") == a  # a read, after the drop
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s", (APPLICATION_NAME,))
    b = reg.issue(h1, "SN2")  # a write, after the drop
    assert {x.code for x in reg.list()} == {a.code, b.code}


def test_a_forked_child_opens_its_own_connection(pg_url):
    """A worker forked from a process that holds a connection never writes on its parent's
    (the two would interleave one server session)."""
    h1 = get_profile("unitree-h1")
    reg = PostgresRobotRegistry(pg_url)
    reg.issue(h1, "SN0")
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_issuer, args=(pg_url, [f"SN{k}"], q)) for k in range(1, 4)]
    with running(procs):
        got = [q.get(timeout=60) for _ in procs]
    assert len({code for res in got for _, code in res}) == 3
    assert reg.resolve("unitree-h1", "SN0") is not None  # the parent's connection still works
    assert len(reg.list()) == 4
