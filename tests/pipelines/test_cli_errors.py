"""Bad options and hostile stores end in one plain sentence and the right exit, never a traceback.

Tests run as root, where permission bits do not stop a write; the unwritable stores here are
places no one may write: under /sys, under /proc, below a regular file, and a folder made
immutable with ``chattr +i`` (which binds root too; skipped where the file system refuses it).
"""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pipelines.cli.common import PlainErrorsGroup, describe_os_error, open_store
from pipelines.cli.main import app
from pipelines.demo import DEMO_SET
from tests.pipelines.demo_files import copy_recording

runner = CliRunner()
CLEAN = next(r for r in DEMO_SET if r.defect is None)


def _plain(res, code: int) -> str:
    """The one-line error of a command that ended with ``code`` and without a traceback."""
    assert res.exit_code == code, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output
    return " ".join(res.stderr.split())


@pytest.fixture
def recording(demo_recordings, tmp_path) -> Path:
    return copy_recording(demo_recordings, CLEAN, tmp_path / "rec").parent


@contextlib.contextmanager
def immutable(folder: Path):
    """``folder`` with the immutable attribute: nothing can be created in it, even by root."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available")
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make {folder} immutable here: {made.stderr.decode().strip()}")
    try:
        probe = folder / ".probe"
        try:
            probe.mkdir()
        except OSError:
            pass
        else:
            probe.rmdir()
            pytest.skip("the immutable attribute does not stop writes here")
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


# ------------------------------------------------------------------------------------- --fps
@pytest.mark.parametrize("fps", ["-5", "0", "nan", "inf", "0.5", "1e6"])
def test_ingest_refuses_unusable_fps(recording, tmp_path, fps):
    store = tmp_path / "store"
    res = runner.invoke(app, ["ingest", str(recording), "--dataset", "lab", "--fps", fps,
                              "--store", str(store)])
    text = _plain(res, 2)
    assert "--fps" in text and "from 1 to 1000" in text
    assert not store.exists()  # refused before anything is registered or run


# ---------------------------------------------------------------------------------- --workers
@pytest.mark.parametrize("command", [["check"], ["ingest", "--dataset", "lab"], ["demo"]])
def test_a_worker_count_past_what_the_machine_can_run_is_refused(recording, tmp_path, command):
    """``--workers 100000`` (a slip of the keyboard) is a usage error, not 100000 processes
    forked until the machine runs out of memory."""
    from pipelines.processing.pool import MAX_WORKERS_PER_CORE, default_workers

    most = MAX_WORKERS_PER_CORE * default_workers()
    store = tmp_path / "store"
    args = [command[0], *([str(recording)] if command[0] != "demo" else []), *command[1:],
            "--store", str(store)]
    res = runner.invoke(app, [*args, "--workers", "100000"])
    text = _plain(res, 2)
    assert f"--workers 100000: at most {most} on this machine" in text
    assert not store.exists()


def test_the_ingest_api_refuses_too_many_workers(recording, tmp_path):
    from pipelines.runner import ingest
    from pipelines.store import Store

    with pytest.raises(ValueError, match="workers 100000: at most"):
        ingest(Store(tmp_path / "store"), [recording], "lab", workers=100000)


# ---------------------------------------------------------------------------------- --store
def test_a_store_path_that_is_not_utf8_is_refused_before_anything_is_written(recording,
                                                                             tmp_path):
    """The store's path goes into its manifests, instance and reports, which hold text: a
    path with bytes that are not UTF-8 is refused up front (it once quarantined every
    recording as unreadable and failed the publish)."""
    import os

    from pipelines.store import Store, StoreError

    odd = Path(os.fsdecode(bytes(tmp_path) + b"/store\xff"))
    res = runner.invoke(app, ["ingest", str(recording), "--dataset", "lab", "--store", str(odd)])
    text = _plain(res, 2)
    assert "the store's path must be UTF-8 text" in text and "store\\udcff" in text
    assert not odd.exists()
    with pytest.raises(StoreError, match="must be UTF-8 text"):
        Store(odd)


def test_a_profile_file_named_with_bytes_that_are_not_utf8_still_publishes(recording,
                                                                          tmp_path):
    """The profile's name (its file's stem) is published in the manifest: bytes that are not
    UTF-8 are escaped there, and the publish goes through (it failed)."""
    import os

    profile = Path(os.fsdecode(bytes(tmp_path) + b"/lab\xfe.toml"))
    profile.write_text('extends = "default"\n')
    store = tmp_path / "store"
    res = runner.invoke(app, ["ingest", str(recording), "--dataset", "lab", "--profile",
                              str(profile), "--store", str(store), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["publish_error"] is None and summary["version"] == 1
    manifest = json.loads((Path(summary["version_path"]) / "manifest.json").read_text())
    assert manifest["profile"]["name"] == "lab\\udcfe"


def test_an_export_path_that_is_not_utf8_is_refused(recording, tmp_path):
    import os

    store = tmp_path / "store"
    made = runner.invoke(app, ["ingest", str(recording), "--dataset", "lab", "--store",
                               str(store)])
    assert made.exit_code == 0, made.output
    out = Path(os.fsdecode(bytes(tmp_path) + b"/out\xfe"))
    res = runner.invoke(app, ["export", "lab", "--format", "parquet", "--out", str(out),
                              "--store", str(store)])
    text = _plain(res, 2)
    assert "the export's path must be UTF-8 text" in text and not out.exists()


# --------------------------------------------------------------------------------- --mapping
def test_ingest_missing_mapping_is_usage_error_like_check(recording, tmp_path):
    missing = tmp_path / "no-such-mapping.toml"
    store = tmp_path / "store"
    checked = runner.invoke(app, ["check", str(recording), "--mapping", str(missing),
                                  "--store", str(store)])
    ingested = runner.invoke(app, ["ingest", str(recording), "--dataset", "lab", "--mapping",
                                   str(missing), "--store", str(store)])
    assert _plain(checked, 2) == _plain(ingested, 2)
    assert str(missing) in ingested.stderr and "mapping file not found" in ingested.stderr
    assert not (store / "sources").exists() and not (store / "datasets").exists()


def test_unknown_mapping_name_is_usage_error_naming_where_it_looked(recording, tmp_path,
                                                                   monkeypatch):
    """A shipped name mistyped never falls back to the layout's defaults."""
    from pipelines.mapping import MAPPINGS_DIR

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store"
    checked = runner.invoke(app, ["check", str(recording), "--mapping", "lerobot-g1",
                                  "--store", str(store)])
    ingested = runner.invoke(app, ["ingest", str(recording), "--dataset", "lab", "--mapping",
                                   "lerobot-g1", "--store", str(store)])
    msg = _plain(checked, 2)
    assert msg == _plain(ingested, 2)
    assert "mapping 'lerobot-g1' not found" in msg
    assert str(tmp_path / "lerobot-g1") in msg and str(MAPPINGS_DIR / "lerobot-g1.toml") in msg
    assert not (store / "sources").exists() and not (store / "datasets").exists()


