"""A version's frames are written from the staged tables read ahead, in order, a few at once."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.publish import _read_ahead
from pipelines.store import Store


def _staged(tmp_path, n):
    files = []
    for i in range(n):
        f = tmp_path / f"ep-{i}.parquet"
        pq.write_table(pa.table({"frame_index": list(range(i + 1))}), f)
        files.append(f)
    return files


@pytest.mark.parametrize(("n", "ahead"), [(0, 3), (2, 3), (3, 3), (7, 3), (7, 1)])
def test_tables_come_back_in_the_order_of_their_files(tmp_path, n, ahead):
    store = Store(tmp_path / "store")
    got = [t.num_rows for t in _read_ahead(store, _staged(tmp_path, n), ahead)]
    assert got == [i + 1 for i in range(n)]


def test_a_table_that_cannot_be_read_fails_at_its_turn(tmp_path):
    files = _staged(tmp_path, 5)
    files[3].write_bytes(b"not parquet")
    tables = _read_ahead(Store(tmp_path / "store"), files, 2)
    assert [next(tables).num_rows for _ in range(3)] == [1, 2, 3]
    with pytest.raises(pa.ArrowInvalid):
        next(tables)
