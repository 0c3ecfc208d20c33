"""Profiles from URDF and MJCF: the importer reproduces every limit of the descriptions."""

from __future__ import annotations

import math
import re
import tomllib

import pytest
from typer.testing import CliRunner

from robots.importer import profile_toml, read_description
from robots.profile import (
    BUILTIN_DIR,
    MAX_JOINTS,
    ProfileCatalog,
    ProfileError,
    get_profile,
    parse_profile,
)

#: shipped profile -> the description files in ../shared/data/robot-descriptions it came from
FROM_DESCRIPTION = {
    "unitree-h1": ["unitree/h1.urdf"],
    "unitree-g1": ["unitree/g1_29dof.urdf"],
    "unitree-h1-2": ["unitree/h1_2_handless.urdf"],
    "booster-t1": ["booster-t1/T1_serial.urdf"],
    "franka-panda": ["robomind/panda.urdf"],
}


@pytest.mark.parametrize("robot", sorted(FROM_DESCRIPTION))
def test_importer_reproduces_the_shipped_urdf_profiles(shared_data, robot):
    desc = read_description(shared_data / "robot-descriptions" / FROM_DESCRIPTION[robot][0])
    prof = get_profile(robot)
    assert [j.name for j in desc.joints] == prof.joint_names
    for got, shipped in zip(desc.joints, prof.joints, strict=True):
        assert got == shipped, got.name


@pytest.mark.parametrize(("mjcf", "urdf"), [
    ("unitree/h1.xml", "unitree/h1.urdf"), ("unitree/g1_29dof.xml", "unitree/g1_29dof.urdf"),
    ("booster-t1/T1_serial.xml", "booster-t1/T1_serial.urdf")])
def test_mjcf_positions_agree_with_the_urdf(shared_data, mjcf, urdf):
    base = shared_data / "robot-descriptions"
    m, u = read_description(base / mjcf), read_description(base / urdf)
    assert [j.name for j in m.joints] == [j.name for j in u.joints]
    for a, b in zip(m.joints, u.joints, strict=True):
        assert (a.lower, a.upper) == pytest.approx((b.lower, b.upper), abs=1e-3), a.name


def test_importer_reproduces_the_aloha_arms_from_the_act_mjcf(shared_data):
    desc = read_description(shared_data / "robot-descriptions/act-viperx/"
                            "bimanual_viperx_transfer_cube.xml")
    assert any("scene.xml" in n for n in desc.notes)  # left out of the sample: skipped, said
    by_name = {j.name: j for j in desc.joints}
    aloha = get_profile("aloha")
    arm = [j for j in aloha.joints if not j.name.endswith("/gripper")]
    assert len(arm) == 12
    for j in arm:
        assert by_name[j.name] == j, j.name


def test_shipped_arm_profiles_record_source_licence_and_aliases():
    for pid in ("franka-panda", "so100", "so101", "koch"):
        text = (BUILTIN_DIR / f"{pid}.toml").read_text()
        data = tomllib.loads(text)
        prof = parse_profile(data, pid)
        assert prof.kind == "arm" and prof.source and prof.licence and prof.aliases, pid
        assert "@" in prof.source and "embodiq robots import" in text
        assert all(j.unit in ("rad", "m") for j in prof.joints)
    cat = ProfileCatalog()
    assert cat.resolve("so100_follower").id == "so100"
    assert cat.resolve("Unitree_G1_Inspire").id == "unitree-g1-inspire"
    assert cat.resolve("KOCH-follower").id == "koch"  # case, '-' and '_' do not matter
    assert cat.resolve("no_such_robot") is None


