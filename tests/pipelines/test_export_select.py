"""Choosing episodes: the --where filter, refusing failed episodes, trimming idle spans."""

from __future__ import annotations

import polars as pl
import pytest
from export_fixtures import HandEpisode, write_version

from pipelines.export import ExportError, export_dataset
from pipelines.export.select import plan_slices, trimmed_range
from pipelines.store import Store, StoreError


@pytest.fixture
def store(tmp_path) -> Store:
    st = Store(tmp_path / "store")
    write_version(st, "lab", [
        HandEpisode("ep-a", grade="A", task="pick up the cup", operator_id="op_1", started=1),
        HandEpisode("ep-b", grade="B", task="open the drawer", operator_id="op_2", started=2,
                    n_frames=120),
        HandEpisode("ep-c", grade="A", task="pick up the red cup", operator_id="op_1",
                    started=3, idle_span_frames=(10, 29)),
        HandEpisode("ep-f", passed=False, grade="F", started=4),
    ])
    return st


def _plan(store: Store, **kw):
    path = store.version_dir("lab") / "episodes.parquet"
    kw = {"where": None, "split": "train=1.0", "seed": 0, "group_by": None, **kw}
    return plan_slices(pl.read_parquet(path), path, **kw)


def test_default_selection_is_the_passed_episodes(store):
    assert [s.uid for s in _plan(store)] == ["ep-a", "ep-b", "ep-c"]


@pytest.mark.parametrize("where, uids", [
    ("grade IN ('A','B')", {"ep-a", "ep-b", "ep-c"}),
    ("passed AND task LIKE '%cup%'", {"ep-a", "ep-c"}),
    ("passed AND duration_s > 5", {"ep-b"}),
    ("operator_id = 'op_1' AND grade = 'A'", {"ep-a", "ep-c"}),
])
def test_where_expressions(store, where, uids):
    assert {s.uid for s in _plan(store, where=where)} == uids


def test_selecting_a_failed_episode_is_refused(store):
    with pytest.raises(ExportError, match=r"selects 1 episode\(s\) .* failed the quality gate "
                                          r"\(ep-f.h5\).*AND passed"):
        _plan(store, where="grade IN ('A', 'F')")
    for where in ("true", "task LIKE '%cup%'", "NOT passed"):
        with pytest.raises(ExportError, match="failed the quality gate"):
            _plan(store, where=where)


@pytest.mark.parametrize("where, message", [
    ("grade IN (", "is not a valid filter"),
    ("no_such_column > 3", "no_such_column"),
    ("grade = 'Z'", "selects no episode"),
])
def test_bad_filters_name_the_expression(store, where, message):
    with pytest.raises(ExportError, match=message) as err:
        _plan(store, where=where)
    assert where in str(err.value) and "episodes.parquet" in str(err.value)


def test_group_by_unknown_column_is_refused(store):
    with pytest.raises(ExportError, match="'shoe_size' is not a column"):
        _plan(store, group_by="shoe_size")


def test_group_by_keeps_a_group_in_one_split(store):
    for seed in range(20):
        slices = _plan(store, split="train=0.5,val=0.5", seed=seed, group_by="operator_id")
        by_op: dict[str, set[str]] = {}
        for s in slices:
            by_op.setdefault(s.row["operator_id"], set()).add(s.split)
        assert all(len(v) == 1 for v in by_op.values())


def test_episodes_are_ordered_split_by_split(store):
    for seed in range(10):
        order = [s.split for s in _plan(store, split="train=0.4,val=0.3,test=0.3", seed=seed)]
        rank = {"train": 0, "val": 1, "test": 2}
        assert order == sorted(order, key=rank.__getitem__)


def test_trimmed_range_covers_the_active_span():
    fps, t0 = 20.0, 1_000
    assert trimmed_range(40, fps, t0, None) == (0, 40)
    assert trimmed_range(40, fps, t0, (t0 + 500_000_000, t0 + 1_450_000_000)) == (10, 30)
    # rounded outwards, clipped to the episode
    assert trimmed_range(40, fps, t0, (t0 + 510_000_000, t0 + 9_000_000_000)) == (10, 40)
    # a span of under two frames is not usable: the whole episode is kept
    assert trimmed_range(40, fps, t0, (t0 + 500_000_000, t0 + 500_000_000)) == (0, 40)
    assert trimmed_range(40, fps, None, (1, 2)) == (0, 40)


def test_trim_idle_keeps_only_the_active_span(store):
    s = {x.uid: x for x in _plan(store, spans={"ep-c": (0, 0)})}
    assert (s["ep-a"].start, s["ep-a"].stop) == (0, 40)
    from pipelines.export.select import active_spans

    spans = active_spans(store.version_dir("lab") / "findings.parquet")
    s = {x.uid: x for x in _plan(store, spans=spans)}
    assert (s["ep-c"].start, s["ep-c"].stop) == (10, 30)
    assert (s["ep-a"].start, s["ep-a"].stop) == (0, 40)


def test_unknown_dataset_version_format_and_fps(store, tmp_path):
    with pytest.raises(StoreError, match="dataset 'nope' has no published version"):
        export_dataset(store, "nope", "parquet", tmp_path / "o")
    with pytest.raises(StoreError, match="version 7 of dataset 'lab' does not exist"):
        export_dataset(store, "lab", "parquet", tmp_path / "o", version=7)
    with pytest.raises(ExportError, match="--format 'csv' is not known"):
        export_dataset(store, "lab", "csv", tmp_path / "o")
    with pytest.raises(ExportError, match="--fps -1 must be a positive"):
        export_dataset(store, "lab", "parquet", tmp_path / "o", fps=-1)
    assert not (tmp_path / "o").exists()
