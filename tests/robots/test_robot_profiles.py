"""Shipped robot profiles match the manufacturers' descriptions; users add their own."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from robots.profile import ProfileCatalog, ProfileError, get_profile, load_profile_file

DESCRIPTIONS = {
    "unitree-h1": "robot-descriptions/unitree/h1.urdf",
    "unitree-g1": "robot-descriptions/unitree/g1_29dof.urdf",
}


@pytest.mark.parametrize("robot", sorted(DESCRIPTIONS))
def test_urdf_profiles_match_their_source(shared_data, robot):
    root = ET.parse(shared_data / DESCRIPTIONS[robot]).getroot()
    urdf = {j.get("name"): j.find("limit") for j in root.iter("joint")
            if j.get("type") in ("revolute", "prismatic")}
    prof = get_profile(robot)
    assert prof.joint_names == list(urdf)
    for j in prof.joints:
        lim = urdf[j.name]
        assert j.lower == float(lim.get("lower")) and j.upper == float(lim.get("upper"))
        assert j.velocity == float(lim.get("velocity"))
        assert j.effort == float(lim.get("effort"))
    assert prof.uid is not None and prof.source


def test_aloha_profile_matches_mjcf(shared_data):
    names = []
    for side in ("left", "right"):
        root = ET.parse(shared_data / f"robot-descriptions/act-viperx/vx300s_{side}.xml")
        arm = {j.get("name"): j.get("range") for j in root.iter("joint")
               if not j.get("name").endswith("finger")}
        names += [*arm, f"vx300s_{side}/gripper"]
        prof = get_profile("aloha")
        for n, rng in arm.items():
            lo, hi = map(float, rng.split())
            assert (prof.joint(n).lower, prof.joint(n).upper) == (lo, hi)
    assert get_profile("aloha").joint_names == names
    assert get_profile("aloha").joint("vx300s_left/gripper").unit == "1"


def test_user_profile_in_env_folder(tmp_path, monkeypatch):
    (tmp_path / "my-arm.toml").write_text(
        'id = "my-arm"\nkind = "arm"\n[[joints]]\nname = "j1"\nlower = -1\nupper = 1\n')
    monkeypatch.setenv("EMBODIQ_ROBOTS", str(tmp_path))
    assert "my-arm" in ProfileCatalog().ids()
    assert get_profile("my-arm").joint("j1").upper == 1.0


@pytest.mark.parametrize(("body", "needle"), [
    ('id = "x"\nkind = "arm"\n', "missing key 'joints'"),
    ('id = "x"\nkind = "spaceship"\n[[joints]]\nname="a"\nlower=0\nupper=1\n', "'kind'"),
    ('id = "x"\nkind = "arm"\n[[joints]]\nname="a"\nlower=2\nupper=1\n', "joints[0]"),
    ('id = "x"\nkind = "arm"\n[[joints]]\nlower=0\nupper=1\n', "missing key 'name'"),
    ("id = ", "not valid TOML"),
])
def test_malformed_profile_names_file_and_key(tmp_path, body, needle):
    p = tmp_path / "x.toml"
    p.write_text(body)
    with pytest.raises(ProfileError) as exc:
        load_profile_file(p)
    assert str(p) in str(exc.value) and needle in str(exc.value)
