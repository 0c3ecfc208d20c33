"""The registry hands each check its settings and a bound emit; a check never names itself."""

from __future__ import annotations

import ast
from pathlib import Path

from checks.registry import Emit, EpisodeContext, all_checks, run_episode_checks
from pipelines.synthetic import EpisodePlan, generate_episode
from robots.profile import get_profile
from schemas.findings import Severity
from schemas.quality_profile import CheckSettings, load_quality_profile

CHECKS = Path(__file__).resolve().parents[2] / "checks"
DEFAULT = load_quality_profile("default")
H1 = get_profile("unitree-h1")


def _episode(duration_s: float = 4.0):
    return generate_episode(H1, EpisodePlan(duration_s=duration_s, seed=5))


def test_a_check_judges_by_the_settings_it_is_given():
    ep = _episode()
    spec = all_checks()["episode.duration"]
    ctx = EpisodeContext(ep, H1, DEFAULT)
    assert spec.call(ctx) == []  # the default profile's 1-1800 s: a 4 s episode is fine
    given = CheckSettings(enabled=True, severity=Severity.INFO,
                          params={"min_s": 100.0, "max_s": 200.0})
    (f,) = spec.call(ctx, given)
    assert (f.check_id, f.severity, f.threshold) == ("episode.duration", Severity.INFO, 100.0)


def test_robot_overrides_reach_the_check(tmp_path):
    p = tmp_path / "h1-long.toml"
    p.write_text('[robots."unitree-h1".checks."episode.duration"]\n'
                 'min_s = 100.0\nseverity = "error"\n')
    prof = load_quality_profile(p)
    ep = _episode()
    assert run_episode_checks(ep, H1, DEFAULT, only=["episode.duration"]) == []
    (f,) = run_episode_checks(ep, H1, prof, only=["episode.duration"])
    assert (f.severity, f.threshold) == (Severity.ERROR, 100.0)


def test_emit_carries_the_check_id_and_its_severity_unless_escalated():
    emit = Emit("time.gap", Severity.WARNING)
    f = emit("3 gaps", stream="joint_pos", value=3, threshold=0.05, t_start_ns=1, t_end_ns=2)
    assert (f.check_id, f.severity, f.stream, f.value) == ("time.gap", Severity.WARNING,
                                                          "joint_pos", 3.0)
    assert emit("worse", severity=Severity.ERROR).severity is Severity.ERROR


def test_every_check_id_is_written_once_where_it_is_registered():
    """Checks receive their settings and emit: no catalogue module looks a check up by its id
    string, so renaming a check is a one-line change."""
    ids = set(all_checks())
    seen: dict[str, list[str]] = {cid: [] for cid in ids}
    for path in [CHECKS / "registry.py", *sorted((CHECKS / "catalog").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in ids:
                seen[node.value].append(f"{path.name}:{node.lineno}")
    assert {cid: where for cid, where in seen.items() if len(where) != 1} == {}
