"""Concurrent ingests into one store whose instance is on PostgreSQL: publishers of a dataset
take turns under an advisory lock held in the server, not under a file lock."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path

import polars as pl
import psycopg
import pytest

from pipelines.demo import DEMO_SET
from pipelines.locks import lock_key, publish_lock
from pipelines.publish import FAULT_ENV
from pipelines.store import Store, StoreError
from tests.pipelines.ingest_procs import finish, ingest_proc, process_state, wait_for

pytestmark = [pytest.mark.scale, pytest.mark.slow]

CLEAN = [r for r in DEMO_SET if r.defect is None]


def _copy(recordings: Path, files: list[str], dst: Path) -> Path:
    dst.mkdir(parents=True)
    for p in recordings.iterdir():
        if any(p.name == f or p.name.startswith(f.removesuffix(".h5") + ".") for f in files):
            (dst / p.name).write_bytes(p.read_bytes())
    return dst


def _lock_rows(url: str, name: str) -> list[tuple[bool, int]]:
    """(granted, backend pid) of every session holding or waiting for ``name``'s lock."""
    key = lock_key(name) & 0xFFFF_FFFF_FFFF_FFFF
    with psycopg.connect(url, autocommit=True) as con:
        return con.execute(
            "SELECT granted, pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
            "AND objid = %s AND objsubid = 1", (key >> 32, key & 0xFFFF_FFFF)).fetchall()


def _whole(vdir: Path) -> dict:
    man = json.loads((vdir / "manifest.json").read_text())
    for f in man["files"]:
        assert hashlib.sha256((vdir / f["path"]).read_bytes()).hexdigest() == f["sha256"]
    return man


def test_two_concurrent_ingests_take_turns_under_the_postgres_lock(pg_url, recordings,
                                                                    tmp_path):
    store = Store(tmp_path / "store")
    first = _copy(recordings, [CLEAN[0].file], tmp_path / "first")
    a_in = _copy(recordings, [CLEAN[1].file, CLEAN[2].file], tmp_path / "a")
    b_in = _copy(recordings, [CLEAN[2].file, CLEAN[3].file], tmp_path / "b")  # overlapping
    finish(ingest_proc(store, first, "race", workers=1))
    assert store.versions("race") == [1]

    a = ingest_proc(store, a_in, "race", {FAULT_ENV: "after_tables:stop"}, workers=1)
    try:
        wait_for(lambda: a.poll() is not None or process_state(a.pid) == "T",
                  "the first ingest to stop inside its publish")
        assert a.poll() is None, a.stderr.read().decode()[-3000:]
        assert [g for g, _ in _lock_rows(pg_url, "race")] == [True]  # held, in the server
        b = ingest_proc(store, b_in, "race", workers=1)
        wait_for(lambda: b.poll() is not None or
                  sorted(g for g, _ in _lock_rows(pg_url, "race")) == [False, True],
                  "the second ingest to wait for the lock")
        assert b.poll() is None, b.stderr.read().decode()[-3000:]
        assert store.versions("race") == [1]  # it waits: nothing published meanwhile
    finally:
        os.kill(a.pid, signal.SIGCONT)
    finish(a)
    finish(b)

    versions = store.versions("race")
    assert versions == [1, 2, 3]
    keys = [_whole(store.version_dir("race", v))["content_key"] for v in versions]
    assert len(set(keys)) == len(keys)  # no version published twice
    assert store.latest_version("race") == 3
    latest = pl.read_parquet(store.version_dir("race", 3) / "episodes.parquet")
    assert sorted(latest["source_name"]) == sorted(r.file for r in CLEAN[:4])
    assert latest["episode_uid"].n_unique() == 4
    assert not (store.dataset_dir("race") / ".publish.lock").exists()  # no file lock taken


def test_the_lock_is_per_dataset_and_released_with_its_session(pg_url, tmp_path):
    store = Store(tmp_path / "store")
    with publish_lock(store, "one"):
        assert [g for g, _ in _lock_rows(pg_url, "one")] == [True]
        assert _lock_rows(pg_url, "two") == []
        with publish_lock(store, "two"):
            assert [g for g, _ in _lock_rows(pg_url, "two")] == [True]
    assert _lock_rows(pg_url, "one") == [] and _lock_rows(pg_url, "two") == []


def test_unreachable_server_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBODIQ_POSTGRES_URL", "postgresql://embodiq:secret@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="publish lock of 'race' cannot be taken") as exc, \
            publish_lock(Store(tmp_path / "store"), "race"):
        pass
    assert "secret" not in str(exc.value)
