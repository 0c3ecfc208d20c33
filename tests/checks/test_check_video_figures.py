"""The per-frame video figures agree with plain-numpy references, and the luma-plane decode of a
video agrees with decoding it to RGB and converting."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from checks.catalog.video import scan_camera
from checks.kernels import video as kv
from schemas.episode import ArrayFrames, Camera
from schemas.frame_sources import VideoFrames, decode_video
from schemas.recording_writer import write_video

# --- numpy references ------------------------------------------------------------------------


def ref_grey(rgb: np.ndarray) -> np.ndarray:
    w = np.array([0.299, 0.587, 0.114])
    return np.clip(np.rint(rgb.astype(np.float64) @ w), 0, 255).astype(np.uint8)


def ref_laplacian_variance(g: np.ndarray) -> float:
    p = np.pad(g.astype(np.int64), 1, mode="reflect")  # OpenCV's default border
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * p[1:-1, 1:-1]
    return float(lap.astype(np.float64).var())


def ref_mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int64) - b.astype(np.int64)).mean())


def ref_block_max_abs_diff(a: np.ndarray, b: np.ndarray, block: int = 16) -> float:
    """Blocks from the top-left corner; the 1 to ``block - 1`` pixels left over at the right
    and bottom join the last block of their row or column (a side shorter than ``block`` is
    one block)."""
    d = np.abs(a.astype(np.int64) - b.astype(np.int64)).astype(np.float64)
    cuts = [[*range(0, max(n // block, 1) * block, block), n] for n in d.shape]
    return max(float(d[y0:y1, x0:x1].mean())
               for y0, y1 in pairwise(cuts[0]) for x0, x1 in pairwise(cuts[1]))


def ref_scan(frames: np.ndarray) -> tuple[list[float], list[float], list[float]]:
    greys = [ref_grey(f) for f in frames]
    luma = [float(g.mean()) for g in greys]
    diff = [float("inf")] + [ref_mean_abs_diff(b, a) for a, b in pairwise(greys)]
    return luma, diff, [ref_laplacian_variance(g) for g in greys]


grey_images = st.tuples(st.integers(2, 40), st.integers(2, 40)).flatmap(
    lambda hw: arrays(np.uint8, hw))


@settings(max_examples=60, deadline=None)
@given(grey_images)
def test_laplacian_variance_matches_numpy(g):
    assert kv.laplacian_variance(g) == pytest.approx(ref_laplacian_variance(g), rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(grey_images, st.integers(0, 2**32 - 1))
def test_mean_level_and_difference_match_numpy(a, seed):
    b = np.random.default_rng(seed).permutation(a.ravel()).reshape(a.shape)
    assert kv.mean_level(a) == pytest.approx(float(a.mean()))
    assert kv.mean_abs_diff(a, b) == pytest.approx(ref_mean_abs_diff(a, b))
    assert kv.mean_abs_diff(a, a) == 0.0


grey_pairs = st.tuples(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1)).map(
    lambda hws: tuple(np.random.default_rng(hws[2]).integers(0, 256, (2, hws[0], hws[1]),
                                                              dtype=np.uint8)))


@settings(max_examples=80, deadline=None)
@given(grey_pairs)
def test_fused_frame_figures_match_numpy(pair):
    a, b = pair
    level, change, worst, lap = kv.frame_figures(a, b)
    assert level == pytest.approx(float(a.mean()), rel=1e-12)
    assert change == pytest.approx(ref_mean_abs_diff(a, b), rel=1e-12)
    assert worst == pytest.approx(ref_block_max_abs_diff(a, b), rel=1e-12)
    if min(a.shape) > 1:  # numpy's reflect padding needs two pixels; one row is checked below
        assert lap == pytest.approx(ref_laplacian_variance(a), rel=1e-9, abs=1e-9)
    assert lap == pytest.approx(kv.laplacian_variance(a), rel=1e-9, abs=1e-9)  # OpenCV's


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 1), (3, 2)])
def test_fused_frame_figures_on_one_pixel_wide_or_high_frames(shape):
    a = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    level, change, worst, lap = kv.frame_figures(a)
    assert level == pytest.approx(float(a.mean())) and change == worst == float("inf")
    assert lap == pytest.approx(kv.laplacian_variance(a), abs=1e-9)


def test_fused_frame_figures_on_rows_wider_than_a_chunk_and_padded_rows():
    """Rows longer than the 32-bit partial sums' chunk, extreme values (the largest squared
    Laplacian everywhere), and a decoder-like view whose rows are padded."""
    checker = (np.indices((6, 5000)).sum(axis=0) % 2 * 255).astype(np.uint8)
    level, _, _, lap = kv.frame_figures(checker)
    assert level == pytest.approx(float(checker.mean()))
    assert lap == pytest.approx(ref_laplacian_variance(checker), rel=1e-12)
    wide = np.random.default_rng(5).integers(0, 256, (2, 40, 4200), dtype=np.uint8)
    assert kv.frame_figures(wide[0], wide[1])[1:3] == pytest.approx(
        (ref_mean_abs_diff(wide[0], wide[1]), ref_block_max_abs_diff(wide[0], wide[1])))
    padded = np.random.default_rng(4).integers(0, 256, (2, 50, 72), dtype=np.uint8)
    a, b = padded[0][:, :61], padded[1][:, :61]
    assert kv.frame_figures(a, b) == pytest.approx(
        (float(a.mean()), ref_mean_abs_diff(a, b), ref_block_max_abs_diff(a, b),
         ref_laplacian_variance(a)))


def test_fused_frame_figures_refuse_other_frames():
    with pytest.raises(ValueError, match="8-bit grey"):
        kv.frame_figures(np.zeros((4, 4), np.uint16))
    with pytest.raises(ValueError, match="8-bit grey"):
        kv.frame_figures(np.zeros((0, 4), np.uint8))
    assert kv.frame_figures(np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8))[1:3] == \
        (float("inf"), float("inf"))
    with pytest.raises(ValueError, match="block"):
        kv.frame_figures(np.zeros((4, 4), np.uint8), block=0)


# --- the most changed block ------------------------------------------------------------------

# sides around multiples of 16, so partial edge blocks of every size up to 15 px come up
block_sides = st.one_of(st.integers(1, 70), st.sampled_from([15, 16, 17, 31, 32, 33, 47, 48]))
block_pairs = st.tuples(block_sides, block_sides, st.integers(0, 2**32 - 1),
                        st.sampled_from([16, 16, 16, 8, 5])).map(
    lambda t: (*np.random.default_rng(t[2]).integers(0, 256, (2, t[0], t[1]), dtype=np.uint8),
               t[3]))


@settings(max_examples=120, deadline=None)
@given(block_pairs)
def test_block_change_matches_numpy_on_random_frames(pair):
    a, b, block = pair
    want = ref_block_max_abs_diff(a, b, block)
    assert kv.frame_figures(a, b, block)[2] == pytest.approx(want, rel=1e-12)
    assert kv.block_max_abs_diff(a, b, block) == pytest.approx(want, rel=1e-12)
    assert kv.frame_figures(a, a, block)[2] == 0.0 == kv.block_max_abs_diff(a, a, block)


@settings(max_examples=60, deadline=None)
@given(block_sides, block_sides, st.integers(0, 255), st.integers(0, 255))
def test_block_change_of_constant_frames_is_their_difference(h, w, u, v):
    a, b = np.full((h, w), u, np.uint8), np.full((h, w), v, np.uint8)
    assert kv.frame_figures(a, b)[1:3] == (abs(u - v), abs(u - v))
    assert kv.block_max_abs_diff(a.astype(np.uint16) * 200, b.astype(np.uint16) * 200) == \
        200 * abs(u - v)


@settings(max_examples=60, deadline=None)
@given(block_sides, block_sides, st.integers(0, 2**32 - 1))
def test_one_changed_pixel_counts_once_in_its_own_block(h, w, seed):
    """Every pixel, edge ones included, belongs to exactly one block, whose size is what the
    change is divided by."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w), dtype=np.uint8)
    y, x = int(rng.integers(h)), int(rng.integers(w))
    b = a.copy()
    b[y, x] = 255 - a[y, x]
    (nby, last_h), (nbx, last_w) = kv.block_edges(h, 16), kv.block_edges(w, 16)
    rows = last_h if y // 16 >= nby - 1 else 16
    cols = last_w if x // 16 >= nbx - 1 else 16
    assert kv.frame_figures(a, b)[2] == pytest.approx(abs(255 - 2 * int(a[y, x])) / (rows * cols))


