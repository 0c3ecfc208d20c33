"""The robot registry: idempotent issue, immutable bindings, safe under concurrent writers."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import sqlite3
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from robots.profile import UidSegments, get_profile
from robots.registry import RegistryConflict, RegistryError, RobotRegistry
from robots.stamping import episode_uid_for, resolve_robot_uid
from robots.uid import UidError, parse

SERIALS = [f"H1SN{i:04d}" for i in range(12)]


def test_issue_is_idempotent_and_survives_restart(tmp_path):
    h1 = get_profile("unitree-h1")
    reg = RobotRegistry(tmp_path / "r.sqlite")
    a = reg.issue(h1, "sn-0042", run_id="run-1")
    assert a.code == "CNUNTRH10001" + "SN0042".rjust(17, "0")
    assert (a.robot_model, a.robot_serial, a.run_id) == ("unitree-h1", "SN0042", "run-1")
    assert datetime.fromisoformat(a.created_at).utcoffset().total_seconds() == 0
    assert reg.issue(h1, "SN0042", run_id="run-2") == a  # the first binding stands
    again = RobotRegistry(tmp_path / "r.sqlite")
    assert again.resolve("unitree-h1", "sn0042") == a and again.lookup(a.code).run_id == "run-1"
    assert again.lookup(parse(a.code).label) == a and again.lookup(parse(a.code).pretty) == a
    assert again.resolve("unitree-h1", "SN0043") is None
    assert again.lookup("CNUNTRH1000100000000000000001") is None
    assert again.list() == [a]


def test_bindings_are_immutable(tmp_path):
    reg = RobotRegistry(tmp_path / "r.sqlite")
    b = reg.issue(get_profile("unitree-h1"), "SN1")
    with pytest.raises(RegistryConflict, match="already registered to unitree-h1 serial SN1"):
        reg.bind(b.code, "unitree-h1", "SN2")
    with pytest.raises(RegistryConflict, match=f"is registered as {b.code}"):
        reg.bind("CNUNTRH1000100000000000000099", "unitree-h1", "SN1")
    assert reg.bind(b.code.lower(), "unitree-h1", "SN1") == b
    con = sqlite3.connect(reg.path)
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        con.execute("UPDATE bindings SET robot_serial = 'X'")
    with pytest.raises(sqlite3.DatabaseError, match="permanent"):
        con.execute("DELETE FROM bindings")
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("INSERT INTO bindings VALUES (?, 'unitree-h1', 'SN9', 'now', NULL)", (b.code,))
    con.close()
    assert reg.list() == [b]


def test_bind_refuses_invalid_codes(tmp_path):
    reg = RobotRegistry(tmp_path / "r.sqlite")
    with pytest.raises(UidError, match="29 characters"):
        reg.bind("CN-UNTR", "unitree-h1", "SN1")
    assert reg.list() == []


def test_issue_needs_usable_uid_segments(tmp_path):
    reg = RobotRegistry(tmp_path / "r.sqlite")
    h1 = get_profile("unitree-h1")
    with pytest.raises(UidError, match=r"profile 'unitree-h1' has no \[uid\] segments"):
        reg.issue(replace(h1, uid=None), "SN1")
    with pytest.raises(UidError, match="key 'uid' is unusable: the country segment 'ZZ'"):
        reg.issue(replace(h1, uid=UidSegments("ZZ", "UNTR", "H10001")), "SN1")
    with pytest.raises(UidError, match="at most 17"):
        reg.issue(h1, "X" * 18)
    assert reg.list() == []


def test_a_file_that_is_not_a_registry_is_named(tmp_path):
    bad = tmp_path / "robots.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RegistryError, match=r"robots\.sqlite: is not a robot registry"):
        RobotRegistry(bad)


def _worker(args: tuple[str, int]) -> list[str]:
    path, seed = args
    reg = RobotRegistry(Path(path))  # every process may be the one creating the file
    h1 = get_profile("unitree-h1")
    order = SERIALS[seed % 12:] + SERIALS[: seed % 12]
    return [reg.issue(h1, s, run_id=f"proc-{seed}").code for s in order]


def test_eight_processes_issue_exactly_one_code_per_robot(tmp_path):
    path = str(tmp_path / "store" / "registry" / "robots.sqlite")
    with mp.get_context("spawn").Pool(8) as pool:
        results = pool.map(_worker, [(path, i) for i in range(8)], chunksize=1)
    # every process got the same code for the same robot
    per_serial = [dict(zip(SERIALS[i % 12:] + SERIALS[: i % 12], r, strict=True))
                  for i, r in enumerate(results)]
    assert all(p == per_serial[0] for p in per_serial)
    codes = {c for r in results for c in r}
    assert len(codes) == 12
    rows = RobotRegistry(Path(path)).list()  # a restart sees them all
    assert len(rows) == 12 and {b.code for b in rows} == codes
    assert {b.robot_serial for b in rows} == set(SERIALS)
    assert all(b.run_id and b.run_id.startswith("proc-") for b in rows)


def test_stamping_issues_then_resolves(tmp_path):
    reg = RobotRegistry(tmp_path / "r.sqlite")
    h1 = get_profile("unitree-h1")
    code, f = resolve_robot_uid(reg, h1, "unitree-h1", "SN7", None, run_id="r1")
    assert code == "CNUNTRH10001" + "SN7".rjust(17, "0") and f == []
    assert reg.lookup(code).run_id == "r1"
    assert resolve_robot_uid(reg, h1, "unitree-h1", "SN7", None) == (code, [])
    assert resolve_robot_uid(reg, h1, "unitree-h1", "SN7", code) == (code, [])
    assert resolve_robot_uid(reg, h1, "unitree-h1", "SN7", parse(code).label) == (code, [])
    assert resolve_robot_uid(reg, None, "unitree-h1", "SN7", None) == (code, [])


def test_stamping_never_overwrites_a_disagreement(tmp_path):
    reg = RobotRegistry(tmp_path / "r.sqlite")
    h1 = get_profile("unitree-h1")
    code, _ = resolve_robot_uid(reg, h1, "unitree-h1", "SN7", None)
    other = "CNUNTRH1000100000000000000999"
    none, f = resolve_robot_uid(reg, h1, "unitree-h1", "SN7", other)
    assert none is None and len(f) == 1
    assert f[0].check_id == "schema.uid" and f[0].severity == "error"
    assert "robot_uid" in f[0].message and "disagrees with the registry" in f[0].message
    # the code of SN7 claimed by another robot
    none, f = resolve_robot_uid(reg, h1, "unitree-h1", "SN8", code)
    assert none is None and "already registered to unitree-h1 serial SN7" in f[0].message
    assert reg.resolve("unitree-h1", "SN7").code == code
    assert reg.resolve("unitree-h1", "SN8") is None


@pytest.mark.parametrize(("given", "needle"), [
    ("not-a-code", "robot_uid 'not-a-code' is invalid: a code has 29"),
    ("CNUNTRH1000100000000000000999-0", "check character is 0"),
    (b"CNUNTRH1000100000000000000999", "must be a string"),
])
def test_stamping_reports_invalid_given_uids(tmp_path, given, needle):
    reg = RobotRegistry(tmp_path / "r.sqlite")
    none, f = resolve_robot_uid(reg, get_profile("unitree-h1"), "unitree-h1", "SN8", given)
    assert none is None and f[0].check_id == "schema.uid" and needle in f[0].message
    assert reg.list() == []


def test_stamping_registers_a_valid_given_uid_for_a_new_robot(tmp_path):
    reg = RobotRegistry(tmp_path / "r.sqlite")
    given = "US-TRSN-VX3002-00000000000000001"
    code = "USTRSNVX300200000000000000001"
    assert resolve_robot_uid(reg, None, "aloha", "1", given, run_id="r9") == (code, [])
    b = reg.resolve("aloha", "1")
    assert (b.code, b.run_id) == (code, "r9")


def test_stamping_without_a_way_to_issue(tmp_path):
    reg = RobotRegistry(tmp_path / "r.sqlite")
    _, f = resolve_robot_uid(reg, None, "mystery-bot", "1", None)
    assert f[0].check_id == "schema.uid" and "'mystery-bot' has no profile" in f[0].message
    bare = replace(get_profile("unitree-h1"), uid=None)
    none, f = resolve_robot_uid(reg, bare, "unitree-h1", "SN1", None)
    assert none is None and "has no [uid] segments" in f[0].message
    _, f = resolve_robot_uid(reg, get_profile("unitree-h1"), "unitree-h1", "SN#1", None)
    assert "letters and digits" in f[0].message
    assert reg.list() == []


def test_episode_uid_is_content_derived():
    a = episode_uid_for(["b" * 64, "a" * 64], None)
    assert a == episode_uid_for(["a" * 64, "b" * 64], None)
    assert a == episode_uid_for(["a" * 64, "b" * 64], "")
    assert a != episode_uid_for(["a" * 64, "b" * 64], "episode_000001")
    assert a != episode_uid_for(["a" * 64, "c" * 64], None)
    assert a.startswith("ep-") and len(a) == 23 and int(a[3:], 16) >= 0
    # the documented scheme, spelled out

    blob = "a" * 64 + "\n" + "b" * 64 + "\n" + "k"
    assert episode_uid_for(["b" * 64, "a" * 64], "k") == \
        "ep-" + hashlib.sha256(blob.encode()).hexdigest()[:20]
