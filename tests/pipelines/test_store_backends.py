"""The store's seam: ``Store(...)`` picks the local folder or the fsspec store, both keep the
same layout and the same guarantees (atomic writes, a version never replaced), and a store in
object storage (fsspec's in-memory filesystem standing in for a bucket) publishes, exports and
reports like the local one."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import fsspec
import polars as pl
import pytest

from pipelines.demo import DEMO_SET
from pipelines.export.core import export_dataset
from pipelines.report import build_report
from pipelines.runner import ingest
from pipelines.store import BACKEND_ENV, STORE_URL_ENV, Store
from pipelines.store.remote import FsspecStore
from tests.pipelines.demo_files import copy_recording

CLEAN = [r for r in DEMO_SET if r.defect is None]
PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
#: A store file or folder name spelled as a literal, or joined onto a path.
_LAYOUT_LITERAL = re.compile(
    r'/ "(frames|videos|curated|files|staging|quarantine|datasets|sources|inbox|dagster|'
    r'registry|robots|reports)"|"(report|curated|dataset|manifest)\.json"|"LATEST"|'
    r'"(episodes|findings|frames)\.parquet"')
#: The plain Parquet export spells its own format's file names (not the store's); the
#: per-recording processing module still writes staging by name until it is split.
_ALLOWED = {"export/parquet_export.py", "processing.py"}


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


def test_a_failed_write_leaves_the_old_file(tmp_path):
    store = Store((tmp_path / "store").as_uri())
    path = store.dataset_settings("ds")
    store.write_json(path, {"fps": 30.0})
    with pytest.raises(RuntimeError), store.open_output(path) as fh:
        fh.write(b"half")
        raise RuntimeError("dies while writing")
    assert store.dataset_clock("ds") == 30.0
    assert [p.name for p in path.parent.iterdir()] == ["dataset.json"]


@pytest.mark.slow
def test_a_store_in_object_storage_publishes_exports_and_reports(demo_recordings, tmp_path,
                                                                  monkeypatch):
    """Published versions live in the bucket; the work area (staging, instance, locks) on
    local disk; export and report read the version back through the store."""
    work = tmp_path / "work"
    monkeypatch.setenv("EMBODIQ_STORE", str(work))
    bucket = f"embodiq-{uuid.uuid4().hex[:8]}"
    store = Store(f"memory://{bucket}/store")
    inbox = tmp_path / "in"
    for rec in CLEAN[:2]:
        copy_recording(demo_recordings, rec, inbox)
    summary = ingest(store, [inbox], "lab", write_report=True, workers=1)
    assert not summary.run_failed and summary.version == 1, summary
    fs = fsspec.filesystem("memory")
    key = f"/{bucket}/store/datasets/lab"
    assert fs.cat_file(f"{key}/LATEST") == b"v0001\n"
    manifest = json.loads(fs.cat_file(f"{key}/v0001/manifest.json"))
    assert manifest["counts"]["passed"] == 2 and manifest["counts"]["frames"] > 0
    for f in manifest["files"]:
        assert fs.info(f"{key}/v0001/{f['path']}")["size"] == f["size"]
    assert not (work / "datasets" / "lab" / "v0001").exists()  # only its lock is local
    assert (work / "staging" / "lab").is_dir() and (work / "dagster").is_dir()
    assert store.manifest("lab") == manifest
    assert store.read_episodes_table("lab", columns=["passed"]).column("passed").to_pylist() \
        == [True, True]

    out = tmp_path / "export"
    res = export_dataset(store, "lab", "parquet", out)
    assert res.episodes == 2 and res.frames == manifest["counts"]["frames"]
    assert pl.read_parquet(out / "train" / "frames.parquet").height == res.frames
    report = build_report(tmp_path / "report.html", store=store, name="lab")
    assert "lab v0001" in report.read_text()

    again = ingest(store, [inbox], "lab", write_report=False, workers=1)
    assert again.version == 1 and not again.new_version  # nothing changed: LATEST reused
    assert Path(summary.version_path) == store.version_dir("lab")