def test_urdf_details(tmp_path):
    p = tmp_path / "r.urdf"
    p.write_text("""<robot name="r">
      <joint name="a" type="revolute"><limit lower="-1" upper="1" velocity="2" effort="3"/></joint>
      <joint name="spin" type="continuous"><limit velocity="4" effort="0"/></joint>
      <joint name="slide" type="prismatic"><limit lower="0" upper="0.1" velocity="0.2"/></joint>
      <joint name="copy" type="revolute"><mimic joint="a"/><limit lower="-1" upper="1"/></joint>
      <joint name="weld" type="fixed"/>
      <transmission name="t"><joint name="a"/></transmission>
    </robot>""")
    d = read_description(p)
    assert [j.name for j in d.joints] == ["a", "spin", "slide"]
    spin, slide = d.joints[1], d.joints[2]
    assert (spin.lower, spin.upper, spin.effort) == (-math.inf, math.inf, math.inf)
    assert (slide.unit, slide.effort) == ("m", math.inf)
    prof = parse_profile(tomllib.loads(profile_toml(d, "r", kind="arm", source="test")), "r")
    assert prof.joint("spin").upper == math.inf and prof.joint("a").velocity == 2.0


def test_mjcf_degrees_defaults_and_includes(tmp_path):
    (tmp_path / "arm.xml").write_text("""<mujocoinclude>
      <body name="b1"><joint name="j1" class="big"/>
        <body name="b2"><joint name="j2" range="-90 90"/><joint name="s" type="slide"
          range="0 0.5"/><joint name="free" type="free"/></body></body>
    </mujocoinclude>""")
    (tmp_path / "model.xml").write_text("""<mujoco model="m">
      <default><joint range="-45 45"/><default class="big"><joint range="-180 180"/></default>
      </default>
      <worldbody><include file="arm.xml"/></worldbody></mujoco>""")
    d = read_description(tmp_path / "model.xml")
    assert [j.name for j in d.joints] == ["j1", "j2", "s"]
    j1, j2, s = d.joints
    assert (j1.lower, j1.upper) == pytest.approx((-math.pi, math.pi))  # degrees by default
    assert (j2.lower, j2.upper) == pytest.approx((-math.pi / 2, math.pi / 2))
    assert (s.lower, s.upper, s.unit) == (0.0, 0.5, "m")  # slides are lengths, never converted



def test_an_include_bomb_is_refused_at_once(tmp_path):
    # each level includes the next 20 times, 8 deep: 2.6·10^10 parses if followed
    for d in range(8):
        includes = f'<include file="d{d + 1}.xml"/>' * 20
        (tmp_path / f"d{d}.xml").write_text(
            f'<mujoco><worldbody><body name="b{d}"><joint name="j{d}" range="-1 1"/>'
            f"{includes}</body></worldbody></mujoco>")
    (tmp_path / "d8.xml").write_text('<mujoco><body name="x"><joint name="x"/></body></mujoco>')
    with pytest.raises(ProfileError, match=r"more than 256 <include> to expand in all"):
        read_description(tmp_path / "d0.xml")
    # a model that includes one file many times over a few levels is still read
    (tmp_path / "leaf.xml").write_text('<mujocoinclude><body name="l"><joint name="j" '
                                       'range="-1 1"/></body></mujocoinclude>')
    (tmp_path / "mid.xml").write_text("<mujocoinclude>" + '<include file="leaf.xml"/>' * 10 +
                                      "</mujocoinclude>")
    (tmp_path / "ok.xml").write_text("<mujoco><worldbody>" + '<include file="mid.xml"/>' * 10
                                     + "</worldbody></mujoco>")
    assert len(read_description(tmp_path / "ok.xml").joints) == 100  # 110 includes


