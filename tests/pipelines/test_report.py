"""The HTML quality report: offline, every timed finding marked, and rendered by a browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import polars as pl
import pytest

from pipelines.demo import DEMO_SET
from pipelines.report import build_report
from pipelines.runner import ingest
from pipelines.store import Store
from tests.pipelines.demo_files import copy_recording

PICK = [r for r in DEMO_SET if r.defect is None][:2] + [
    r for r in DEMO_SET if r.defect in ("video.frozen", "value.nonfinite", "value.joint_limit",
                                        "time.gap")]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and a.get("class") == "finding":
            self.rows.append(a)
        for key in ("src", "href"):
            if a.get(key):
                self.resources.append(a[key])


@pytest.fixture(scope="module")
def published(demo_recordings, tmp_path_factory):
    inbox = tmp_path_factory.mktemp("inbox")
    for rec in PICK:
        copy_recording(demo_recordings, rec, inbox)
    store = Store(tmp_path_factory.mktemp("store"))
    ingest(store, [inbox], "demo")
    out = build_report(tmp_path_factory.mktemp("r") / "report.html", store=store, name="demo")
    return store, out


def test_report_is_self_contained(published):
    _store, out = published
    parser = _Rows()
    parser.feed(out.read_text())
    assert parser.resources and all(r.startswith("data:image/png;base64,")
                                    for r in parser.resources)
    assert "<script" not in out.read_text()


def test_every_timed_finding_is_marked_at_its_place(published):
    store, out = published
    vdir = store.version_dir("demo")
    eps = pl.read_parquet(vdir / "episodes.parquet").select("episode_uid", "t0_ns")
    f = pl.read_parquet(vdir / "findings.parquet").join(eps, on="episode_uid")
    f = f.filter(pl.col("t_start_ns").is_not_null() & pl.col("t0_ns").is_not_null())
    parser = _Rows()
    parser.feed(out.read_text())
    marked = {(r["data-check"], r["data-t-start"]) for r in parser.rows}
    assert f.height >= 4
    for row in f.iter_rows(named=True):
        t = f"{(row['t_start_ns'] - row['t0_ns']) / 1e9:.3f}"
        assert (row["check_id"], t) in marked, (row["check_id"], t)
    planted = {r.defect for r in PICK if r.defect}
    assert planted <= {c for c, _ in marked}


def test_report_of_loose_recordings(demo_recordings, tmp_path):
    rec = next(r for r in PICK if r.defect == "value.nonfinite")
    copy_recording(demo_recordings, rec, tmp_path / "in")
    out = build_report(tmp_path / "loose.html", paths=[tmp_path / "in"])
    text = out.read_text()
    assert "value.nonfinite" in text and rec.file in text and 'data-t-start="2.' in text


@pytest.mark.browser
def test_report_renders_in_headless_chromium(published, tmp_path):
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (Debian package 'chromium'; "
                    "'make test' installs it when apt-get is available)")
    _store, out = published
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    shot = tmp_path / "shot.png"
    proc = subprocess.run([CHROMIUM, *flags, "--window-size=1280,1600", "--hide-scrollbars",
                           f"--screenshot={shot}", out.as_uri()], capture_output=True,
                          text=True, timeout=120)
    assert shot.is_file(), proc.stderr[-2000:]
    console_errors = [line for line in proc.stderr.splitlines()
                      if "CONSOLE" in line and ("rror" in line or "Uncaught" in line)]
    assert not console_errors
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[1] == 1280 and float(np.std(img)) > 10  # not blank
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", out.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    n_img = len(re.findall(r'<img class="plot"', dom))
    assert n_img >= 3 and "episodes by grade" not in dom.split("<body>")[0]
    # every embedded plot decodes as a real image
    for b64 in re.findall(r'src="data:image/png;base64,([^"]+)"', dom)[:5]:
        import base64

        data = np.frombuffer(base64.b64decode(b64), dtype=np.uint8)
        assert cv2.imdecode(data, cv2.IMREAD_COLOR) is not None
    assert Path(out).stat().st_size < 20 * 2**20
