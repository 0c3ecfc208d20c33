"""The store's seam: ``Store(...)`` picks the local folder or the fsspec store, both keep the
same layout and the same guarantees (atomic writes, a version never replaced), and a store in
object storage (fsspec's in-memory filesystem standing in for a bucket) publishes, exports and
reports like the local one."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pipelines.demo import DEMO_SET
from pipelines.store import BACKEND_ENV, STORE_URL_ENV, Store
from pipelines.store.remote import FsspecStore
from tests.pipelines.demo_files import copy_recording

CLEAN = [r for r in DEMO_SET if r.defect is None]
PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
#: A store file or folder name spelled as a literal, or joined onto a path.
_LAYOUT_LITERAL = re.compile(
    r'/ "(frames|videos|curated|files|staging|quarantine|datasets|sources|inbox|dagster|'
    r'registry|robots|reports)"|"(report|curated|dataset|manifest)\.json"|"LATEST"|'
    r'"(episodes|findings|frames)\.parquet"|"findings-|'
    r'(sources|staging|quarantine|inbox|datasets|reports|robots)_dir / f?"')
#: The plain Parquet export spells its own format's file names (not the store's).
_ALLOWED = {"export/parquet_export.py"}


def test_no_module_but_the_store_spells_the_layout():
    found = []
    for path in sorted(PIPELINES.rglob("*.py")):
        rel = path.relative_to(PIPELINES).as_posix()
        if rel.startswith("store/") or rel in _ALLOWED:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _LAYOUT_LITERAL.search(line):
                found.append(f"pipelines/{rel}:{n}: {line.strip()}")
    assert not found, "ask the Store instead:\n" + "\n".join(found)


def test_store_picks_its_backend(tmp_path, monkeypatch):
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    monkeypatch.delenv(STORE_URL_ENV, raising=False)
    local = Store(tmp_path / "s")
    assert type(local) is Store and local.url == str(tmp_path / "s")
    by_url = Store((tmp_path / "s").as_uri())
    assert isinstance(by_url, FsspecStore) and by_url.root == local.root
    assert by_url.local_root == local.root and by_url.datasets_dir == local.datasets_dir
    monkeypatch.setenv(BACKEND_ENV, "fsspec")
    assert isinstance(Store(tmp_path / "s"), FsspecStore)
    monkeypatch.delenv(BACKEND_ENV)
    monkeypatch.setenv(STORE_URL_ENV, "memory://embodiq-pick/store")
    remote = Store()
    assert isinstance(remote, FsspecStore) and remote.url == "memory://embodiq-pick/store"
    # a root printed as a path opens the same store again (workers get it that way)
    assert Store(str(remote.root)).url == remote.url
    assert Store(remote.url).datasets_dir == remote.datasets_dir


@pytest.mark.parametrize("make", [Store, lambda p: Store(p.as_uri())], ids=["local", "fsspec"])
def test_a_version_folder_is_claimed_never_replaced(tmp_path, make):
    store = make(tmp_path / "store")
    final = store.version_path("ds", 1)
    final.mkdir(parents=True)
    (final / "manifest.json").write_text("theirs")
    with pytest.raises(FileExistsError), store.new_version("ds", 1) as w:
        w.write_manifest({"mine": True})
    assert (final / "manifest.json").read_text() == "theirs"
    assert sorted(p.name for p in final.parent.iterdir()) == ["v0001"]  # temp folder gone
    with store.new_version("ds", 2) as w:
        w.write_manifest({"mine": True})
    assert store.finished_manifest("ds", 2) == {"mine": True}
    store.set_latest("ds", 2)
    store.set_latest("ds", 2)  # replaced atomically, no temp file left behind
    assert store.latest_version("ds") == 2
    assert sorted(p.name for p in final.parent.iterdir()) == ["LATEST", "v0001", "v0002"]


@pytest.mark.parametrize("make", [Store, lambda p: Store(p.as_uri())], ids=["local", "fsspec"])
def test_a_failed_write_leaves_the_old_file(tmp_path, make):
    store = make(tmp_path / "store")
    path = store.dataset_settings("ds")
    store.write_json(path, {"fps": 30.0})
    with pytest.raises(RuntimeError), store.open_output(path) as fh:
        fh.write(b"half")
        raise RuntimeError("dies while writing")
    with pytest.raises(FileNotFoundError):
        store.put_file(tmp_path / "no such file", path)
    assert store.dataset_clock("ds") == 30.0
    assert [p.name for p in path.parent.iterdir()] == ["dataset.json"]


#: Run in a process of its own: fsspec's in-memory filesystem (the stand-in bucket) lives in
#: one process, and the work area is the configuration of every process of the host
#: (``EMBODIQ_STORE``), worker processes included, as in a deployment.
_OBJECT_STORE_RUN = """
import json, sys
from pathlib import Path
import fsspec, polars as pl
from pipelines.export.core import export_dataset
from pipelines.report import build_report
from pipelines.runner import ingest
from pipelines.store import Store