def test_descriptions_are_bounded_in_bytes_and_joints(tmp_path):
    """A description of many megabytes, or of thousands of joints, is refused before it takes
    the time and memory of parsing it (a 33 MB URDF took 12 s and 570 MB)."""
    pad = "<!--" + "x" * (3 * 2**20) + "-->"  # 3 MiB
    big = tmp_path / "big.urdf"
    big.write_text(f"<robot name='r'>{pad * 3}</robot>")
    with pytest.raises(ProfileError, match=r"big.urdf: the description holds more than 8 MiB"):
        read_description(big)
    # the includes count too: three files of 3 MiB
    for k in range(3):
        (tmp_path / f"part{k}.xml").write_text(f"<mujocoinclude>{pad}</mujocoinclude>")
    model = tmp_path / "model.xml"
    model.write_text("<mujoco><worldbody>" + "".join(
        f'<include file="part{k}.xml"/>' for k in range(3)) + "</worldbody></mujoco>")
    with pytest.raises(ProfileError, match=r"part2.xml: the description holds more than 8 MiB"):
        read_description(model)
    many = tmp_path / "many.urdf"
    many.write_text("<robot name='r'>" + "".join(
        f"<joint name='j{i}' type='continuous'/>" for i in range(MAX_JOINTS + 1)) + "</robot>")
    with pytest.raises(ProfileError, match=rf"{MAX_JOINTS + 1} joints; a profile holds at most "
                                           rf"{MAX_JOINTS}"):
        profile_toml(read_description(many), "many", kind="arm", source="test")


@pytest.mark.parametrize(("text", "needle"), [
    ("<mujoco><worldbody><include file='../../etc/passwd'/></worldbody></mujoco>",
     "leaves the model's folder"),
    ("<html/>", "neither a URDF"),
    ("<robot name='x'><joint name='a' type='fixed'/></robot>", "no actuated joint"),
    ("<robot name='x'><joint name='a' type='revolute'><limit lower='x'/></joint></robot>",
     "not a number"),
    ("<robot", "not well-formed"),
])
def test_bad_descriptions_are_refused_with_the_file_named(refused, text, needle):
    _, message = refused("bad.xml", text, lambda p: profile_toml(
        read_description(p), "bad", kind="arm", source="test"), ProfileError)
    assert re.search(needle, message) and "bad" in message


