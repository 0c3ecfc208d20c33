"""What makes ``embodiq check`` fast on thousands of episodes must not change what it says:
robot profiles parsed once per worker (and again when a profile file changes), and the
episodes of one multi-episode source handed to a worker in chunks."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipelines.processing import (
    CHUNK_EPISODES,
    RecordingTask,
    process_recording,
    recording_chunks,
    robot_dirs,
    run_recordings,
)
from pipelines.processing.recording import _catalog
from pipelines.sources import SourceRef, discover
from pipelines.store import Store
from robots.profile import BUILTIN_DIR
from schemas.quality_profile import load_quality_profile


def test_a_worker_parses_robot_profiles_once_and_again_when_one_changes(tmp_path):
    mine = tmp_path / "robots"
    mine.mkdir()
    dirs = (str(mine), str(BUILTIN_DIR))
    first = _catalog(dirs)
    assert _catalog(dirs) is first
    assert first.get("my-arm") is None
    # a profile added between two recordings is seen by the next one
    text = (BUILTIN_DIR / "aloha.toml").read_text()
    (mine / "my-arm.toml").write_text(text.replace('id = "aloha"', 'id = "my-arm"'))
    again = _catalog(dirs)
    assert again is not first
    # the copy claims aloha's model code, so the set is refused: the change was read
    try:
        again.get("my-arm")
    except Exception as exc:
        assert "my-arm.toml" in str(exc)
    else:
        raise AssertionError("the added profile was not read")
    (mine / "my-arm.toml").unlink()
    assert _catalog(dirs).get("my-arm") is None


def _tasks(refs: list[SourceRef], store: Store) -> list[RecordingTask]:
    prof = load_quality_profile("default")
    return [RecordingTask(ref=r, profile=prof, robots_dirs=robot_dirs(store)) for r in refs]


def test_episodes_of_one_source_are_chunked_and_other_recordings_stand_alone(tmp_path):
    lerobot = [SourceRef(Path("/data/g1"), "lerobot", f"episode_{i:06d}") for i in range(300)]
    single = [SourceRef(Path(f"/takes/t{i}.h5"), "embodiq") for i in range(3)]
    other = [SourceRef(Path("/data/b"), "lerobot", f"episode_{i:06d}") for i in range(5)]
    tasks = _tasks([*single[:2], *lerobot, single[2], *other], Store(tmp_path))
    chunks = recording_chunks(tasks, workers=2)
    assert sorted(i for c in chunks for i in c) == list(range(len(tasks)))
    assert chunks[0] == [0] and chunks[1] == [1]
    for c in chunks:
        paths = {tasks[i].ref.path for i in c}
        assert len(paths) == 1 and c == list(range(c[0], c[-1] + 1))
        assert len(c) <= CHUNK_EPISODES
    assert [len(c) for c in chunks if tasks[c[0]].ref.path == Path("/data/g1")] == \
        [38] * 7 + [34]  # about four chunks per worker
    assert [2 + 300] in chunks


def test_chunked_check_of_a_lerobot_dataset_equals_one_episode_at_a_time(shared_data, tmp_path):
    """The G1 sample (a folder of 100 episodes) checked in chunks on two workers and on one
    gives, episode for episode, what process_recording gives one episode at a time."""
    root = tmp_path / "g1"
    shutil.copytree(shared_data / "lerobot-v21-unitree-g1", root)
    refs, _ = discover([root])
    refs = refs[:24]
    tasks = _tasks(refs, Store(tmp_path / "store"))

    def verdicts(outcomes) -> list[tuple]:
        return [(o.name, o.assessment.grade, o.assessment.quality_score,
                 [f.to_dict() for f in o.assessment.findings], o.assessment.digest, o.reads)
                for o in outcomes]

    alone = verdicts(process_recording(t) for t in tasks)
    for workers in (1, 2):
        got = dict(run_recordings(tasks, workers=workers, timeout=120))
        assert verdicts(got[i] for i in range(len(tasks))) == alone