# ---------------------------------------------------------------------------------- --store
COMMANDS = {
    "ingest": lambda rec: ["ingest", str(rec), "--dataset", "lab"],
    "check": lambda rec: ["check", str(rec)],
    "export": lambda rec: ["export", "lab", "--format", "parquet", "--out",
                           str(rec.parent / "out")],
    "uid issue": lambda rec: ["uid", "issue", "--model", "aloha", "--serial", "7"],
    "uid list": lambda rec: ["uid", "list"],
    "uid resolve": lambda rec: ["uid", "resolve", "--model", "aloha", "--serial", "7"],
    "demo": lambda rec: ["demo"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("bad", ["a file", "below a file"])
def test_store_that_is_or_lies_below_a_file_is_usage_error(recording, tmp_path, command, bad):
    f = tmp_path / "notes.txt"
    f.write_text("not a store")
    store = f if bad == "a file" else f / "store"
    res = runner.invoke(app, [*COMMANDS[command](recording), "--store", str(store)])
    text = _plain(res, 2)
    assert str(store) in text and "is a file" in text
    assert f.read_text() == "not a store"


@pytest.mark.parametrize("command", ["ingest", "uid issue"])
@pytest.mark.parametrize("root", ["/sys", "/proc"])
def test_store_where_nothing_can_be_created_is_one_plain_error(recording, command, root):
    store = Path(root) / "embodiq-store"
    if store.exists():
        pytest.skip(f"{store} exists")
    res = runner.invoke(app, [*COMMANDS[command](recording), "--store", str(store)])
    text = _plain(res, 1)
    assert str(store) in text
    assert any(r in text.lower() for r in ("read-only", "not permitted", "permission denied",
                                           "no such file"))


def test_immutable_store_is_one_plain_error_and_still_lists(recording, tmp_path):
    store = tmp_path / "store"
    res = runner.invoke(app, ["uid", "issue", "--model", "aloha", "--serial", "7", "--store",
                              str(store)])
    assert res.exit_code == 0, res.output
    code = res.stdout.strip().splitlines()[-1]
    with immutable(store), immutable(store / "registry"):
        res = runner.invoke(app, [*COMMANDS["ingest"](recording), "--store", str(store)])
        text = _plain(res, 1)
        assert str(store) in text and "not permitted" in text
        res = runner.invoke(app, ["uid", "issue", "--model", "aloha", "--serial", "8",
                                  "--store", str(store)])
        text = _plain(res, 1)
        assert str(store / "registry" / "robots.sqlite") in text and "read-only" in text
        listed = runner.invoke(app, ["uid", "list", "--json", "--store", str(store)])
        assert listed.exit_code == 0, listed.output
        assert [b["code"] for b in json.loads(listed.stdout)] == [code]
        res = runner.invoke(app, ["uid", "resolve", "--model", "aloha", "--serial", "7",
                                  "--store", str(store)])
        assert res.exit_code == 0 and res.stdout.strip() == code
        res = runner.invoke(app, ["uid", "validate", code, "--store", str(store)])
        assert res.exit_code == 0 and "registered to aloha serial 7" in res.stdout


def test_full_disk_at_the_command_boundary_is_one_plain_error(tmp_path):
    """/dev/full fails every write with ENOSPC, as a full disk does."""
    demo = typer.Typer(cls=PlainErrorsGroup)

    @demo.command()
    def write(store: Path) -> None:
        open_store(store)
        with open("/dev/full", "wb") as fh:
            fh.write(b"x" * 10)

    @demo.command()
    def other() -> None:
        pass

    res = runner.invoke(demo, ["write", str(tmp_path / "st")])
    text = _plain(res, 1)
    assert "no space left on the device" in text and str(tmp_path / "st") in text


def test_os_errors_are_described_by_errno(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OSError) as caught:
        (tmp_path / "f" / "sub").mkdir()
    assert caught.value.errno == errno.ENOTDIR
    assert describe_os_error(caught.value) == \
        f"{tmp_path / 'f' / 'sub'}: a part of the path is a file, not a folder"
    for code, words in ((errno.EROFS, "read-only"), (errno.EACCES, "permission denied"),
                        (errno.ENOSPC, "no space left")):
        assert words in describe_os_error(OSError(code, "x", "/some/path"))
        assert describe_os_error(OSError(code, "x", "/some/path")).startswith("/some/path: ")