def test_robots_import_command_writes_a_user_profile(tmp_path, shared_data):
    from pipelines.cli.main import app

    runner = CliRunner()
    urdf = shared_data / "robot-descriptions/robomind/panda.urdf"
    args = ["robots", "import", str(urdf), "--id", "my-panda", "--store", str(tmp_path),
            "--alias", "my_lab_panda", "--joints", "panda_joint1,panda_joint2"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    prof = ProfileCatalog([tmp_path / "robots"]).resolve("my_lab_panda")
    assert prof.id == "my-panda" and prof.joint_names == ["panda_joint1", "panda_joint2"]
    assert runner.invoke(app, args).exit_code == 2  # exists: --force needed
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    bad = runner.invoke(app, ["robots", "import", str(urdf), "--id", "../escape",
                              "--store", str(tmp_path)])
    assert bad.exit_code == 2 and not (tmp_path / "escape.toml").exists()
    listed = runner.invoke(app, ["robots", "list", "--store", str(tmp_path), "--json"])
    assert listed.exit_code == 0 and "my-panda" in listed.stdout


def test_mjcf_angle_override(tmp_path):
    """robosuite's robot models give radians without declaring it (the scene's compiler does):
    ``angle`` overrides the unit the file declares or MuJoCo's default."""
    undeclared = tmp_path / "robot.xml"
    undeclared.write_text("<mujoco model='r'><worldbody><body name='b'>"
                          "<joint name='j' range='-3.0503 3.0503'/>"
                          "<joint name='s' type='slide' range='0 0.04'/></body></worldbody>"
                          "</mujoco>")
    declared = tmp_path / "declared.xml"
    declared.write_text(undeclared.read_text().replace(
        "<worldbody>", "<compiler angle='degree'/><worldbody>"))
    as_degrees = read_description(undeclared).joints[0]
    assert as_degrees.upper == pytest.approx(math.radians(3.0503))  # MuJoCo's default unit
    for path in (undeclared, declared):
        j, s = read_description(path, angle="radian").joints
        assert (j.lower, j.upper) == (-3.0503, 3.0503)
        assert (s.lower, s.upper) == (0.0, 0.04)  # lengths are never converted
    radian = tmp_path / "radian.xml"
    radian.write_text(undeclared.read_text().replace(
        "<worldbody>", "<compiler angle='radian'/><worldbody>"))
    assert read_description(radian, angle="degree").joints[0].upper == pytest.approx(
        math.radians(3.0503))
    with pytest.raises(ProfileError, match="angle must be one of radian, degree"):
        read_description(undeclared, angle="grad")
    urdf = tmp_path / "r.urdf"
    urdf.write_text("<robot name='r'><joint name='a' type='revolute'>"
                    "<limit lower='-1' upper='1'/></joint></robot>")
    assert read_description(urdf, angle="radian").joints[0].upper == 1.0
    with pytest.raises(ProfileError, match="MJCF files only"):
        read_description(urdf, angle="degree")


#: The joints of robosuite 0.1's robot models (wx-b/robosuite @ db4a44ff, the commit the
#: SawyerLift and BaxterPegInHole demonstrations come from, and hartikainen/robosuite @
#: 32bef3f0 / 14db5d81, the same files), in body order with their ``range`` text: the files
#: themselves are not in the sample data. Each chain is nested body in body; a ``+`` entry
#: opens a sibling branch that closes before the next entry (the head beside the arm).
ROBOSUITE_01 = {
    "sawyer": [("right_j0", "-3.0503 3.0503"), ("+head_pan", "-5.0952 0.9064"),
               ("right_j1", "-3.8095 2.2736"), ("right_j2", "-3.0426 3.0426"),
               ("right_j3", "-3.0439 3.0439"), ("right_j4", "-2.9761 2.9761"),
               ("right_j5", "-2.9761 2.9761"), ("right_j6", "-4.7124 4.7124")],
    "baxter": [("+head_pan", "-1.5708 1.5708")] + [
        (f"{side}_{j}", r) for side in ("right", "left") for j, r in (
            ("s0", "-1.70168 1.70168"), ("s1", "-2.147 1.047"), ("e0", "-3.05418 3.05418"),
            ("e1", "-0.05 2.618"), ("w0", "-3.059 3.059"), ("w1", "-1.5708 2.094"),
            ("w2", "-3.059 3.059"))],
}
#: robosuite's Panda (robots/panda/robot.xml at 05a0adcf and c7d0b51d, the door and wipe
#: demonstrations' commits): the same arm ranges as the shipped franka-panda profile.
ROBOSUITE_PANDA = [("joint1", "-2.8973 2.8973"), ("joint2", "-1.7628 1.7628"),
                   ("joint3", "-2.8973 2.8973"), ("joint4", "-3.0718 -0.0698"),
                   ("joint5", "-2.8973 2.8973"), ("joint6", "-0.0175 3.7525"),
                   ("joint7", "-2.8973 2.8973")]


def _robosuite_like_mjcf(path, joints) -> None:
    """An MJCF shaped like robosuite's robot.xml: no <compiler>, ranges in radians."""
    body, depth = [], 0
    for i, (name, rng) in enumerate(joints):
        joint = f"<joint axis='0 0 1' limited='true' name='{name.lstrip('+')}' range='{rng}'/>"
        if name.startswith("+"):
            body.append(f"<body name='b{i}'>{joint}</body>")
        else:
            body.append(f"<body name='b{i}'>{joint}")
            depth += 1
    path.write_text("<mujoco model='m'><worldbody><body name='base'>" + "".join(body)
                    + "</body>" * depth + "</body></worldbody></mujoco>")


@pytest.mark.parametrize("robot", sorted(ROBOSUITE_01))
def test_importer_with_angle_radian_reproduces_the_robosuite_profiles(tmp_path, robot):
    from pipelines.cli.main import app

    xml = tmp_path / "robot.xml"
    _robosuite_like_mjcf(xml, ROBOSUITE_01[robot])
    shipped = get_profile(robot)
    out = tmp_path / f"{robot}.toml"
    kind = "bimanual" if robot == "baxter" else "arm"
    res = CliRunner().invoke(app, ["robots", "import", str(xml), "--id", robot, "--kind", kind,
                                   "--angle", "radian", "--source", "test", "--out", str(out)])
    assert res.exit_code == 0, res.output
    got = parse_profile(tomllib.loads(out.read_text()), robot)
    assert got.joint_names == shipped.joint_names
    for a, b in zip(got.joints, shipped.joints, strict=True):
        assert a == b, a.name
    assert "robosuite" in shipped.source and shipped.licence == "MIT" and shipped.uid
    assert ProfileCatalog().resolve(robot.capitalize()).id == robot  # robosuite's name
    # read as MuJoCo's default degrees, the same file gives limits 57 times too narrow
    assert read_description(xml).joints[-1].upper == pytest.approx(
        math.radians(shipped.joints[-1].upper))


def test_robosuite_panda_arm_is_the_franka_panda_profile(tmp_path):
    xml = tmp_path / "robot.xml"
    _robosuite_like_mjcf(xml, ROBOSUITE_PANDA)
    desc = read_description(xml, angle="radian")
    franka = get_profile("franka-panda")
    for got, shipped in zip(desc.joints, franka.joints[:7], strict=True):
        assert (got.lower, got.upper) == (shipped.lower, shipped.upper), shipped.name
    assert ProfileCatalog().resolve("Panda").id == "franka-panda"


def test_names_with_line_breaks_and_control_characters_make_a_readable_profile(tmp_path):
    """A joint name is the file's, whatever it holds (XML allows a line break in it); the
    profile written escapes it, so it reads back as the same name and cannot add a key."""
    urdf = tmp_path / "odd.urdf"
    urdf.write_text('<robot name="r"><link name="a"/><link name="b"/>'
                    '<joint name="j&#10;upper = 99" type="revolute"><parent link="a"/>'
                    '<child link="b"/><limit lower="-1" upper="1" velocity="1" effort="1"/>'
                    '</joint></robot>')
    text = profile_toml(read_description(urdf), "odd", kind="arm", source='a "quoted" \\ path',
                        model_name="x\x7fy\x1b[2J\t")
    (tmp_path / "odd.toml").write_text(text)
    prof = ProfileCatalog([tmp_path]).resolve("odd")
    assert prof.joint_names == ["j\nupper = 99"] and prof.joints[0].upper == 1.0
    assert prof.model_name == "x\x7fy\x1b[2J\t" and prof.source == 'a "quoted" \\ path'
    with pytest.raises(ProfileError, match="not valid UTF-8 text"):
        profile_toml(read_description(urdf), "odd", kind="arm", source="s",
                     model_name="bad \udcff byte")  # an argument that was not UTF-8


def test_robots_import_never_writes_over_its_description_or_into_the_store(tmp_path,
                                                                           shared_data):
    """``--out`` with ``--force`` replaces its file: not the URDF being read, not a published
    version's file; the store's own robots folder and any outside file are fine."""
    import shutil

    from pipelines.cli.main import app

    urdf = tmp_path / "panda.urdf"
    shutil.copy(shared_data / "robot-descriptions/robomind/panda.urdf", urdf)
    before = urdf.read_bytes()
    store = tmp_path / "store"
    published = store / "datasets" / "lab" / "v0001" / "manifest.json"
    published.parent.mkdir(parents=True)
    published.write_text("{}")
    runner = CliRunner()
    for out in (urdf, published):
        res = runner.invoke(app, ["robots", "import", str(urdf), "--id", "p", "--out", str(out),
                                  "--force", "--store", str(store)])
        assert res.exit_code == 2 and "a profile is never written there" in res.output, \
            res.output
    assert urdf.read_bytes() == before and published.read_text() == "{}"
    for out in (store / "robots" / "p.toml", tmp_path / "p.toml"):
        res = runner.invoke(app, ["robots", "import", str(urdf), "--id", "p", "--out", str(out),
                                  "--store", str(store)])
        assert res.exit_code == 0 and out.is_file(), res.output