bucket, inbox, out, report = sys.argv[1:5]
store = Store(f"memory://{bucket}/store")
first = ingest(store, [Path(inbox)], "lab", write_report=True)
again = ingest(store, [Path(inbox)], "lab", write_report=False)
fs = fsspec.filesystem("memory")
key = f"/{bucket}/store/datasets/lab"
files = {p[len(key) + 1:]: i["size"] for p, i in fs.find(key, detail=True).items()}
exported = export_dataset(store, "lab", "parquet", out)
json.dump({
    "failed": first.run_failed, "version": first.version, "path": first.version_path,
    "again": [again.version, again.new_version],
    "latest": fs.cat_file(f"{key}/LATEST").decode(),
    "manifest": json.loads(fs.cat_file(f"{key}/v0001/manifest.json")),
    "read_back": store.manifest("lab"), "files": files,
    "passed": store.read_episodes_table("lab", columns=["passed"]).column("passed").to_pylist(),
    "exported": [exported.episodes, exported.frames,
                 pl.read_parquet(Path(out) / "train" / "frames.parquet").height],
    "report": "lab v0001" in build_report(Path(report), store=store, name="lab").read_text(),
}, sys.stdout)
"""


@pytest.mark.slow
def test_a_store_in_object_storage_publishes_exports_and_reports(demo_recordings, tmp_path):
    """Published versions live in the bucket; the work area (staging, instance, locks) on
    local disk; export and report read the version back through the store; publishing the
    same episodes again reuses LATEST."""
    work, inbox = tmp_path / "work", tmp_path / "in"
    for rec in CLEAN[:2]:
        copy_recording(demo_recordings, rec, inbox)
    env = {**os.environ, "EMBODIQ_STORE": str(work), "PYTHONPATH": str(PIPELINES.parent)}
    env.pop(BACKEND_ENV, None)
    env.pop(STORE_URL_ENV, None)
    run = subprocess.run(
        [sys.executable, "-c", _OBJECT_STORE_RUN, f"embodiq-{uuid.uuid4().hex[:8]}",
         str(inbox), str(tmp_path / "export"), str(tmp_path / "report.html")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout)
    assert not got["failed"] and got["version"] == 1 and got["latest"] == "v0001\n"
    assert got["path"].startswith("memory:/embodiq-")
    assert got["again"] == [1, False]  # nothing changed: LATEST reused
    man = got["manifest"]
    assert man["counts"]["passed"] == 2 and man["counts"]["frames"] > 0
    assert got["read_back"] == man and got["passed"] == [True, True]
    assert got["files"] == {**{f"v0001/{f['path']}": f["size"] for f in man["files"]},
                            "v0001/manifest.json": got["files"].get("v0001/manifest.json"),
                            "LATEST": 6}
    assert got["exported"] == [2, man["counts"]["frames"], man["counts"]["frames"]]
    assert got["report"]
    # the work area is on local disk; of the dataset only its publish lock is
    assert (work / "staging" / "lab").is_dir() and (work / "dagster").is_dir()
    assert [p.name for p in (work / "datasets" / "lab").iterdir()] == [".publish.lock"]
