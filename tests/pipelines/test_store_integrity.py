"""The store under concurrent and repeated use: published versions are never replaced, the
orchestrator's instance is initialised once, quarantined evidence is never overwritten, episodes
failed by a dataset check are failures, and everything written honours the umask."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import signal
import sqlite3
import stat
from pathlib import Path

import h5py
import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli.main import app
from pipelines.demo import DEMO_SET
from pipelines.publish import FAULT_ENV
from pipelines.runner import ingest, instance_for
from pipelines.store import Store, atomic_copy, staged_dir
from tests.pipelines.demo_files import copy_recording
from tests.pipelines.ingest_procs import PATIENCE_S, finish, ingest_proc, process_state, wait_for

CLEAN = [r for r in DEMO_SET if r.defect is None]
NAN = next(r for r in DEMO_SET if r.defect == "value.nonfinite")


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _version_is_whole(vdir: Path) -> dict:
    man = json.loads((vdir / "manifest.json").read_text())
    files = {p.relative_to(vdir).as_posix() for p in vdir.rglob("*") if p.is_file()}
    assert files == {f["path"] for f in man["files"]} | {"manifest.json"}, vdir
    for f in man["files"]:
        assert _sha(vdir / f["path"]) == f["sha256"], (vdir, f["path"])
    return man


def _published_names(vdir: Path) -> set[str]:
    return set(pl.read_parquet(vdir / "episodes.parquet")["source_name"])


def _has_open(pid: int, path: Path) -> bool:
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd_dir / fd) == str(path) for fd in os.listdir(fd_dir))
    except OSError:
        return False


# ------------------------------------------------------------------ 3. concurrent publishes
@pytest.mark.slow
def test_concurrent_publishes_never_replace_a_version(demo_recordings, tmp_path):
    """One ingest stops while its v0002 is half written; another ingest of the same dataset
    runs meanwhile; then the first resumes. Both versions stay whole, LATEST names a complete
    version, and it holds every episode."""
    store = Store(tmp_path / "store")
    first, inbox_a, inbox_b = tmp_path / "first", tmp_path / "a", tmp_path / "b"
    copy_recording(demo_recordings, CLEAN[0], first)
    copy_recording(demo_recordings, CLEAN[1], inbox_a)
    copy_recording(demo_recordings, CLEAN[2], inbox_b)
    assert ingest(store, [first], "race", write_report=False).version == 1

    a = ingest_proc(store, inbox_a, "race", {FAULT_ENV: "after_tables:stop"})
    try:
        wait_for(lambda: a.poll() is not None or process_state(a.pid) == "T",
                  "the first ingest to stop inside its publish")
        assert a.poll() is None, a.stderr.read().decode()[-3000:]
        assert list(store.dataset_dir("race").glob(".v0002.*.tmp"))
        b = ingest_proc(store, inbox_b, "race")
        lock = store.dataset_dir("race") / ".publish.lock"
        # the second ingest either finishes or waits (holding the lock file open) for its turn
        wait_for(lambda: b.poll() is not None or _has_open(b.pid, lock),
                  "the second ingest to publish or to wait for its turn")
    finally:
        os.kill(a.pid, signal.SIGCONT)
    finish(a)
    finish(b)

    versions = store.versions("race")
    assert versions == list(range(1, len(versions) + 1)) and len(versions) >= 2
    mans = {v: _version_is_whole(store.version_dir("race", v)) for v in versions}
    latest = store.latest_version("race")
    assert latest == max(versions)
    assert _published_names(store.version_dir("race", latest)) == {
        CLEAN[0].file, CLEAN[1].file, CLEAN[2].file}
    assert mans[2]["counts"]["episodes"] >= 2  # the stopped ingest's version, as it wrote it
    assert not list(store.dataset_dir("race").glob(".v*"))  # nothing left half-done


def test_staged_dir_never_replaces_a_published_folder(tmp_path):
    final = tmp_path / "v0002"
    final.mkdir()
    (final / "manifest.json").write_text("theirs")
    with pytest.raises(FileExistsError), staged_dir(final, replace=False) as tmp:
        (tmp / "manifest.json").write_text("mine")
    assert (final / "manifest.json").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v0002"]  # temp folder removed
    # staging results, which are meant to be replaced, still are
    with staged_dir(final) as tmp:
        (tmp / "manifest.json").write_text("mine")
    assert (final / "manifest.json").read_text() == "mine"


def test_atomic_copy_keeps_the_source_metadata_only_when_asked(tmp_path):
    """Quarantine keeps a recording as it came (mode and times); a published copy is a file
    of the store's own."""
    src = tmp_path / "src.bin"
    src.write_bytes(b"recording")
    src.chmod(0o444)
    old_ns = 1_000_000_000_000_000_000
    os.utime(src, ns=(old_ns, old_ns))
    kept = atomic_copy(src, tmp_path / "kept" / "src.bin")
    own = atomic_copy(src, tmp_path / "own" / "src.bin", metadata=False)
    assert kept.read_bytes() == own.read_bytes() == b"recording"
    assert kept.stat().st_mtime_ns == old_ns and stat.S_IMODE(kept.stat().st_mode) == 0o444
    assert own.stat().st_mtime_ns != old_ns and own.stat().st_mode & 0o200
    assert sorted(p.name for p in own.parent.iterdir()) == ["src.bin"]  # no temp file left
    with pytest.raises(FileNotFoundError):
        atomic_copy(tmp_path / "missing", own, metadata=False)
    assert own.read_bytes() == b"recording"
    assert sorted(p.name for p in own.parent.iterdir()) == ["src.bin"]


