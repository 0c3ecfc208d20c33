"""The dataset clock builds no more frames than the episode's samples support."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from pipelines.frames import BeyondFloat32, SparseSources, frames_table, make_grid
from schemas.limits import MAX_FRAMES_PER_SAMPLE
from schemas.recording import read_recording
from tests.checks.test_check_bounds import write_sparse


def test_a_handful_of_samples_over_a_long_span_is_not_curated(tmp_path):
    """20 samples over 10^5 s: the 30 fps clock would need 3,000,001 frames."""
    ep = read_recording(write_sparse(tmp_path / "sparse.h5", 20, 1e5, 50.0)).episode
    with pytest.raises(SparseSources, match=r"would need 3,000,001 frames .* only 20 "
                                            r"sample\(s\) there; curation builds at most 10"):
        frames_table(ep, "ep-1", 30.0)


def test_the_bound_is_per_sample_of_the_densest_source(tmp_path):
    path = write_sparse(tmp_path / "slow.h5", 21, 20.0, 1.0)  # 1 Hz, 20 s
    ep = read_recording(path).episode
    assert make_grid(ep, MAX_FRAMES_PER_SAMPLE * 1.0).n == 201  # 10 frames per sample: fine
    with pytest.raises(SparseSources):
        make_grid(ep, MAX_FRAMES_PER_SAMPLE * 1.0 + 1.0)
    # a denser source in the same span supports a finer clock
    with h5py.File(path, "r+") as f:
        g = f.create_group("streams/imu")
        g["timestamps"] = f["streams/joint_pos/timestamps"][0] + np.arange(
            401, dtype=np.int64) * 50_000_000
        g["values"] = np.zeros((401, 3))
        g.attrs.update({"kind": "imu", "names": ["ax", "ay", "az"], "unit": "m/s^2",
                        "rate_hz": 20.0})
    res = frames_table(read_recording(path).episode, "ep-1", 30.0)
    assert res is not None and res.grid.n == 601


def test_regular_recordings_keep_their_full_clock(tmp_path):
    ep = read_recording(write_sparse(tmp_path / "ok.h5", 301, 6.0, 50.0)).episode
    res = frames_table(ep, "ep-1", 30.0)
    assert res is not None and res.grid.n == 181 and res.table.num_rows == 181


@pytest.mark.parametrize("kind", ["joint_position", "imu"])  # linear and nearest resampling
def test_values_beyond_float32_are_refused_not_published_as_infinities(tmp_path, recwarn, kind):
    path = write_sparse(tmp_path / "big.h5", 301, 6.0, 50.0)
    with h5py.File(path, "r+") as f:
        g = f["streams/joint_pos"]
        g.attrs["kind"] = kind
        values = g["values"][()]
        values[100:120, 2] = -3e200
        del g["values"]
        g["values"] = values
    ep = read_recording(path).episode
    with pytest.raises(BeyondFloat32, match=r"joint_pos: \d+ value\(s\) on the dataset clock lie "
                                            r"beyond ±3.4e38, .* such as -3e\+200 \(frame "
                                            r"\d+, column 2\); this episode is not curated") as e:
        frames_table(ep, "ep-1", 30.0)
    assert e.value.stream == "joint_pos"
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    # the largest float32 itself is held
    with h5py.File(path, "r+") as f:
        values[100:120, 2] = np.finfo(np.float32).max
        f["streams/joint_pos/values"][...] = values
    res = frames_table(read_recording(path).episode, "ep-1", 30.0)
    assert res is not None and np.isfinite(res.table.column("joint_pos").combine_chunks()
                                            .flatten().to_numpy()).all()
