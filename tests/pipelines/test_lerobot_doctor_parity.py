"""Peer parity: every problem lerobot-doctor reports on the real LeRobot samples (Unitree G1,
Reachy 2) has a matching embodiq finding. Needs the separate LeRobot environment
(``source ../shared/tools/lerobot/setup.sh``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli.main import app
from pipelines.sources import discover, read_source

LEROBOT_ENV = Path("/tmp/lerobot-env")
SETUP = Path(__file__).resolve().parents[2].parent / "shared" / "tools" / "lerobot" / "setup.sh"
STREAM = {"observation.state": "joint_pos", "action": "action"}

#: lerobot-doctor messages that name no defect of the data, so no embodiq finding answers them:
#: a v2.1 dataset keeps its statistics in meta/episodes_stats.jsonl (LeRobot's own format),
#: not in the v3 stats.json the doctor looks for; an action's width is a fact, not a fault.
NOT_A_DEFECT = (re.compile(r"stats\.json not found"), re.compile(r"No stats\.json"),
                re.compile(r"dimensions is unusually large"))


def _doctor(dataset: Path) -> list[str]:
    lrdoc = Path(os.environ.get("LRDOC", LEROBOT_ENV / "venv/bin/lerobot-doctor"))
    if not lrdoc.is_file() or not SETUP.is_file():
        pytest.skip(f"the LeRobot environment is not built ({lrdoc} missing); build it with "
                    f"'source {SETUP}'")
    script = f'source "{SETUP}" "{lrdoc.parents[2]}" >/dev/null 2>&1; "$LRDOC" check "$0" --json'
    proc = subprocess.run(["bash", "-c", script, str(dataset)], capture_output=True, text=True,
                          timeout=900)
    doc = json.loads(proc.stdout)
    return [m["message"] for c in doc["checks"] for m in c["messages"]
            if m["severity"] in ("WARN", "FAIL")]


def _embodiq(dataset: Path) -> tuple[list[dict], list[dict]]:
    res = CliRunner().invoke(app, ["check", str(dataset), "--json", "--workers", "1"])
    doc = json.loads(res.stdout)
    per_episode = [f for e in doc["episodes"] for f in e["findings"]]
    return per_episode, doc["dataset_findings"]


def _channel_names(dataset: Path) -> dict[str, list[str]]:
    """The joint name embodiq gives each column of observation.state and action."""
    ep = read_source(discover([dataset])[0][0]).episode
    return {feature: ep.streams[s].names for feature, s in STREAM.items()}


def _answer(msg: str, episode: list[dict], dataset: list[dict],
            names: dict[str, list[str]]) -> bool:
    """Whether embodiq has a finding for the lerobot-doctor message ``msg``."""
    def has(check_id: str, findings: list[dict], *needles: str) -> bool:
        return any(f["check_id"] == check_id and all(n in f["message"] for n in needles)
                   for f in findings)

    if any(p.search(msg) for p in NOT_A_DEFECT):
        return True
    if m := re.search(r"total_frames=(\d+) but actual frame count is (\d+)", msg):
        return has("schema.metadata", episode, f"total_frames {m[1]}", f"hold {m[2]}")
    if m := re.search(r"^(\S+): (?:\d+ )?[Vv]ideo files missing", msg):
        return has("schema.camera", episode, f"video of '{m[1]}' is missing")
    if m := re.search(r"^(observation\.state|action)\[(\d+)\]: [\d.]+% of values at", msg):
        return has("action.saturation", episode, names[m[1]][int(m[2])])
    if m := re.search(r"^(observation\.state|action)\[(\d+)\]: (?:zero variance|stuck/static)",
                      msg):
        return has("dataset.stuck_channel", dataset,
                   f"{STREAM[m[1]]}/{names[m[1]][int(m[2])]} ")
    if re.search(r"abnormally long episode", msg):
        return has("dataset.length_outlier", dataset)
    if m := re.search(r"^(observation\.state|action): distribution shift .*\(dim (\d+):", msg):
        return has("dataset.drift", dataset, f"{STREAM[m[1]]}/{names[m[1]][int(m[2])]}:")
    return False


@pytest.mark.slow
@pytest.mark.lerobot
@pytest.mark.parametrize("sample", ["lerobot-v30-reachy2", "lerobot-v21-unitree-g1"])
def test_every_lerobot_doctor_finding_has_an_embodiq_finding(shared_data, sample):
    dataset = shared_data / sample
    reported = _doctor(dataset)
    assert reported, "lerobot-doctor reported nothing: the sample changed"
    episode, ds = _embodiq(dataset)
    names = _channel_names(dataset)
    unanswered = [m for m in reported if not _answer(m, episode, ds, names)]
    assert not unanswered, unanswered
