"""LeRobot datasets read in one pass (episodes read ahead, each data file opened once) give
exactly what the plain per-episode read gives: the same streams, cameras, metadata, adapter
findings and check findings — on the real samples and on datasets with planted defects."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_adapter_lerobot import MAPPING, PROFILE, write_v21, write_v30

from checks.registry import run_episode_checks
from pipelines.adapters.lerobot import LeRobotAdapter, _matrix
from robots.profile import get_profile


def _same_episode(a, b) -> None:
    assert (a.episode is None) == (b.episode is None)
    assert a.findings == b.findings
    if a.episode is None:
        return
    ea, eb = a.episode, b.episode
    assert ea.metadata == eb.metadata
    assert list(ea.streams) == list(eb.streams)
    for name, sa in ea.streams.items():
        sb = eb.streams[name]
        assert (sa.kind, sa.names, sa.unit, sa.rate_hz, sa.space) == \
            (sb.kind, sb.names, sb.unit, sb.rate_hz, sb.space)
        assert sa.values.dtype == sb.values.dtype == np.float64
        np.testing.assert_array_equal(sa.values, sb.values)
        np.testing.assert_array_equal(sa.timestamps, sb.timestamps)
    assert list(ea.cameras) == list(eb.cameras)
    for name, ca in ea.cameras.items():
        cb = eb.cameras[name]
        assert (ca.width, ca.height, ca.video_path) == (cb.width, cb.height, cb.video_path)
        np.testing.assert_array_equal(ca.timestamps, cb.timestamps)


def _compare(root, mapping=None, checks: bool = False) -> int:
    one, plain = LeRobotAdapter(), LeRobotAdapter(one_pass=False)
    keys = one.episode_keys(root)
    assert keys == plain.episode_keys(root)
    for key in keys:
        a, b = one.read(root, key, mapping), plain.read(root, key, mapping)
        _same_episode(a, b)
        if checks and a.episode is not None:
            robot = get_profile(a.episode.metadata.robot_model) \
                if a.episode.metadata.robot_model == "aloha" else None
            assert run_episode_checks(a.episode, robot, PROFILE) == \
                run_episode_checks(b.episode, robot, PROFILE)
    return len(keys)


def test_g1_sample_one_pass_equals_per_episode(shared_data):
    """Every episode of the real G1 sample, with the findings of every episode check."""
    assert _compare(shared_data / "lerobot-v21-unitree-g1", checks=True) == 100


def test_reachy2_v30_sample_one_pass_equals_per_episode(shared_data):
    assert _compare(shared_data / "lerobot-v30-reachy2") > 1


def test_v21_planted_defects_one_pass_equals_per_episode(tmp_path):
    root = write_v21(tmp_path / "towels", beyond_limit=0, no_video=2,
                     claimed_lengths=(50, 61, 40))
    # a corrupt file between two good ones, read in the same batch
    (root / "data/chunk-000/episode_000001.parquet").write_bytes(b"PAR1 not parquet")
    assert _compare(root, MAPPING, checks=True) == 3


def test_v21_ragged_and_extra_columns_one_pass_equals_per_episode(tmp_path):
    root = write_v21(tmp_path / "towels")
    f = root / "data/chunk-000/episode_000001.parquet"
    t = pq.read_table(f)
    n = t.num_rows
    ragged = pa.array([[0.0] * (1 + i % 2) for i in range(n)], pa.list_(pa.float64()))
    t = t.append_column("observation.extra", ragged)
    t = t.append_column("observation.grip", pa.array(np.linspace(0, 1, n), pa.float32()))
    pq.write_table(t, f)
    one = LeRobotAdapter().read(root, "episode_000001", MAPPING)
    assert any("'observation.extra' is not a fixed-width" in x.message for x in one.findings)
    assert "grip" in one.episode.streams
    assert _compare(root, MAPPING) == 3


def test_v30_unsorted_rows_one_pass_equals_per_episode(tmp_path):
    root = write_v30(tmp_path / "cups")
    f = root / "data/chunk-000/file-000.parquet"
    t = pq.read_table(f)
    rng = np.random.default_rng(3)
    pq.write_table(t.take(pa.array(rng.permutation(t.num_rows))), f)
    assert _compare(root, MAPPING, checks=True) == 3


def test_rewritten_data_file_is_read_again(tmp_path):
    """A file read ahead and then rewritten is read again, not served stale."""
    root = write_v21(tmp_path / "towels")
    ad = LeRobotAdapter()
    first = ad.read(root, "episode_000000", MAPPING)  # reads episodes 1 and 2 ahead
    f = root / "data/chunk-000/episode_000002.parquet"
    t = pq.read_table(f)
    pq.write_table(t.slice(0, 10), f)
    res = ad.read(root, "episode_000002", MAPPING)
    assert first.episode is not None
    assert res.episode.streams["joint_pos"].values.shape[0] == 10


@pytest.mark.parametrize("typ", [pa.list_(pa.float32(), 3), pa.list_(pa.float32()),
                                 pa.large_list(pa.int16())])
def test_matrix_matches_a_row_by_row_stack(typ):
    rows = [[float(i), i + 0.5, -i] for i in range(7)]
    col = pa.chunked_array([pa.array(rows[:3], typ), pa.array(rows[3:], typ)]).slice(1)
    want = np.stack(col.combine_chunks().to_numpy(zero_copy_only=False)).astype(np.float64)
    got = _matrix(col)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)


def test_matrix_refuses_null_and_ragged_rows():
    with pytest.raises((ValueError, TypeError)):
        _matrix(pa.chunked_array([pa.array([[1.0, 2.0], None], pa.list_(pa.float64(), 2))]))
    with pytest.raises((ValueError, TypeError)):
        _matrix(pa.chunked_array([pa.array([[1.0, 2.0], [3.0]], pa.list_(pa.float64()))]))


def test_g1_episodes_are_read_ahead_in_one_batch(shared_data):
    root = shared_data / "lerobot-v21-unitree-g1"
    ad = LeRobotAdapter()
    assert ad.read(root, "episode_000000").episode is not None
    # the next episodes' tables are already in memory, with the stream columns alone
    ahead = ad.one_pass._tables
    assert sorted(ahead) == list(range(1, ad.one_pass.batch))
    assert set(ahead[1][1].column_names) == {"observation.state", "action", "timestamp"}


def test_read_ahead_on_threads_equals_per_episode(tmp_path):
    root = write_v21(tmp_path / "towels", no_video=1)
    (root / "data/chunk-000/episode_000002.parquet").write_bytes(b"PAR1 not parquet")
    threaded, plain = LeRobotAdapter(), LeRobotAdapter(one_pass=False)
    threaded.one_pass.threads = 2
    for key in plain.episode_keys(root):
        _same_episode(threaded.read(root, key, MAPPING), plain.read(root, key, MAPPING))
