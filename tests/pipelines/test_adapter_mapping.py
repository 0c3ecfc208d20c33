"""Mapping files: the shipped examples load, malformed ones are refused naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipelines
from pipelines.mapping import (
    MAPPINGS_DIR,
    MappingError,
    default_mapping,
    find_mapping,
    load_mapping,
    shipped_mappings,
)
from robots.profile import get_profile


@pytest.mark.parametrize("path", sorted(MAPPINGS_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_mappings_load_and_name_real_profiles(path):
    m = load_mapping(path)
    assert m["_source"] == str(path)
    model = m.get("robot_model")
    if model and model not in ("unknown", "panda"):  # panda: users add its profile
        assert get_profile(model) is not None, model


def test_every_layout_has_a_default():
    for layout in ("aloha", "robomimic", "lerobot", "mcap"):
        assert default_mapping(layout)["_source"].endswith(f"{layout}.toml")


def test_a_layout_without_its_shipped_mapping_is_an_error_not_the_defaults():
    with pytest.raises(MappingError) as exc:
        default_mapping("nothing-shipped")
    msg = str(exc.value)
    assert "nothing-shipped layout" in msg and str(MAPPINGS_DIR / "nothing-shipped.toml") in msg


def test_mappings_are_package_data_not_checkout_files():
    """The shipped mappings sit in the ``pipelines`` package, where a wheel installs them."""
    assert Path(pipelines.__file__).resolve().parent / "mappings" == MAPPINGS_DIR
    assert {"aloha", "lerobot", "lerobot-unitree-g1-inspire", "mcap", "robomimic"} <= set(
        shipped_mappings())


def test_a_shipped_mapping_is_found_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the name means the shipped file wherever one runs from
    m = load_mapping("lerobot-unitree-g1-inspire")
    assert m["_source"] == str(MAPPINGS_DIR / "lerobot-unitree-g1-inspire.toml")
    assert m["robot_model"] == "unitree-g1-inspire"
    assert load_mapping(Path("lerobot"))["_source"] == str(MAPPINGS_DIR / "lerobot.toml")


def test_an_existing_file_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("lerobot").write_text('robot_model = "koch"\n')
    assert find_mapping("lerobot") == Path("lerobot")
    assert load_mapping("lerobot")["robot_model"] == "koch"


@pytest.mark.parametrize("name", ["lerobot-unitree-g1", "no-such-mapping"])
def test_an_unknown_name_names_itself_and_where_it_looked(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MappingError) as exc:
        load_mapping(name)
    msg = str(exc.value)
    assert f"mapping '{name}' not found" in msg
    assert str(tmp_path / name) in msg and str(MAPPINGS_DIR / f"{name}.toml") in msg
    assert "lerobot-unitree-g1-inspire" in msg  # the names that are shipped


def test_a_path_is_never_taken_for_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for ref in ("lerobot.toml", "sub/lerobot", str(tmp_path / "lerobot")):
        with pytest.raises(MappingError, match="mapping file not found"):
            load_mapping(ref)


def test_g1_inspire_names_cover_the_profile():
    m = load_mapping(MAPPINGS_DIR / "lerobot-unitree-g1-inspire.toml")
    assert sorted(m["names"].values()) == sorted(get_profile("unitree-g1-inspire").joint_names)


@pytest.mark.parametrize(("body", "needle"), [
    ('robot_modle = "aloha"\n', "unknown key 'robot_modle'"),
    ("rate_hz = 0\n", "'rate_hz' must be a number > 0"),
    ("rate_hz = nan\n", "'rate_hz' must be a number > 0"),
    ("rate_hz = 1e308\n", "'rate_hz': 1e+308 Hz is above 100000 Hz"),
    ("[streams.states]\nrate_hz = inf\n", "'rate_hz': inf Hz is not a rate"),
    ('rate_hz = "fast"\n', "'rate_hz'"),
    ("robot_serial = 12\n", "'robot_serial' must be a string"),
    ('collection_mode = "dreaming"\n', "'collection_mode' must be one of"),
    ('started_at = "yesterday"\n', "'started_at' is not an ISO 8601 time"),
    ('names = "x"\n', "'names' must be a table"),
    ("[names]\nk = 3\n", 'names."k" must be a string'),
    ('[streams.states]\nkind = "joint_positions"\n', "streams.\"states\": 'kind' must be"),
    ('[streams.actions]\nspace = "cartesian"\n', "'space' must be one of"),
    ("[streams.states]\ncolumns = [8, 1]\n", "'columns' must be [first, end)"),
    ('[streams.states]\nnames = "j1"\n', "'names' must be a list of strings"),
    ('[streams.states]\nknd = "other"\n', "unknown key 'knd'"),
    ('[topics."/joint_states"]\nkind = "action"\n', "needs 'stream', 'camera' or 'skip'"),
    ("[topics]\nx = 1\n", 'topics."x" must be a table'),
    ("robot_model = \n", "not valid TOML"),
])
def test_malformed_mapping_names_file_and_key(refused, body, needle):
    p, message = refused("lab.toml", body, load_mapping, MappingError)
    assert str(p) in message and needle in message


def test_missing_mapping_file(tmp_path):
    with pytest.raises(MappingError, match="mapping file not found"):
        load_mapping(tmp_path / "absent.toml")


def test_g1_inspire_arm_limits_are_the_urdf_limits(shared_data):
    import xml.etree.ElementTree as ET

    root = ET.parse(shared_data / "robot-descriptions/unitree/g1_29dof.urdf").getroot()
    urdf = {j.get("name"): j.find("limit") for j in root.iter("joint")
            if j.get("type") == "revolute"}
    prof = get_profile("unitree-g1-inspire")
    arms = [j for j in prof.joints if j.unit == "rad"]
    hands = [j for j in prof.joints if j.unit == "1"]
    assert len(arms) == 14 and len(hands) == 12
    for j in arms:
        lim = urdf[j.name]
        assert (j.lower, j.upper) == (float(lim.get("lower")), float(lim.get("upper")))
        assert (j.velocity, j.effort) == (float(lim.get("velocity")), float(lim.get("effort")))
    assert all((j.lower, j.upper) == (0.0, 1.0) for j in hands)