@pytest.mark.parametrize(("n", "blocks"), [(1, (1, 1)), (15, (1, 15)), (16, (1, 16)),
                                           (17, (1, 17)), (31, (1, 31)), (32, (2, 16)),
                                           (360, (22, 24)), (480, (30, 16))])
def test_partial_edge_blocks_join_the_last_block(n, blocks):
    assert kv.block_edges(n, 16) == blocks


def test_a_small_moving_object_changes_its_block_not_the_frame_mean():
    """The false freeze: a 12 px square moving 3 px over a still 640x480 scene changes the
    frame mean by a fraction of a grey level, and its own block by far more than 2."""
    scene = np.random.default_rng(6).integers(60, 190, (480, 640), dtype=np.uint8)
    a, b = scene.copy(), scene.copy()
    a[200:212, 300:312] = 250
    b[200:212, 303:315] = 250
    _, change, worst, _ = kv.frame_figures(b, a)
    assert change < 0.5 < 2.0 < worst


def test_difference_of_frames_of_other_sizes_is_infinite():
    assert kv.mean_abs_diff(np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8)) == float("inf")


def test_depth_figures_use_the_full_16_bits():
    a = np.full((8, 8), 1000, np.uint16)
    b = a + np.uint16(300)
    assert kv.mean_abs_diff(a, b) == 300.0 and kv.mean_level(b) == 1300.0


