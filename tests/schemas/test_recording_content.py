"""Hostile content inside well-formed recordings: text that cannot be published, timestamps
outside the published column's range, absurd rates and declared sizes the file does not hold.

Each case is a real file written with h5py; the reader refuses it with a ``schema.*`` finding
before any later step (checks, curation, publishing) can trip over it.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pytest

from schemas.findings import Finding
from schemas.limits import Limits
from schemas.recording import read_recording
from schemas.tables import FINDINGS_SCHEMA, findings_rows
from tests.hdf5_attrs import UTF8, names_with, set_attr


def _mutate(path: Path, fn) -> None:
    with h5py.File(path, "r+") as f:
        fn(f)


def _publishable(findings: list[Finding]) -> None:
    """Every finding survives the trip to JSON (strict UTF-8) and to the Parquet table."""
    for f in findings:
        json.dumps(f.to_dict(), ensure_ascii=False).encode("utf-8")
    pa.Table.from_pylist(findings_rows("ep", findings), schema=FINDINGS_SCHEMA)


# ------------------------------------------------------------------------------ text
def _site_undecodable(f):  # a UTF-8 string attribute whose bytes are not UTF-8
    set_attr(f, "site", b"tg\xff\xfe01", UTF8)


def _site_bytes(f):  # a fixed-length byte string that is not UTF-8
    set_attr(f, "site", np.bytes_(b"tg\xc3\x28"))


def _site_nul(f):
    set_attr(f, "site", np.bytes_(b"tg\x0001"))


def _task_surrogate(f):  # the UTF-8 encoding of a lone surrogate (CESU-style)
    set_attr(f, "task", b"pick \xed\xa0\x80 cup", UTF8)


def _joint_name(f):
    g = f["streams/joint_pos"]
    set_attr(g, "names", names_with(g, 0, b"left_\xed\xa0\x80hip"), UTF8)


def _unit_bytes(f):
    set_attr(f["streams/joint_pos"], "unit", b"r\xffad", UTF8)


@pytest.mark.parametrize("mutate, check_id, stream, needle", [
    (_site_undecodable, "schema.metadata", "site", "tg\\udcff\\udcfe01"),
    (_site_bytes, "schema.metadata", "site", "must be a UTF-8 string"),
    (_site_nul, "schema.metadata", "site", "no NUL"),
    (_task_surrogate, "schema.metadata", "task", "must be a UTF-8 string"),
    (_joint_name, "schema.stream", "joint_pos", "attr 'names'"),
    (_unit_bytes, "schema.stream", "joint_pos", "attr 'unit'"),
], ids=["site-undecodable", "site-bytes", "site-nul", "task-surrogate", "joint-name",
        "unit-bytes"])
def test_text_that_is_not_utf8_is_refused_and_never_echoed_raw(good, mutate, check_id, stream,
                                                                 needle):
    _mutate(good, mutate)
    res = read_recording(good)
    hits = [f for f in res.findings if f.check_id == check_id and f.stream == stream]
    assert hits and needle in hits[0].message, [(f.check_id, f.message) for f in res.findings]
    _publishable(res.findings)
    md = res.episode.metadata
    for value in (md.site, md.task, md.robot_model, md.operator_id, md.started_at):
        assert "\0" not in value
        value.encode("utf-8")
    if stream == "joint_pos":
        assert "joint_pos" not in res.episode.streams  # left out, not published


def test_unknown_attributes_with_undecodable_text_are_kept_escaped(good):
    _mutate(good, lambda f: set_attr(f, "shift", b"n\xffght", UTF8))
    res = read_recording(good)
    assert res.findings == []
    assert res.episode.metadata.extra["shift"] == "n\\udcffght"
    json.dumps(res.episode.metadata.extra, ensure_ascii=False).encode("utf-8")


def test_a_finding_never_carries_unencodable_text():
    f = Finding("schema.robot", "error", "joint 'a\udcffb' is unknown", stream="s\udc80",
                episode_uids=("e\udcff",))
    assert f.message == "joint 'a\\udcffb' is unknown" and f.stream == "s\\udc80"
    assert f.episode_uids == ("e\\udcff",)
    _publishable([f])


# ------------------------------------------------------------------------- started_at
@pytest.mark.parametrize("value", [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "1969-12-31T23:59:59+00:00",
    "2262-04-12T00:00:00Z",
])
def test_started_at_outside_the_published_range_is_refused(good, value):
    _mutate(good, lambda f: set_attr(f, "started_at", value))
    res = read_recording(good)
    hits = [f for f in res.findings if f.check_id == "schema.metadata"]
    assert len(hits) == 1 and hits[0].stream == "started_at"
    assert "1970-01-01T00:00:00Z and 2262-04-11T23:47:16Z" in hits[0].message
    assert res.episode.metadata.started_at == ""  # never reaches the published table


@pytest.mark.parametrize("value", ["1970-01-01T00:00:00Z", "2262-04-11T23:47:16+00:00",
                                   "2026-11-02T09:15:00.125+08:00"])
def test_started_at_inside_the_range_is_accepted(good, value):
    _mutate(good, lambda f: set_attr(f, "started_at", value))
    res = read_recording(good)
    assert res.findings == [] and res.episode.metadata.started_at == value


# ------------------------------------------------------------------------------- rates
@pytest.mark.parametrize("where, rate, check_id", [
    ("streams/joint_pos", 1.9e-4, "schema.stream"),
    ("streams/imu.base", 1e300, "schema.stream"),
    ("streams/action", 0.05, "schema.stream"),
    ("cameras/cam_head", 1e6, "schema.camera"),
    ("cameras/cam_wrist", 1e-3, "schema.camera"),
])
def test_absurd_rates_are_refused(good, where, rate, check_id):
    _mutate(good, lambda f: f[where].attrs.__setitem__("rate_hz", rate))
    res = read_recording(good)
    name = where.split("/")[1]
    hits = [f for f in res.findings if f.check_id == check_id and f.stream == name]
    assert hits and "must be a number between 0.1 and 100000 Hz" in hits[0].message
    assert name not in res.episode.streams and name not in res.episode.cameras


def test_rate_limits_are_configurable(good):
    _mutate(good, lambda f: f["streams/imu.base"].attrs.__setitem__("rate_hz", 0.05))
    assert read_recording(good, Limits(min_rate_hz=0.01)).findings == []


@pytest.mark.parametrize("rate", [0.1, 100_000.0])
def test_rates_at_the_limits_are_accepted(good, rate):
    _mutate(good, lambda f: f["streams/imu.base"].attrs.__setitem__("rate_hz", rate))
    res = read_recording(good)
    assert not [f for f in res.findings if "rate_hz" in f.message]


# ------------------------------------------------------------------- declared vs present
def _camera(f, name: str, n: int, h: int, w: int, written: int, **kw) -> None:
    g = f.create_group(f"cameras/{name}")
    g["timestamps"] = 1_762_000_000_000_000_000 + np.arange(n, dtype=np.int64) * 100_000_000
    ds = g.create_dataset("frames", shape=(n, h, w, 3), dtype=np.uint8, chunks=(1, h, w, 3),
                          **kw)
    for i in range(written):
        ds[i] = 7
    g.attrs.update({"encoding": "rgb8", "rate_hz": 10.0, "width": w, "height": h})


def test_a_huge_camera_in_a_tiny_file_is_refused(good):
    """2·10^6 frames of 4096x4096 in a file of a few MB: per-axis within the limits, but the
    camera would cost 3.4·10^13 pixels of decoding and its chunks are nearly all absent."""
    _mutate(good, lambda f: _camera(f, "cam_huge", 2_000_000, 4096, 4096, written=1,
                                    compression="gzip"))
    assert good.stat().st_size < 40 * 2**20
    res = read_recording(good)
    assert res.episode is None
    msgs = [f.message for f in res.findings if f.check_id == "schema.unsafe"]
    assert any("/cameras/cam_huge/frames declares 33,554,432,000,000 pixels, over the limit"
               in m for m in msgs), msgs
    assert any("holds data for only 1 of its 2,000,000 chunks" in m for m in msgs), msgs


def test_unallocated_frames_are_refused_not_invented(good):
    """Within every size limit, but most chunks were never written: reading them would
    return fill values the camera never recorded."""
    _mutate(good, lambda f: _camera(f, "cam_sparse", 50, 16, 24, written=3))
    res = read_recording(good)
    assert res.episode is None
    [hit] = [f for f in res.findings if f.check_id == "schema.unsafe"]
    assert hit.message.startswith("/cameras/cam_sparse/frames declares shape (50, 16, 24, 3)")
    assert "only 3 of its 50 chunks" in hit.message and "fill values" in hit.message


def test_unallocated_contiguous_values_are_refused(good):
    def grow(f):
        g = f["streams/imu.base"]
        n, d = g["values"].shape
        del g["values"]
        g.create_dataset("values", shape=(n, d), dtype=np.float64)  # never written
    _mutate(good, grow)
    res = read_recording(good)
    assert res.episode is None
    [hit] = [f for f in res.findings if f.check_id == "schema.unsafe"]
    assert "/streams/imu.base/values" in hit.message and "0 of its 5,760 bytes" in hit.message


def test_fully_written_chunked_and_compressed_frames_are_accepted(good):
    _mutate(good, lambda f: _camera(f, "cam_full", 12, 16, 24, written=12, compression="gzip"))
    res = read_recording(good)
    assert res.findings == [] and "cam_full" in res.episode.cameras


def test_a_stream_declaring_more_values_than_the_limit_is_refused(good):
    def wide(f):
        g = f["streams/imu.base"]
        del g["values"]
        g.create_dataset("values", shape=(120, 600), dtype=np.float32, chunks=(120, 600))
    _mutate(good, wide)
    res = read_recording(good, Limits(max_values_per_stream=50_000))
    assert res.episode is None
    assert any("declares 72,000 values, over the limit of 50,000 per stream" in f.message
               for f in res.findings)


def test_a_sidecar_camera_over_the_pixel_budget_is_refused(good):
    """Timestamps x declared size bound what decoding a video will cost, before opening it."""
    res = read_recording(good, Limits(max_pixels_per_camera=12 * 64 * 48 - 1))
    assert res.episode is None
    msgs = [f.message for f in res.findings if f.check_id == "schema.unsafe"]
    assert any(m.startswith("/cameras/cam_wrist declares 36,864 pixels") for m in msgs), msgs
    assert any("the sidecar" in m and "36,864 pixels, over the limit" in m for m in msgs), msgs
