"""The HTML quality report of the real demo dataset: offline, every timed finding marked at its
place, and rendered by a real browser without console errors.

These run the whole pipeline on the demo set first (shared with the export tests), hence
``slow``; the odd cases on small hand-made versions are in ``test_report_cases.py``.
"""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import cv2
import numpy as np
import polars as pl
import pytest
from chromium import render, require_chromium
from demo_files import copy_recording
from export_fixtures import demo_store

from pipelines.demo import DEMO_SET
from pipelines.report import build_report

pytestmark = pytest.mark.slow


class Page(HTMLParser):
    """The parts of the report tests look at: finding rows, sections, images and links."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.images: list[dict[str, str]] = []
        self.links: list[str] = []
        self.sections: list[dict[str, str]] = []
        self._section: dict[str, str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "section" and "episode" in a.get("class", ""):
            self._section = a
            self.sections.append(a)
        if tag == "tr" and a.get("class") == "finding":
            self.rows.append({**a, "uid": (self._section or {}).get("data-uid", "")})
        if tag == "img":
            self.images.append({**a, "uid": (self._section or {}).get("data-uid", "")})
        if tag in ("a", "link") and a.get("href"):
            self.links.append(a["href"])
        if tag in ("script", "iframe", "object", "embed"):
            self.links.append(f"<{tag}>")


def _decode(src: str) -> np.ndarray | None:
    raw = base64.b64decode(src.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The published demo dataset (shared with other tests) and its report."""
    store = demo_store(tmp_path_factory)
    out = build_report(tmp_path_factory.mktemp("report") / "report.html", store=store,
                       name="demo")
    return store, out


def test_report_is_self_contained(demo):
    _store, out = demo
    page = Page(out.read_text())
    assert page.images and all(i["src"].startswith("data:image/png;base64,")
                               for i in page.images)
    assert all(link.startswith("#") for link in page.links), page.links  # in-page links only
    text = out.read_text()
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert out.stat().st_size < 8 * 2**20


def test_every_timed_finding_is_marked_at_its_place(demo):
    store, out = demo
    vdir = store.version_dir("demo")
    eps = pl.read_parquet(vdir / "episodes.parquet").select("episode_uid", "t0_ns",
                                                             "source_name")
    timed = (pl.read_parquet(vdir / "findings.parquet").join(eps, on="episode_uid")
             .filter(pl.col("t_start_ns").is_not_null()))
    assert timed.height >= 6 and timed["t0_ns"].null_count() == 0
    page = Page(out.read_text())
    marked = {(r["uid"], r["data-check"], r["data-t-start"], r["data-t-end"])
              for r in page.rows}
    for f in timed.iter_rows(named=True):
        start = f"{(f['t_start_ns'] - f['t0_ns']) / 1e9:.3f}"
        end = f"{(max(f['t_end_ns'] or f['t_start_ns'], f['t_start_ns']) - f['t0_ns']) / 1e9:.3f}"
        assert (f["episode_uid"], f["check_id"], start, end) in marked, (f["source_name"], f)
    # each planted defect is found in its own recording and, when it has a time, placed there
    by_name = dict(eps.select("source_name", "episode_uid").iter_rows())
    for rec in DEMO_SET:
        rows = [r for r in page.rows if r["uid"] == by_name[rec.file]]
        if rec.defect is None:
            assert not [r for r in rows if r["data-severity"] == "error"], rec.file
        elif rec.defect.startswith("schema."):
            assert rec.defect in {r["data-check"] for r in rows}, rec.file
        else:
            assert any(r["data-check"] == rec.defect and r["data-t-start"] for r in rows), \
                rec.file


def test_episodes_with_timed_findings_are_plotted_failing_first(demo):
    store, out = demo
    eps = pl.read_parquet(store.version_dir("demo") / "episodes.parquet")
    page = Page(out.read_text())
    order = [s["data-uid"] for s in page.sections]
    passed = dict(eps.select("episode_uid", "passed").iter_rows())
    assert sorted(order) == sorted(passed) and [passed[u] for u in order] == sorted(
        passed[u] for u in order)  # rejected first
    plotted = {i["uid"] for i in page.images if i["class"] == "plot" and i["uid"]}
    readable = set(eps.filter(pl.col("source_name") != "h1_cup_0008_truncated.h5")["episode_uid"])
    assert plotted == readable  # rejected ones too, read back from the quarantine
    # camera frames around the frozen camera, decoded from the published video
    frozen = eps.filter(pl.col("source_name") == "h1_cup_0004_frozen_cam.h5")["episode_uid"][0]
    thumbs = [i for i in page.images if i["class"] == "thumb" and i["uid"] == frozen]
    assert len(thumbs) >= 3 and all(_decode(t["src"]) is not None for t in thumbs)
    assert "RMS jerk (motion.jerk)" in out.read_text() or len(page.images) > len(plotted)


def test_report_of_loose_recordings_matches_the_published_one(demo, demo_recordings, tmp_path):
    _store, published = demo
    rec = next(r for r in DEMO_SET if r.defect == "value.nonfinite")
    copy_recording(demo_recordings, rec, tmp_path / "in")
    (tmp_path / "in" / "notes.h5").write_bytes(b"not an HDF5 file at all")
    out = build_report(tmp_path / "loose.html", paths=[tmp_path / "in"])
    loose = Page(out.read_text())
    pub = Page(published.read_text())
    want = {(r["data-check"], r["data-t-start"]) for r in pub.rows
            if r["data-check"] == "value.nonfinite"}
    got = {(r["data-check"], r["data-t-start"]) for r in loose.rows}
    assert want and want <= got
    text = out.read_text()
    assert rec.file in text and "notes.h5" in text  # the unreadable file is listed, not fatal
    assert any(i["class"] == "plot" for i in loose.images[2:])


@pytest.mark.browser
def test_report_renders_in_headless_chromium(demo, tmp_path):
    require_chromium()
    _store, out = demo
    shown = render(out, tmp_path / "chromium")
    assert not shown.console_errors, shown.console_errors
    img = cv2.imread(str(shown.screenshot))
    assert img is not None and img.shape[1] == 1280
    colours = (img[..., 0].astype(np.uint32) << 16) | (img[..., 1].astype(np.uint32) << 8) \
        | img[..., 2]
    assert float(np.std(img)) > 20 and len(np.unique(colours)) > 50  # not blank: text and plots
    page = Page(shown.dom)
    plots = [i for i in page.images if i["class"] == "plot"]
    assert len(plots) >= 2 + 11 and "Quality report — demo v0001" in shown.dom
    for i in page.images:  # every embedded image the browser holds decodes
        decoded = _decode(i["src"])
        assert decoded is not None and decoded.shape[0] > 10 and float(np.std(decoded)) > 1
    assert re.search(r'data-check="video\.frozen"', shown.dom)
