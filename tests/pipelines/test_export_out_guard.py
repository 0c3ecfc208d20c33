"""``embodiq export --out … --force`` never replaces the store, the version or a source recording.

The dataset is really ingested (through the pipeline, from recordings outside the store), so the
store has its whole layout and registered sources; every refusal goes through the command line
and must leave the store and the recordings byte for byte as they were.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli.main import app
from pipelines.demo import DEMO_SET, make_demo_recordings

CLEAN = tuple(r for r in DEMO_SET if r.defect is None)[:2]


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, Path]:
    """(store root, recordings folder) of a dataset 'lab' published by ``embodiq ingest``."""
    base = tmp_path_factory.mktemp("guard")
    rec = base / "recordings"
    make_demo_recordings(rec, CLEAN)
    store = base / "store"
    res = CliRunner().invoke(app, ["ingest", str(rec), "--dataset", "lab", "--store", str(store),
                                   "--quiet"])
    assert res.exit_code == 0, res.output
    assert (store / "datasets" / "lab" / "v0001" / "manifest.json").is_file()
    return store, rec


def _snapshot(*roots: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and folder under ``roots`` with its inode, size and modification time."""
    snap = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for n in dirnames + filenames:
                p = Path(dirpath) / n
                st = p.lstat()
                snap[str(p)] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return snap


def _targets(store: Path, rec: Path, tmp: Path) -> dict[str, Path]:
    alias = tmp / "alias"
    alias.symlink_to(store, target_is_directory=True)
    return {
        "the store": store,
        "datasets/NAME": store / "datasets" / "lab",
        "the version": store / "datasets" / "lab" / "v0001",
        "inside the version": store / "datasets" / "lab" / "v0001" / "sub",
        "inside the store": store / "exports" / "lab",
        "the store's parent": store.parent,
        "a symlink to the store": alias,
        "through a symlink": alias / "datasets" / "lab",
        "through ..": store / "inbox" / ".." / "datasets" / "lab",
        "the recordings' folder": rec,
        "a source recording": rec / CLEAN[0].file,
    }


@pytest.mark.parametrize("case", [
    "the store", "datasets/NAME", "the version", "inside the version", "inside the store",
    "the store's parent", "a symlink to the store", "through a symlink", "through ..",
    "the recordings' folder", "a source recording"])
@pytest.mark.parametrize("fmt", ["parquet", "lerobot"])
def test_out_overlapping_the_store_or_a_source_is_refused(published, tmp_path, case, fmt):
    store, rec = published
    out = _targets(store, rec, tmp_path)[case]
    before = _snapshot(store, rec)
    res = CliRunner().invoke(app, ["export", "lab", "--format", fmt, "--out", str(out),
                                   "--force", "--store", str(store)])
    assert res.exit_code == 2, res.output
    message = " ".join(res.stderr.split())
    assert "an export never writes there" in message and str(out) in message
    assert "Traceback" not in res.output
    assert _snapshot(store, rec) == before


def test_out_beside_the_store_and_sources_is_fine(published, tmp_path):
    store, rec = published
    before = _snapshot(store, rec)
    out = tmp_path / "lab-parquet"
    res = CliRunner().invoke(app, ["export", "lab", "--format", "parquet", "--out", str(out),
                                   "--store", str(store), "--quiet"])
    assert res.exit_code == 0, res.output
    assert (out / "train" / "frames.parquet").is_file()
    res = CliRunner().invoke(app, ["export", "lab", "--format", "parquet", "--out", str(out),
                                   "--force", "--store", str(store), "--quiet"])
    assert res.exit_code == 0, res.output
    assert _snapshot(store, rec) == before
