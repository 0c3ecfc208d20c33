"""The report on small hand-made versions: camera frames at the right time, idle spans, rejected
episodes with and without a quarantined recording, the --max-episodes cap, and a browser pass."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from chromium import render, require_chromium
from export_fixtures import T0_NS, HandEpisode, frame_grey, write_version
from test_report import Page

from pipelines.report import build_report
from pipelines.store import Store
from pipelines.synthetic import CameraPlan, EpisodePlan, generate_episode
from robots.profile import get_profile
from schemas.recording_writer import write_recording

FPS = 20.0
QSHA = "ab" * 32


def _finding(uid: str, check: str, severity: str, a_s: float | None, b_s: float | None,
             stream: str | None = "joint_pos", message: str = "planted") -> dict:
    def ns(t):
        return None if t is None else T0_NS + round(t * 1e9)

    return {"episode_uid": uid, "check_id": check, "severity": severity, "stream": stream,
            "value": 1.0, "threshold": 0.5, "t_start_ns": ns(a_s), "t_end_ns": ns(b_s),
            "message": message, "episode_uids": None}


def _add_findings(vdir, rows: list[dict]) -> None:
    path = vdir / "findings.parquet"
    old = pq.read_table(path)
    pq.write_table(pa.concat_tables([old, pa.Table.from_pylist(rows, schema=old.schema)]), path)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Passed ``ep-a`` (camera, idle head and tail, a frozen span), rejected ``ep-q`` whose
    recording is in the quarantine (t0 unknown in the table), rejected ``ep-f`` whose is not."""
    store = Store(tmp_path_factory.mktemp("store"))
    qdir = store.quarantine_dir / QSHA
    qdir.mkdir(parents=True)
    ep = generate_episode(get_profile("unitree-h1"), EpisodePlan(
        duration_s=2.0, seed=3, cameras=(CameraPlan("cam_head", "rgb8", width=64, height=48),)))
    write_recording(ep, qdir / "q.h5")
    first = int(ep.streams["joint_pos"].timestamps[0])
    vdir = write_version(store, "lab", [
        HandEpisode("ep-a", cameras=("cam",), idle_span_frames=(5, 30)),
        HandEpisode("ep-q", passed=False, grade="F", started=1,
                    extra={"source_sha256": QSHA, "source_name": "q.h5", "t0_ns": None}),
        HandEpisode("ep-f", passed=False, grade="F", started=2)], fps=FPS)
    q_nan = _finding("ep-q", "value.nonfinite", "error", None, None)
    q_nan.update(t_start_ns=first + 1_000_000_000, t_end_ns=first + 1_200_000_000)
    _add_findings(vdir, [
        _finding("ep-a", "video.frozen", "warning", 0.5, 1.0, stream="cam"),
        _finding("ep-a", "motion.jerk", "info", None, None),
        q_nan,
        _finding("ep-f", "time.gap", "error", 0.8, 0.9),
        _finding(None, "dataset.balance", "info", None, None, stream="task",
                 message="episodes per task: <all one>")])
    out = build_report(tmp_path_factory.mktemp("r") / "lab.html", store=store, name="lab")
    return store, out


def _section(page: Page, uid: str) -> tuple[list[dict], list[dict]]:
    return ([r for r in page.rows if r["uid"] == uid],
            [i for i in page.images if i["uid"] == uid])


def test_camera_frames_are_taken_around_the_video_finding(lab):
    _store, out = lab
    _rows, images = _section(Page(out.read_text()), "ep-a")
    thumbs = {i["alt"]: i["src"] for i in images if i["class"] == "thumb"}
    # before, at, inside and after the frozen span 0.50–1.00 s: frames 0, 10, 15 and 30
    assert list(thumbs) == ["cam at 0.00 s", "cam at 0.50 s", "cam at 0.75 s", "cam at 1.50 s"]
    for (alt, src), k in zip(thumbs.items(), (0, 10, 15, 30), strict=True):
        img = cv2.imdecode(np.frombuffer(base64.b64decode(src.split(",", 1)[1]), np.uint8),
                           cv2.IMREAD_GRAYSCALE)
        assert abs(float(img.mean()) - frame_grey(k)) < 6, alt


def test_spans_are_in_seconds_from_the_first_frame(lab):
    _store, out = lab
    rows, images = _section(Page(out.read_text()), "ep-a")
    spans = {r["data-check"]: (r["data-t-start"], r["data-t-end"]) for r in rows}
    assert spans["motion.idle"] == ("0.250", "1.500")  # the active span, as published
    assert spans["video.frozen"] == ("0.500", "1.000")
    assert spans["motion.jerk"] == ("", "")
    assert [i["class"] for i in images].count("plot") == 1


def test_rejected_episodes_come_from_the_quarantine_or_say_why_not(lab):
    _store, out = lab
    text = out.read_text()
    page = Page(text)
    assert [s["data-uid"] for s in page.sections][-1] == "ep-a"  # rejected first
    rows, images = _section(page, "ep-q")
    # t0 is the recording's first state sample, so the planted 1.0 s lands at 1.0 s
    assert [(r["data-check"], r["data-t-start"], r["data-t-end"]) for r in rows] == [
        ("value.nonfinite", "1.000", "1.200")]
    assert [i["class"] for i in images].count("plot") == 1
    rows, images = _section(page, "ep-f")
    assert [(r["data-check"], r["data-t-start"]) for r in rows] == [("time.gap", "0.800")]
    assert not images and "its recording is not in the quarantine" in text
    assert "episodes per task: &lt;all one&gt;" in text  # dataset findings, escaped


def test_max_episodes_caps_the_plots_failing_first(lab, tmp_path):
    store, _out = lab
    out = build_report(tmp_path / "one.html", store=store, name="lab", max_episodes=1)
    page = Page(out.read_text())
    assert {i["uid"] for i in page.images if i["class"] == "plot" and i["uid"]} == {"ep-q"}
    assert out.read_text().count("1 episodes are plotted in detail (--max-episodes)") == 1
    assert {r["data-check"] for r in page.rows} >= {"video.frozen", "time.gap", "motion.idle"}


@pytest.mark.browser
def test_small_report_renders_in_headless_chromium(lab, tmp_path):
    require_chromium()
    _store, out = lab
    shown = render(out, tmp_path / "chromium", height=1600)
    assert not shown.console_errors, shown.console_errors
    shot = cv2.imread(str(shown.screenshot))
    assert shot is not None and float(np.std(shot)) > 20
    page = Page(shown.dom)
    assert len([i for i in page.images if i["class"] == "plot"]) == 2 + 2
    for i in page.images:
        raw = base64.b64decode(i["src"].split(",", 1)[1])
        assert cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR) is not None


@pytest.mark.browser
def test_console_errors_are_caught(tmp_path):
    """The browser check would see a broken page: a script error reaches the console log."""
    require_chromium()
    page = tmp_path / "broken.html"
    page.write_text("<!doctype html><html><body><p>x</p>"
                    "<script>undefinedFunctionCall();</script></body></html>")
    shown = render(page, tmp_path / "chromium", height=200)
    assert shown.console_errors, shown.log[-2000:]
