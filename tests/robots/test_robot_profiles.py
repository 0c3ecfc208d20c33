"""Shipped robot profiles match the manufacturers' descriptions; users add their own."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from robots.profile import (
    BUILTIN_DIR,
    ROBOT_KINDS,
    ProfileCatalog,
    ProfileError,
    get_profile,
    load_profile_file,
    model_code,
)
from robots.uid import compose

#: profile id -> (URDF, MJCF or None) under the shared robot-descriptions folder
DESCRIPTIONS = {
    "unitree-h1": ("unitree/h1.urdf", "unitree/h1.xml"),
    "unitree-g1": ("unitree/g1_29dof.urdf", "unitree/g1_29dof.xml"),
    "unitree-h1-2": ("unitree/h1_2_handless.urdf", None),
    "booster-t1": ("booster-t1/T1_serial.urdf", "booster-t1/T1_serial.xml"),
}
SHIPPED = sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def _urdf_limits(path) -> dict[str, dict[str, str]]:
    root = ET.parse(path).getroot()
    return {j.get("name"): j.find("limit").attrib for j in root.iter("joint")
            if j.get("type") in ("revolute", "prismatic")}


def _mjcf_hinges(path) -> list[str]:
    """Named MJCF joints other than the floating base (a free joint)."""
    return [j.get("name") for j in ET.parse(path).getroot().iter("joint")
            if j.get("name") and j.get("type") != "free"]


@pytest.mark.parametrize("robot", SHIPPED)
def test_every_shipped_profile_loads(robot, monkeypatch):
    monkeypatch.delenv("EMBODIQ_ROBOTS", raising=False)
    prof = load_profile_file(BUILTIN_DIR / f"{robot}.toml")
    assert prof.id == robot and prof.manufacturer and prof.model_name and prof.source
    assert prof.kind in ROBOT_KINDS and prof.joints
    # the uid segments make a valid code (placeholders, but well-formed)
    assert prof.uid is not None
    assert len(compose(prof.uid, "1").code) == 29


def test_shipped_set():
    assert {"unitree-h1", "unitree-g1", "aloha", "booster-t1", "unitree-h1-2"} <= set(SHIPPED)


@pytest.mark.parametrize("robot", sorted(DESCRIPTIONS))
def test_urdf_profiles_match_their_source(shared_data, robot):
    urdf_rel, mjcf_rel = DESCRIPTIONS[robot]
    base = shared_data / "robot-descriptions"
    urdf = _urdf_limits(base / urdf_rel)
    prof = get_profile(robot)
    assert prof.joint_names == list(urdf)
    for j in prof.joints:
        lim = urdf[j.name]
        assert (j.lower, j.upper) == (float(lim["lower"]), float(lim["upper"])), j.name
        assert j.velocity == float(lim["velocity"]), j.name
        assert j.effort == float(lim["effort"]), j.name
        assert j.unit == "rad"
    if mjcf_rel:
        assert _mjcf_hinges(base / mjcf_rel) == prof.joint_names
    assert urdf_rel.rsplit("/", 1)[-1] in prof.source


def test_g1_has_29_joints_and_the_expected_cameras():
    g1, h1 = get_profile("unitree-g1"), get_profile("unitree-h1")
    assert len(g1.joints) == 29
    for prof in (g1, h1):
        head = next(c for c in prof.cameras if c.name == "cam_head")
        assert (head.mount, head.encoding) == ("head", "rgb8")
    aloha = get_profile("aloha")
    assert {c.name for c in aloha.cameras} == {"cam_high", "cam_low", "cam_left_wrist",
                                               "cam_right_wrist"}


def test_aloha_profile_matches_mjcf(shared_data):
    prof = get_profile("aloha")
    names = []
    for side in ("left", "right"):
        root = ET.parse(shared_data / f"robot-descriptions/act-viperx/vx300s_{side}.xml")
        arm = {j.get("name"): j.get("range") for j in root.iter("joint")
               if not j.get("name").endswith("finger")}
        assert len(arm) == 6
        names += [*arm, f"vx300s_{side}/gripper"]
        for n, rng in arm.items():
            lo, hi = map(float, rng.split())
            assert (prof.joint(n).lower, prof.joint(n).upper) == (lo, hi)
            # the MJCF publishes no velocity or effort limits: none invented
            assert prof.joint(n).velocity == float("inf") == prof.joint(n).effort
    assert prof.joint_names == names and len(names) == 14
    grip = prof.joint("vx300s_left/gripper")
    assert (grip.unit, grip.lower, grip.upper) == ("1", 0.0, 1.0)
    assert (prof.uid.country, prof.kind) == ("US", "bimanual")


def test_g1_inspire_arm_joints_match_the_g1_urdf(shared_data):
    urdf = _urdf_limits(shared_data / "robot-descriptions/unitree/g1_29dof.urdf")
    prof = get_profile("unitree-g1-inspire")
    arm = [j for j in prof.joints if j.unit == "rad"]
    assert len(arm) == 14
    for j in arm:
        lim = urdf[j.name]
        assert (j.lower, j.upper, j.velocity, j.effort) == tuple(
            float(lim[k]) for k in ("lower", "upper", "velocity", "effort"))


def test_user_profile_in_env_folder(tmp_path, monkeypatch):
    (tmp_path / "my-arm.toml").write_text(
        'id = "my-arm"\nkind = "arm"\n[[joints]]\nname = "j1"\nlower = -1\nupper = 1\n')
    monkeypatch.setenv("EMBODIQ_ROBOTS", str(tmp_path))
    assert "my-arm" in ProfileCatalog().ids()
    prof = get_profile("my-arm")
    assert prof.joint("j1").upper == 1.0 and prof.joint("j1").velocity == float("inf")
    assert prof.uid is None and prof.path == tmp_path / "my-arm.toml"


def test_user_profile_overrides_a_shipped_one(tmp_path, monkeypatch):
    (tmp_path / "unitree-h1.toml").write_text(
        'id = "unitree-h1"\nkind = "humanoid"\n[[joints]]\nname = "j1"\nlower = 0\nupper = 1\n')
    monkeypatch.setenv("EMBODIQ_ROBOTS", str(tmp_path))
    assert get_profile("unitree-h1").joint_names == ["j1"]


@pytest.mark.parametrize(("body", "needle"), [
    ('id = "x"\nkind = "arm"\n', "missing key 'joints'"),
    ('kind = "arm"\n[[joints]]\nname="a"\nlower=0\nupper=1\n', "missing key 'id'"),
    ('id = "x"\nkind = "spaceship"\n[[joints]]\nname="a"\nlower=0\nupper=1\n', "'kind'"),
    ('id = "x"\nkind = "arm"\n[[joints]]\nname="a"\nlower=2\nupper=1\n', "joints[0]"),
    ('id = "x"\nkind = "arm"\n[[joints]]\nlower=0\nupper=1\n', "missing key 'name'"),
    ('id = "x"\nkind = "arm"\n[[joints]]\nname="a"\nlower="low"\nupper=1\n', "key 'lower'"),
    ('id = "x"\nkind = "arm"\n[uid]\ncountry = "CN"\n[[joints]]\nname="a"\nlower=0\nupper=1\n',
     "uid: missing key 'enterprise'"),
    ("id = ", "not valid TOML"),
])
def test_malformed_profile_names_file_and_key(refused, body, needle):
    p, message = refused("x.toml", body, load_profile_file, ProfileError)
    assert str(p) in message and needle in message


def test_malformed_user_profile_found_through_the_catalog(tmp_path, monkeypatch):
    (tmp_path / "broken.toml").write_text('id = "broken"\nkind = "arm"\njoints = []\n')
    monkeypatch.setenv("EMBODIQ_ROBOTS", str(tmp_path))
    with pytest.raises(ProfileError, match=r"broken\.toml: key 'joints' is empty"):
        ProfileCatalog().get("broken")


_UID_PROFILE = ('id = "{id}"\nkind = "arm"\n[uid]\ncountry = "{c}"\nenterprise = "{e}"\n'
                'product_model = "{m}"\n[[joints]]\nname = "a"\nlower = 0\nupper = 1\n')


def test_shipped_profiles_claim_distinct_model_codes():
    cat = ProfileCatalog()
    cat.validate()
    codes = [model_code(p.uid) for p in map(cat.get, cat.ids()) if p and p.uid]
    assert len(codes) == len(set(codes))
    assert model_code(cat.get("unitree-g1-inspire").uid) != model_code(cat.get("unitree-g1").uid)


def test_a_profile_set_with_a_duplicate_model_code_is_refused(tmp_path, monkeypatch):
    for pid in ("arm-a", "arm-b"):
        (tmp_path / f"{pid}.toml").write_text(
            _UID_PROFILE.format(id=pid, c="DE", e="ACME", m="ARM001"))
    monkeypatch.setenv("EMBODIQ_ROBOTS", str(tmp_path))
    with pytest.raises(ProfileError) as exc:
        ProfileCatalog().get("unitree-h1")
    msg = str(exc.value)
    assert str(tmp_path / "arm-a.toml") in msg and str(tmp_path / "arm-b.toml") in msg
    assert "DEACMEARM001" in msg


def test_a_user_profile_may_not_take_a_shipped_model_code(tmp_path, monkeypatch):
    (tmp_path / "copycat.toml").write_text(
        _UID_PROFILE.format(id="copycat", c="CN", e="UNTR", m="H10001"))
    monkeypatch.setenv("EMBODIQ_ROBOTS", str(tmp_path))
    with pytest.raises(ProfileError, match=r"copycat\.toml|unitree-h1\.toml"):
        ProfileCatalog().validate()


def test_overriding_a_shipped_profile_keeps_its_code(tmp_path, monkeypatch):
    (tmp_path / "unitree-h1.toml").write_text(
        _UID_PROFILE.format(id="unitree-h1", c="CN", e="UNTR", m="H10001"))
    monkeypatch.setenv("EMBODIQ_ROBOTS", str(tmp_path))
    ProfileCatalog().validate()  # the override replaces the shipped file: no conflict


@pytest.mark.parametrize(("c", "e", "m", "needle"), [
    ("XX", "ACME", "ARM001", "country"), ("DE", "AC-E", "ARM001", "enterprise"),
    ("DE", "ACME", "ARM0001", "product model"),
])
def test_invalid_uid_segments_are_refused_at_load(tmp_path, c, e, m, needle):
    p = tmp_path / "x.toml"
    p.write_text(_UID_PROFILE.format(id="x", c=c, e=e, m=m))
    with pytest.raises(ProfileError, match=needle) as exc:
        load_profile_file(p)
    assert str(p) in str(exc.value)
