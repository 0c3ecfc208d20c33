"""The robot registry: idempotent issue, immutable bindings, safe under concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

import pytest

from robots.profile import get_profile
from robots.registry import RegistryConflict, RobotRegistry
from robots.stamping import episode_uid_for, resolve_robot_uid

SERIALS = [f"H1SN{i:04d}" for i in range(12)]


def test_issue_is_idempotent_and_survives_restart(tmp_path):
    h1 = get_profile("unitree-h1")
    reg = RobotRegistry(tmp_path / "r.sqlite")
    a = reg.issue(h1, "sn-0042", run_id="run-1")
    assert a.code == "CNUNTRH10001" + "SN0042".rjust(17, "0")
    assert reg.issue(h1, "SN0042").code == a.code
    again = RobotRegistry(tmp_path / "r.sqlite")
    assert again.resolve("unitree-h1", "sn0042") == a and again.lookup(a.code).run_id == "run-1"


def test_bindings_are_immutable(tmp_path):
    reg = RobotRegistry(tmp_path / "r.sqlite")
    b = reg.issue(get_profile("unitree-h1"), "SN1")
    with pytest.raises(RegistryConflict, match="already registered"):
        reg.bind(b.code, "unitree-h1", "SN2")
    with pytest.raises(RegistryConflict, match="is registered as"):
        reg.bind("CNUNTRH1000100000000000000099", "unitree-h1", "SN1")
    con = sqlite3.connect(reg.path)
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        con.execute("UPDATE bindings SET robot_serial = 'X'")
    with pytest.raises(sqlite3.DatabaseError, match="permanent"):
        con.execute("DELETE FROM bindings")


def _worker(args: tuple[str, int]) -> list[str]:
    path, seed = args
    reg = RobotRegistry(Path(path))
    h1 = get_profile("unitree-h1")
    order = SERIALS[seed % 12:] + SERIALS[: seed % 12]
    return [reg.issue(h1, s, run_id=f"proc-{seed}").code for s in order]


def test_eight_processes_issue_exactly_one_code_per_robot(tmp_path):
    path = str(tmp_path / "r.sqlite")
    RobotRegistry(Path(path))
    with mp.get_context("spawn").Pool(8) as pool:
        results = pool.map(_worker, [(path, i) for i in range(8)])
    codes = {c for r in results for c in r}
    assert len(codes) == 12
    rows = RobotRegistry(Path(path)).list()
    assert len(rows) == 12 and len({b.code for b in rows}) == 12
    assert {b.robot_serial for b in rows} == set(SERIALS)


def test_stamping_rules(tmp_path):
    reg = RobotRegistry(tmp_path / "r.sqlite")
    h1 = get_profile("unitree-h1")
    code, f = resolve_robot_uid(reg, h1, "unitree-h1", "SN7", None)
    assert code and not f
    assert resolve_robot_uid(reg, h1, "unitree-h1", "SN7", None) == (code, [])
    assert resolve_robot_uid(reg, h1, "unitree-h1", "SN7", code) == (code, [])
    other = "CNUNTRH1000100000000000000999"
    none, f = resolve_robot_uid(reg, h1, "unitree-h1", "SN7", other)
    assert none is None and f[0].check_id == "schema.uid" and "disagrees" in f[0].message
    _, f = resolve_robot_uid(reg, h1, "unitree-h1", "SN8", "not-a-code")
    assert f[0].check_id == "schema.uid" and "invalid" in f[0].message
    # a valid code for a new robot is registered as given
    given = "USTRSNVX300200000000000000001"
    assert resolve_robot_uid(reg, None, "aloha", "1", given) == (given, [])
    _, f = resolve_robot_uid(reg, None, "mystery-bot", "1", None)
    assert "has no profile" in f[0].message


def test_episode_uid_is_content_derived():
    a = episode_uid_for(["b" * 64, "a" * 64], None)
    assert a == episode_uid_for(["a" * 64, "b" * 64], None)
    assert a != episode_uid_for(["a" * 64, "b" * 64], "episode_000001")
    assert a.startswith("ep-") and len(a) == 23