@settings(max_examples=40, deadline=None)
@given(st.tuples(st.integers(1, 30), st.integers(1, 30)).flatmap(
    lambda hw: arrays(np.uint8, (*hw, 3))))
def test_grey_conversion_matches_numpy_within_one_level(rgb):
    assert np.abs(kv.to_grey(rgb).astype(int) - ref_grey(rgb)).max() <= 1


@pytest.mark.parametrize(("w", "h", "out"), [(640, 480, (480, 640)), (320, 240, (240, 320)),
                                             (1280, 720, (360, 640)), (1920, 1080, (360, 640)),
                                             (2000, 3, (1, 640))])
def test_blur_input_scales_down_to_640_wide_never_up(w, h, out):
    g = np.random.default_rng(0).integers(0, 256, (h, w), dtype=np.uint8)
    small = kv.blur_input(g)
    assert small.shape == out
    if w <= 640:
        assert small is g


def test_blur_input_is_an_area_average():
    g = np.random.default_rng(1).integers(0, 256, (480, 1280), dtype=np.uint8)
    ref = g.reshape(240, 2, 640, 2).astype(np.float64).mean(axis=(1, 3))
    assert kv.blur_input(g).shape == ref.shape
    assert np.abs(kv.blur_input(g).astype(np.float64) - ref).max() <= 1.0


@settings(max_examples=25, deadline=None)
@given(st.tuples(st.integers(1, 6), st.integers(3, 24), st.integers(3, 24)).flatmap(
    lambda nhw: arrays(np.uint8, (nhw[0], nhw[1], nhw[2], 3))))
def test_scan_of_stored_frames_matches_numpy(frames):
    n = len(frames)
    cam = Camera("c", np.arange(n, dtype=np.int64) * 33_000_000, "rgb8", 30.0,
                 frames.shape[2], frames.shape[1], frames=ArrayFrames(frames))
    sc = scan_camera(cam, want_luma=True, want_blur=True)
    luma, diff, _sharp = ref_scan(frames)
    assert sc.decoded == n and sc.error is None
    # OpenCV's grey conversion rounds in fixed point: one level at most per pixel
    assert sc.luma == pytest.approx(luma, abs=1.0)
    assert sc.diff[0] == float("inf") and sc.diff[1:] == pytest.approx(diff[1:], abs=2.0)
    greys = [kv.to_grey(f) for f in frames]
    assert sc.sharpness == pytest.approx([ref_laplacian_variance(g) for g in greys])
    assert sc.diff[1:] == pytest.approx([ref_mean_abs_diff(b, a) for a, b in pairwise(greys)])
    assert sc.block_diff[0] == float("inf")
    assert sc.block_diff[1:] == pytest.approx([ref_block_max_abs_diff(b, a)
                                               for a, b in pairwise(greys)])