# ------------------------------------------------------------------ 4. first instance, N times
def _open_instance(root: str, barrier) -> None:
    from pipelines.runner import instance_for as open_instance
    from pipelines.store import Store as StoreInChild

    barrier.wait()
    open_instance(StoreInChild(root))


@pytest.mark.slow
def test_concurrent_first_use_initialises_the_instance_once(demo_recordings, tmp_path):
    store = Store(tmp_path / "store")
    ctx = mp.get_context("spawn")
    n = 4
    barrier = ctx.Barrier(n)
    procs = [ctx.Process(target=_open_instance, args=(str(store.root), barrier))
             for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(PATIENCE_S)
    assert [p.exitcode for p in procs] == [0] * n
    dbs = sorted(store.dagster_home.rglob("*.db"))
    assert {d.name for d in dbs} >= {"runs.db", "schedules.db"}
    for db in dbs:
        with sqlite3.connect(db) as con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            if "alembic_version" in tables:
                assert con.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1, db
    inbox = tmp_path / "in"
    copy_recording(demo_recordings, CLEAN[0], inbox)
    summary = ingest(store, [inbox], "fresh", write_report=False)
    assert not summary.run_failed and summary.version == 1
    assert instance_for(store).get_runs()  # and the instance still opens


# ------------------------------------------------------------------ 7. quarantine collisions
def _write_other_video(src: Path, dst: Path) -> None:
    """The same sidecar name with other bytes (a re-encoded copy from another site)."""
    data = bytearray(src.read_bytes())
    data[-1] ^= 0xFF
    dst.write_bytes(bytes(data))


@pytest.mark.slow
def test_quarantine_keeps_every_sidecar_and_every_dataset_record(demo_recordings, tmp_path):
    store = Store(tmp_path / "store")
    site_a, site_b = tmp_path / "site_a", tmp_path / "site_b"
    main_a = copy_recording(demo_recordings, NAN, site_a)
    main_b = copy_recording(demo_recordings, NAN, site_b)
    side = f"{Path(NAN.file).stem}.cam_wrist.mp4"
    (site_b / side).unlink()
    _write_other_video(site_a / side, site_b / side)
    assert _sha(main_a) == _sha(main_b) and _sha(site_a / side) != _sha(site_b / side)

    s1 = ingest(store, [site_a], "lab1", write_report=False)
    s2 = ingest(store, [site_b], "lab1", write_report=False)
    s3 = ingest(store, [site_a], "lab2", write_report=False)
    qa, qb, qa2 = (Path(s.outcomes[0].quarantined_to) for s in (s1, s2, s3))
    assert qa != qb and qa == qa2
    assert (qa / side).read_bytes() == (site_a / side).read_bytes()
    assert (qb / side).read_bytes() == (site_b / side).read_bytes()
    for q in (qa, qb):
        assert (q / NAN.file).read_bytes() == main_a.read_bytes()
    rec_a1 = json.loads((qa / "findings-lab1.json").read_text())
    rec_b1 = json.loads((qb / "findings-lab1.json").read_text())
    rec_a2 = json.loads((qa / "findings-lab2.json").read_text())
    assert rec_a1["source"] == str(main_a.resolve()) and rec_b1["source"] == str(main_b.resolve())
    assert (rec_a1["dataset"], rec_a2["dataset"]) == ("lab1", "lab2")
    assert rec_a1["episode_uid"] == qa.name  # a one-episode source: its folder is its uid
    # the published versions name where each rejected episode's evidence is
    man = json.loads((store.version_dir("lab1") / "manifest.json").read_text())
    assert {s["quarantine"] for s in man["sources"]} == {qa.name, qb.name}


# ------------------------------------------------------------------ 8. failed at publish
def _with_root_attr(src: Path, dst: Path, name: str, value: str) -> Path:
    """A copy of ``src`` whose metadata differ (new file bytes), streams unchanged."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "r+") as f:
        f.attrs[name] = value
    side = f"{Path(src.name).stem}.cam_wrist.mp4"
    if (src.parent / side).is_file() and not (dst.parent / side).is_file():
        (dst.parent / side).write_bytes((src.parent / side).read_bytes())
    return dst


@pytest.mark.slow
def test_duplicate_found_at_publish_is_reported_and_quarantined(demo_recordings, tmp_path):
    store = Store(tmp_path / "store")
    inbox = tmp_path / "in"
    orig = copy_recording(demo_recordings, CLEAN[0], inbox)
    # the same streams again under another name and operator: a copy
    copy = _with_root_attr(orig, inbox / "copy_of_cup.h5", "operator_id", "op_99")
    res = CliRunner().invoke(app, ["ingest", str(inbox), "--dataset", "dup", "--store",
                                   str(store.root), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    outcome = {o["source_name"]: o for o in doc["outcomes"]}
    eps = pl.read_parquet(store.version_dir("dup") / "episodes.parquet")
    failed = eps.filter(~pl.col("passed"))
    assert failed.height == 1 and doc["counts"]["failed"] == 1
    name = failed["source_name"][0]
    assert {name} < {orig.name, copy.name}
    assert outcome[name]["passed"] is False and outcome[name]["grade"] == "F"
    qdir = Path(outcome[name]["quarantined_to"])
    rec = json.loads((qdir / "findings-dup.json").read_text())
    assert "dataset.duplicate" in {f["check_id"] for f in rec["findings"]}
    assert (qdir / name).read_bytes() == (inbox / name).read_bytes()
    other = ({orig.name, copy.name} - {name}).pop()
    assert outcome[other]["passed"] is True and outcome[other]["quarantined_to"] is None
    # and the table users read says so too
    text = CliRunner().invoke(app, ["ingest", str(inbox), "--dataset", "dup", "--store",
                                    str(store.root)]).output
    line = next(ln for ln in text.splitlines() if name in ln and "→" in ln)
    assert "quarantined" in line and "published" not in line.replace("at publish", "")


@pytest.mark.slow
def test_corrected_recording_supersedes_its_old_self(demo_recordings, tmp_path):
    """A recording re-ingested under the same path with corrected metadata replaces its staged
    old self: it is not a duplicate of it, and the new version holds it once."""
    store = Store(tmp_path / "store")
    inbox = tmp_path / "in"
    good = copy_recording(demo_recordings, CLEAN[0], tmp_path / "good")
    path = _with_root_attr(good, inbox / good.name, "operator_id", "op_wrong")
    first = ingest(store, [inbox], "fix", write_report=False)
    assert first.version == 1 and first.outcomes[0].passed
    path.write_bytes(good.read_bytes())  # the corrected file, same name, same place
    again = ingest(store, [inbox], "fix", write_report=False)
    assert again.version == 2 and again.outcomes[0].passed, again.outcomes
    eps = pl.read_parquet(store.version_dir("fix") / "episodes.parquet")
    assert eps.height == 1 and eps["passed"].to_list() == [True]
    assert eps["operator_id"].to_list() == [CLEAN[0].operator]
    assert eps["episode_uid"].to_list() == [again.outcomes[0].episode_uid]
    # the old version keeps what it published
    old = pl.read_parquet(store.version_dir("fix", 1) / "episodes.parquet")
    assert old["operator_id"].to_list() == ["op_wrong"]


# ------------------------------------------------------------------ 9. permissions
@pytest.mark.slow
@pytest.mark.parametrize(("umask", "dir_mode", "file_mode"),
                         [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)],
                         ids=["umask022", "umask077"])
def test_published_staged_and_exported_files_honour_the_umask(demo_recordings, tmp_path,
                                                              umask, dir_mode, file_mode):
    store = Store(tmp_path / "store")
    inbox = tmp_path / "in"
    copy_recording(demo_recordings, CLEAN[0], inbox)
    out = tmp_path / "export"
    proc = ingest_proc(store, inbox, "perm", umask=umask, export_to=out)
    finish(proc)
    vdir = store.version_dir("perm")
    trees = [vdir, store.staging_dir / "perm", out]
    for top in trees:
        for p in [top, *top.rglob("*")]:
            mode = stat.S_IMODE(p.stat().st_mode)
            want = dir_mode if p.is_dir() else file_mode
            assert mode == want, f"{p}: {oct(mode)} instead of {oct(want)}"
    assert stat.S_IMODE((store.dataset_dir("perm") / "LATEST").stat().st_mode) == file_mode
