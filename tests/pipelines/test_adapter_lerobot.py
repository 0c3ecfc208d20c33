"""LeRobot v2.1 and v3.0 datasets: generated ones with planted defects and contradictions, and
the real samples (Unitree G1 v2.1, Reachy2 v3.0)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from checks.grading import passes_gate
from checks.registry import run_episode_checks
from pipelines.adapters.lerobot import ADAPTER
from pipelines.mapping import MAPPINGS_DIR, load_mapping
from pipelines.sources import discover, read_source
from pipelines.synthetic import EpisodePlan, generate_episode
from robots.profile import get_profile
from schemas.quality_profile import load_quality_profile
from tests.pipelines.lerobot_folders import SCALAR_FEATURES, episode_table

PROFILE = load_quality_profile()
FPS = 50
CAM = "observation.images.top"
ALOHA = get_profile("aloha")
MAPPING = {"_source": "test mapping", "robot_model": "aloha"}


def _checks(ep):
    return run_episode_checks(ep, get_profile(ep.metadata.robot_model), PROFILE)


def _trajectory(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    ep = generate_episode(ALOHA, EpisodePlan(duration_s=n / FPS + 0.5, rate_hz=FPS, cameras=(),
                                             seed=seed))
    return (ep.streams["joint_pos"].values[:n].astype(np.float32),
            ep.streams["action"].values[:n].astype(np.float32))


def _frames(first_global: int, n: int, seed: int) -> np.ndarray:
    """Frames whose brightness is 30 + their index in the whole dataset, with texture."""
    rng = np.random.default_rng(seed)
    base = 30 + first_global + np.arange(n)
    noise = rng.integers(-6, 7, (n, 48, 64, 3))
    return np.clip(base[:, None, None, None] + noise, 0, 255).astype(np.uint8)


def _write_video(path: Path, frames: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS,
                          (frames.shape[2], frames.shape[1]))
    for fr in frames:
        out.write(cv2.cvtColor(fr, cv2.COLOR_RGB2BGR))
    out.release()


def _features(dim: int = 14, names: list[str] | None = None) -> dict:
    names = names if names is not None else ALOHA.joint_names
    vec = {"dtype": "float32", "shape": [dim], "names": names}
    return {"observation.state": vec, "action": dict(vec),
            CAM: {"dtype": "video", "shape": [48, 64, 3], "names": ["height", "width",
                                                                     "channels"]},
            **SCALAR_FEATURES}


def _table(idx: int, start: int, state: np.ndarray, action: np.ndarray) -> pa.Table:
    return episode_table(idx, start, state, action, fps=FPS)


LENGTHS = (50, 60, 40)


def write_v21(root: Path, *, beyond_limit: int | None = None, no_video: int | None = None,
              claimed_lengths: tuple[int, ...] = LENGTHS) -> Path:
    (root / "meta").mkdir(parents=True)
    start = 0
    for i, n in enumerate(LENGTHS):
        state, action = _trajectory(i, n)
        if i == beyond_limit:
            state[20:30, 1] = ALOHA.joint("vx300s_left/shoulder").upper + 0.4
        f = root / f"data/chunk-000/episode_{i:06d}.parquet"
        f.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(_table(i, start, state, action), f)
        if i != no_video:
            _write_video(root / f"videos/chunk-000/{CAM}/episode_{i:06d}.mp4",
                         _frames(start, n, i))
        start += n
    info = {"codebase_version": "v2.1", "robot_type": "aloha", "fps": FPS,
            "total_episodes": 3, "total_frames": sum(claimed_lengths), "chunks_size": 1000,
            "splits": {"train": "0:3"},
            "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
            "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/"
                          "episode_{episode_index:06d}.mp4",
            "features": _features()}
    (root / "meta/info.json").write_text(json.dumps(info))
    (root / "meta/episodes.jsonl").write_text("".join(
        json.dumps({"episode_index": i, "tasks": ["fold the towel"], "length": n}) + "\n"
        for i, n in enumerate(claimed_lengths)))
    (root / "meta/tasks.jsonl").write_text('{"task_index": 0, "task": "fold the towel"}\n')
    return root


def write_v30(root: Path, *, total_frames: int | None = None) -> Path:
    (root / "meta/episodes/chunk-000").mkdir(parents=True)
    tables, rows, start = [], [], 0
    for i, n in enumerate(LENGTHS):
        state, action = _trajectory(i, n)
        tables.append(_table(i, start, state, action))
        rows.append({"episode_index": i, "tasks": ["stack the cups"], "length": n,
                     "data/chunk_index": 0, "data/file_index": 0,
                     "dataset_from_index": start, "dataset_to_index": start + n,
                     f"videos/{CAM}/chunk_index": 0, f"videos/{CAM}/file_index": 0,
                     f"videos/{CAM}/from_timestamp": start / FPS,
                     f"videos/{CAM}/to_timestamp": (start + n) / FPS})
        start += n
    (root / "data/chunk-000").mkdir(parents=True)
    pq.write_table(pa.concat_tables(tables), root / "data/chunk-000/file-000.parquet")
    pq.write_table(pa.Table.from_pylist(rows), root / "meta/episodes/chunk-000/file-000.parquet")
    pq.write_table(pa.table({"task_index": [0], "task": ["stack the cups"]}),
                   root / "meta/tasks.parquet")
    _write_video(root / f"videos/{CAM}/chunk-000/file-000.mp4",
                 np.concatenate([_frames(s, n, i) for i, (s, n) in
                                 enumerate(zip((0, 50, 110), LENGTHS, strict=True))]))
    info = {"codebase_version": "v3.0", "robot_type": "aloha", "fps": FPS,
            "total_episodes": 3, "total_frames": total_frames or start,
            "chunks_size": 1000, "splits": {"train": "0:3"},
            "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/"
                          "file-{file_index:03d}.mp4",
            "features": _features()}
    (root / "meta/info.json").write_text(json.dumps(info))
    return root


def test_v21_one_source_one_entry_per_episode(tmp_path):
    root = write_v21(tmp_path / "towels")
    refs, bad = discover([tmp_path])
    assert not bad and [r.episode_key for r in refs] == [f"episode_{i:06d}" for i in range(3)]
    assert {r.layout for r in refs} == {"lerobot"} and {r.path for r in refs} == {root.resolve()}
    files = refs[1].files()
    assert files[0].name == "episode_000001.parquet" and root.resolve() / "meta/info.json" in files
    assert any(f.suffix == ".mp4" and f.name == "episode_000001.mp4" for f in files)


def test_v21_clean_episode_passes_and_defect_is_found(tmp_path):
    root = write_v21(tmp_path / "towels", beyond_limit=1)
    refs, _ = discover([root])
    clean = read_source(refs[0], MAPPING)
    ep = clean.episode
    assert ep.metadata.task == "fold the towel" and ep.metadata.robot_model == "aloha"
    assert ep.streams["joint_pos"].names == ALOHA.joint_names
    assert ep.streams["joint_pos"].rate_hz == FPS and ep.streams["joint_pos"].n_samples == 50
    cam = ep.cameras["top"]
    frames = list(cam.frames.iter_frames())
    assert len(frames) == 50 and frames[0].shape == (48, 64, 3)
    findings = clean.findings + _checks(ep)
    assert passes_gate(findings), [f.message for f in findings if f.severity.value == "error"]
    defect = [f for f in _checks(read_source(refs[1], MAPPING).episode)
              if f.check_id == "value.joint_limit"]
    assert defect and "vx300s_left/shoulder" in defect[0].message


def test_v21_missing_video_is_a_finding_for_that_camera_only(tmp_path):
    root = write_v21(tmp_path / "towels", no_video=2)
    res = read_source(discover([root])[0][2], MAPPING)
    cams = [f for f in res.findings if f.check_id == "schema.camera"]
    assert len(cams) == 1 and cams[0].stream == "top" and "missing" in cams[0].message
    assert res.episode is not None and "joint_pos" in res.episode.streams
    assert not res.episode.cameras


def test_v21_metadata_contradicting_the_data(tmp_path):
    root = write_v21(tmp_path / "towels", claimed_lengths=(50, 61, 40))
    res = read_source(discover([root])[0][1], MAPPING)
    msgs = {f.check_id: f.message for f in res.findings if f.severity.value == "error"}
    assert "claims 61 frames but the data holds 60" in msgs["schema.stream"]
    other = read_source(discover([root])[0][0], MAPPING)
    assert not [f for f in other.findings if f.check_id == "schema.stream"]


def test_names_that_do_not_fit_the_shape(tmp_path):
    root = write_v21(tmp_path / "towels")
    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["observation.state"]["names"] = ALOHA.joint_names[:12]
    (root / "meta/info.json").write_text(json.dumps(info))
    res = ADAPTER.read(root, "episode_000000", MAPPING)
    msg = [f.message for f in res.findings if f.check_id == "schema.stream"]
    assert any("lists 12 names for 14 values" in m for m in msg)
    # the stream is still read, with generic names, and the gate says they are not the robot's
    robot = [f for f in _checks(res.episode) if f.check_id == "schema.robot"]
    assert res.episode.streams["joint_pos"].values.shape == (50, 14) and robot


def test_v30_shared_files_and_video_seek(tmp_path):
    root = write_v30(tmp_path / "cups")
    refs, bad = discover([tmp_path])
    assert not bad and len(refs) == 3
    files = refs[1].files()
    assert files[0].name == "file-000.parquet" and files[0].parent.name == "chunk-000"
    assert root.resolve() / "meta/tasks.parquet" in files
    res = read_source(refs[1], MAPPING)
    ep = res.episode
    assert not [f for f in res.findings if f.severity.value == "error"]
    assert ep.streams["joint_pos"].n_samples == 60 and ep.metadata.task == "stack the cups"
    frames = list(ep.cameras["top"].frames.iter_frames())
    assert len(frames) == 60
    # the episode's frames start at its from_timestamp in the shared video (frame 50)
    assert abs(float(frames[0].mean()) - 80) < 3 and abs(float(frames[-1].mean()) - 139) < 3
    assert passes_gate(res.findings + _checks(ep))


def test_v30_total_frames_claim(tmp_path):
    root = write_v30(tmp_path / "cups", total_frames=5000)
    res = ADAPTER.read(root, "episode_000000", MAPPING)
    meta = [f for f in res.findings if f.check_id == "schema.metadata"]
    assert meta and "total_frames 5000 but the episodes hold 150" in meta[0].message


def test_corrupt_data_file_is_unreadable(tmp_path):
    root = write_v21(tmp_path / "towels")
    (root / "data/chunk-000/episode_000001.parquet").write_bytes(b"PAR1 not parquet")
    res = ADAPTER.read(root, "episode_000001", MAPPING)
    assert res.episode is None and res.findings[0].check_id == "schema.unreadable"
    assert "episode_000001" in res.findings[0].message


def test_g1_inspire_mapping_matches_the_profile(shared_data):
    mapping = load_mapping(MAPPINGS_DIR / "lerobot-unitree-g1-inspire.toml")
    refs, _ = discover([shared_data / "lerobot-v21-unitree-g1"])
    res = read_source(refs[1], mapping)
    ep = res.episode
    assert ep.metadata.robot_model == "unitree-g1-inspire"
    assert ep.streams["joint_pos"].names == get_profile("unitree-g1-inspire").joint_names
    found = res.findings + _checks(ep)
    assert not [f for f in found if f.check_id == "schema.robot"]
    assert passes_gate(found), [f.message for f in found if f.severity.value == "error"]
    # without a mapping the dataset's robot_type brings the shipped one, and says so
    plain = read_source(refs[1])
    assert plain.episode.streams["joint_pos"].names == ep.streams["joint_pos"].names
    assert not [f for f in _checks(plain.episode) if f.check_id == "schema.robot"]
    assert any("robot_type" in f.message and f.check_id == "schema.inferred"
               for f in plain.findings)


@pytest.mark.parametrize("index", [0, 3])
def test_g1_episode_without_video_fails_on_the_camera_alone(shared_data, index):
    mapping = load_mapping(MAPPINGS_DIR / "lerobot-unitree-g1-inspire.toml")
    res = read_source(discover([shared_data / "lerobot-v21-unitree-g1"])[0][index], mapping)
    errors = {f.check_id for f in res.findings + _checks(res.episode)
              if f.severity.value == "error"}
    assert errors == {"schema.camera"}


def test_unreadable_episode_metadata_is_reported_per_episode(tmp_path):
    root = write_v21(tmp_path / "towels")
    (root / "meta/episodes.jsonl").write_text("{not json\n")
    refs, bad = discover([root])
    assert not bad and [r.episode_key for r in refs] == [f"episode_{i:06d}" for i in range(3)]
    res = read_source(refs[0], MAPPING)
    assert res.episode is None and res.findings[0].check_id == "schema.unreadable"
    assert "episodes.jsonl" in res.findings[0].message


def test_rewritten_metadata_is_read_again(tmp_path):
    root = write_v21(tmp_path / "towels")
    assert len(ADAPTER.episode_keys(root)) == 3
    lines = (root / "meta/episodes.jsonl").read_text().splitlines()
    (root / "meta/episodes.jsonl").write_text("\n".join(lines[:2]) + "\n")
    st = (root / "meta/episodes.jsonl").stat()
    os.utime(root / "meta/episodes.jsonl", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert len(ADAPTER.episode_keys(root)) == 2
    res = ADAPTER.read(root, "episode_000002", MAPPING)
    assert res.episode is None and "not listed in meta/episodes.jsonl" in res.findings[0].message


def test_ingest_with_a_shipped_mapping_name_records_the_file_it_names(tmp_path, monkeypatch):
    """``--mapping lerobot`` from any folder: registered as the shipped file, so the Dagster
    run reads that file, not a ``lerobot`` beside wherever the command was started."""
    from pipelines.runner import ingest
    from pipelines.store import Store

    root = write_v21(tmp_path / "towels")
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    store = Store(tmp_path / "store")
    summary = ingest(store, [root], "towels", mapping=Path("lerobot"), write_report=False)
    assert len(summary.outcomes) == 3 and all(o.run_ok for o in summary.outcomes), summary
    shipped = str(MAPPINGS_DIR / "lerobot.toml")
    records = [json.loads(p.read_text()) for p in store.sources_dir.glob("*.json")]
    assert len(records) == 3 and {r["mapping"] for r in records} == {shipped}
    report = next(store.staging_dir.glob("towels/*/report.json")).read_text()
    assert f"taken from {shipped}" in report


@pytest.mark.slow
def test_a_known_robot_type_brings_its_shipped_mapping(shared_data):
    """The G1 sample names its robot_type; with no flag it is checked exactly as with the
    mapping passed by hand, and the finding says which mapping was taken and why."""
    import json as _json

    from typer.testing import CliRunner

    from pipelines.cli.main import app

    g1 = str(shared_data / "lerobot-v21-unitree-g1")
    runner = CliRunner()
    plain = runner.invoke(app, ["check", g1, "--json", "--workers", "1"])
    mapped = runner.invoke(app, ["check", g1, "--json", "--workers", "1", "--mapping",
                                 "lerobot-unitree-g1-inspire"])
    a, b = _json.loads(plain.stdout), _json.loads(mapped.stdout)
    assert [e["grade"] for e in a["episodes"]] == [e["grade"] for e in b["episodes"]]
    assert {e["grade"] for e in a["episodes"]} == {"A", "B", "F"}

    def errors(doc):
        return [sorted((f["check_id"], f["stream"]) for f in e["findings"]
                       if f["severity"] != "info") for e in doc["episodes"]]

    assert errors(a) == errors(b)
    assert not any(f["check_id"] == "schema.robot" for e in a["episodes"] for f in e["findings"])
    first = a["episodes"][0]["findings"]
    assert any("lerobot-unitree-g1-inspire.toml" in f["message"] and "robot_type" in f["message"]
               for f in first)


@pytest.mark.parametrize(("fps", "shown"), [(1e308, "1e+308 Hz is above 100000 Hz"),
                                            (0.01, "0.01 Hz is below 0.1 Hz"),
                                            (10**400, "inf Hz is not a rate")])
def test_a_frame_rate_no_recording_has_refuses_the_dataset_naming_info_json(tmp_path, fps,
                                                                             shown):
    root = write_v21(tmp_path / "towels")
    info = json.loads((root / "meta/info.json").read_text())
    info["fps"] = fps
    (root / "meta/info.json").write_text(json.dumps(info))
    refs, bad = discover([root])
    assert len(refs) == 1 and refs[0].episode_key is None and not bad  # the dataset as one
    res = read_source(refs[0])
    assert res.episode is None and [f.check_id for f in res.findings] == ["schema.unreadable"]
    assert "meta/info.json" in res.findings[0].message
    assert f"'fps': {shown}" in res.findings[0].message


@pytest.mark.parametrize(("bad", "shown"), [(float("nan"), "nan"), (1e30, "1e+30"),
                                            (None, "nan")])
def test_timestamps_that_are_no_times_leave_no_episode_to_check(tmp_path, recwarn, bad,
                                                                  shown):
    root = write_v21(tmp_path / "towels")
    path = root / "data/chunk-000/episode_000001.parquet"
    table = pq.read_table(path)
    ts = table.column("timestamp").to_pylist()
    ts[7] = bad
    i = table.schema.get_field_index("timestamp")
    pq.write_table(table.set_column(i, "timestamp", pa.array(ts, pa.float32())), path)
    res = ADAPTER.read(root, "episode_000001", MAPPING)
    assert res.episode is None
    errors = [f for f in res.findings if f.severity.value == "error"]
    assert [f.check_id for f in errors] == ["schema.stream"] and errors[0].stream == "timestamp"
    assert ("towels/episode_000001: the 'timestamp' column holds 1 value(s) that are not times"
            in errors[0].message) and f"the first at frame 7: {shown}" in errors[0].message
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    # the other episodes are read as before
    assert ADAPTER.read(root, "episode_000000", MAPPING).episode is not None