# --- the luma-plane decode against RGB decode + conversion -----------------------------------


@dataclass
class RgbDecode:
    """The same video decoded to RGB by OpenCV, one frame at a time (the reference path)."""

    path: Path

    def iter_frames(self) -> Iterator[np.ndarray]:
        return decode_video(self.path)

    def describe(self) -> str:
        return str(self.path)


@pytest.fixture(scope="module")
def mixed_video(tmp_path_factory) -> tuple[Path, int]:
    """Textured moving frames with dark, bright, blurred and frozen stretches."""
    rng = np.random.default_rng(5)
    tex = np.repeat(np.repeat(rng.integers(30, 226, (60, 80, 3), dtype=np.uint8), 4, 0), 4, 1)
    frames = []
    for i in range(60):
        f = tex[i % 40:i % 40 + 120, (2 * i) % 80:(2 * i) % 80 + 160].copy()
        if 10 <= i < 20:
            f = (f * 0.03).astype(np.uint8)
        elif 20 <= i < 30:
            f = np.clip(f.astype(np.int16) + 220, 0, 255).astype(np.uint8)
        elif 30 <= i < 40:
            f = cv2.GaussianBlur(f, (0, 0), 5)
        elif 40 <= i < 50:
            f = frames[9]
        frames.append(f)
    path = tmp_path_factory.mktemp("video") / "mixed.mp4"
    return path, write_video(path, iter(frames), 30.0, 160, 120)


def test_luma_plane_decode_agrees_with_rgb_decode(mixed_video):
    path, n = mixed_video
    ts = np.arange(n, dtype=np.int64) * 33_333_333
    fast = scan_camera(Camera("c", ts, "video", 30.0, 160, 120, frames=VideoFrames(path)),
                       True, True)
    slow = scan_camera(Camera("c", ts, "video", 30.0, 160, 120, frames=RgbDecode(path)),
                       True, True)
    assert fast.decoded == slow.decoded == n and fast.first_shape == slow.first_shape
    assert np.abs(np.array(fast.luma) - slow.luma).max() < 4.0
    # the thresholds decide alike: dark, bright and blurred frames are the same frames (dark
    # and blown-out frames have no contrast left, so they measure as blurred too)
    for (lo, hi), (lo_ok, hi_ok), series, level, below in (
            ((10, 20), (9, 21), "luma", 15, True), ((20, 30), (19, 31), "luma", 240, False),
            ((30, 40), (9, 41), "sharpness", 50, True)):
        for sc in (fast, slow):
            v = np.array(getattr(sc, series))
            flagged = set(np.flatnonzero(v < level if below else v > level).tolist())
            assert set(range(lo, hi)) <= flagged <= set(range(lo_ok, hi_ok)), \
                (series, sorted(flagged))
    # a still image settles over a frame or two of codec refinement, then stays identical
    frozen = [set(np.flatnonzero(np.array(sc.diff) < 0.5).tolist()) for sc in (fast, slow)]
    assert frozen[0] == frozen[1] and set(range(43, 50)) <= frozen[0]


def test_luma_planes_of_a_limited_range_video_map_black_to_zero(tmp_path):
    path = tmp_path / "flat.mp4"
    levels = [0, 64, 128, 200, 255]
    write_video(path, (np.full((64, 64, 3), v, np.uint8) for v in levels for _ in range(3)),
                30.0, 64, 64)
    got = [(kv.mean_level(p.pixels) - p.offset) * p.gain
           for p in kv.iter_grey_planes(VideoFrames(path))]
    assert np.abs(np.array(got[1::3]) - levels).max() < 3.0
