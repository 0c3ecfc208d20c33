"""The worst episodes of a check, ranked, with the command that drops them from LeRobot."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pipelines.cli.main import app
from pipelines.ranking import lerobot_delete_commands, rank_episodes


def _e(src, uid, grade, score, *checks, passed=None):
    sev = "error" if grade == "F" else "warning"
    return {"source": src, "episode_uid": uid, "grade": grade, "quality_score": score,
            "passed": grade != "F" if passed is None else passed,
            "findings": [{"check_id": c, "severity": sev} for c in checks]}


def test_failed_first_then_by_score_and_single_episode_dataset_warnings_count():
    entries = [_e("d#episode_000000", "a", "A", 100.0),
               _e("d#episode_000001", "b", "B", 90.0, "value.spike"),
               _e("d#episode_000002", "c", "F", 60.0, "value.nonfinite"),
               _e("d#episode_000003", "d", "A", 100.0),
               _e("d#episode_000004", "e", "B", 88.0, "action.saturation")]
    ds = [{"check_id": "dataset.end_pose_outlier", "severity": "warning", "episode_uids": ["d"]},
          {"check_id": "dataset.stuck_channel", "severity": "warning",
           "episode_uids": ["a", "b", "c", "d", "e"]}]
    ranked = rank_episodes(entries, ds)
    assert [r["episode_uid"] for r in ranked] == ["c", "e", "b", "d"]
    assert ranked[-1]["reasons"] == ["dataset.end_pose_outlier"]
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4]
    assert rank_episodes(entries, ds, limit=2) == ranked[:2]


def test_lerobot_command_per_dataset_only_for_lerobot_sources():
    ranked = [{"source": "/data/pick cup#episode_000007"},
              {"source": "/data/pick cup#episode_000002"}, {"source": "/rec/take.h5"}]
    layouts = {"/data/pick cup#episode_000007": "lerobot",
               "/data/pick cup#episode_000002": "lerobot", "/rec/take.h5": "embodiq"}
    [cmd] = lerobot_delete_commands(ranked, layouts)
    assert cmd.startswith("lerobot-edit-dataset --repo_id local/pick_cup --root '/data/pick cup'")
    assert "--operation.type delete_episodes" in cmd
    assert "--operation.episode_indices '[2, 7]'" in cmd
    assert "--new_root '/data/pick cup_curated'" in cmd


def test_check_json_carries_the_ranking_and_the_command(shared_data):
    res = CliRunner().invoke(app, ["check", str(shared_data / "lerobot-v30-reachy2"), "--json",
                                   "--workers", "1"])
    doc = json.loads(res.stdout)
    assert doc["ranking"] and doc["ranking"][0]["grade"] == "F"
    [cmd] = doc["lerobot_commands"]
    assert "lerobot-edit-dataset" in cmd and "delete_episodes" in cmd
