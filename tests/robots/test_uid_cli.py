"""``embodiq uid`` as an operator uses it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pipelines.cli.main import app
from robots.uid import parse

runner = CliRunner()
H1_CODE = "CNUNTRH10001" + "H10042".rjust(17, "0")


def _uid(*args: str):
    return runner.invoke(app, ["uid", *args])


def test_issue_validate_resolve_list(tmp_path):
    store = ["--store", str(tmp_path)]
    res = _uid("issue", "--model", "unitree-h1", "--serial", "h1-0042", *store)
    assert res.exit_code == 0, res.output
    code = res.stdout.strip().splitlines()[-1]
    assert code == H1_CODE
    assert parse(code).label in res.stderr  # the label to print, for people
    again = _uid("issue", "--model", "unitree-h1", "--serial", "H10042", *store)
    assert again.exit_code == 0 and again.stdout.strip().splitlines()[-1] == code
    label = parse(code).label
    ok = _uid("validate", label, parse(code).pretty, *store)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.count("registered to unitree-h1 serial H10042") == 2
    typo = label[:-1] + ("A" if label[-1] != "A" else "B")
    bad = _uid("validate", typo, *store)
    assert bad.exit_code == 1 and "check character is" in bad.stdout
    res = _uid("resolve", "--model", "unitree-h1", "--serial", "H1-0042", *store)
    assert res.exit_code == 0 and res.stdout.strip() == code
    listed = json.loads(_uid("list", "--json", *store).stdout)
    assert [b["code"] for b in listed] == [code]
    assert listed[0]["robot_serial"] == "H10042" and listed[0]["created_at"]
    table = _uid("list", *store)
    assert table.exit_code == 0 and "1 registered robot" in table.stdout
    assert code in table.stdout  # never cut to fit the terminal


def test_issue_json_gives_every_form(tmp_path):
    res = _uid("issue", "--model", "aloha", "--serial", "7", "--json", "--store", str(tmp_path))
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    uid = parse(data["code"])
    assert data["code"].startswith("USTRSN") and data["label"] == uid.label
    assert data["pretty"] == uid.pretty and data["robot_model"] == "aloha"


def test_store_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBODIQ_STORE", str(tmp_path))
    assert _uid("issue", "--model", "unitree-g1", "--serial", "G1-1").exit_code == 0
    assert (tmp_path / "registry" / "robots.sqlite").is_file()
    res = _uid("resolve", "--model", "unitree-g1", "--serial", "G11")
    assert res.stdout.strip() == "CNUNTRG10029" + "G11".rjust(17, "0")


def test_user_profile_in_the_store(tmp_path):
    robots = tmp_path / "robots"
    robots.mkdir()
    (robots / "acme-arm.toml").write_text(
        'id = "acme-arm"\nkind = "arm"\n[uid]\ncountry = "DE"\nenterprise = "ACME"\n'
        'product_model = "ARM006"\n[[joints]]\nname = "j1"\nlower = -1\nupper = 1\n')
    res = _uid("issue", "--model", "acme-arm", "--serial", "A1", "--store", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == "DEACMEARM006" + "A1".rjust(17, "0")


def test_profile_without_uid_segments_is_refused(tmp_path):
    robots = tmp_path / "robots"
    robots.mkdir()
    (robots / "bare.toml").write_text(
        'id = "bare"\nkind = "arm"\n[[joints]]\nname = "j1"\nlower = -1\nupper = 1\n')
    res = _uid("issue", "--model", "bare", "--serial", "A1", "--store", str(tmp_path))
    assert res.exit_code == 1 and "has no [uid] segments" in res.stderr


def test_validate_says_why_for_each_code(tmp_path):
    good = parse(H1_CODE)
    typo = good.label[:-1] + ("0" if good.check != "0" else "1")
    res = _uid("validate", H1_CODE, "XX-UNTR-H10001-1", typo, "--store", str(tmp_path))
    assert res.exit_code == 1
    lines = res.stdout.strip().splitlines()
    assert lines[0].startswith("valid") and "no registry in this store" in lines[0]
    assert lines[1].startswith("invalid") and "this one has 13" in lines[1]
    assert lines[2].startswith("invalid") and f"expected {good.check}" in lines[2]
    js = _uid("validate", H1_CODE, "nope", "--json", "--store", str(tmp_path))
    data = json.loads(js.stdout)
    assert js.exit_code == 1 and [d["valid"] for d in data] == [True, False]
    assert data[0]["form"] == "code" and data[0]["registered"] is None
    assert "29 characters" in data[1]["reason"]


def test_validate_all_valid_exits_0(tmp_path):
    _uid("issue", "--model", "unitree-h1", "--serial", "H10042", "--store", str(tmp_path))
    other = "CNUNTRH1000100000000000000001"
    res = _uid("validate", "--json", H1_CODE, other, "--store", str(tmp_path))
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert [d["registered"] for d in data] == [True, False]
    assert data[0]["robot_serial"] == "H10042"


def test_bad_serial_is_refused(tmp_path):
    for serial, needle in (("X" * 18, "at most 17"), ("SN#1", "letters and digits"),
                           ("-", "empty")):
        res = _uid("issue", "--model", "unitree-h1", "--serial", serial, "--store", str(tmp_path))
        assert res.exit_code == 1 and needle in res.stderr
        assert "Traceback" not in res.output


def test_unknown_model_is_refused(tmp_path):
    res = _uid("issue", "--model", "nope", "--serial", "1", "--store", str(tmp_path))
    assert res.exit_code == 1 and "no robot profile 'nope'" in res.stderr
    assert "unitree-h1" in res.stderr  # the known ones are listed


def test_resolve_unknown_robot_exits_1(tmp_path):
    res = _uid("resolve", "--model", "unitree-h1", "--serial", "404", "--store", str(tmp_path))
    assert res.exit_code == 1 and "has no code yet" in res.stderr


def test_broken_registry_file_is_named(tmp_path):
    reg = tmp_path / "registry" / "robots.sqlite"
    reg.parent.mkdir()
    reg.write_bytes(b"garbage" * 200)
    res = _uid("list", "--store", str(tmp_path))
    assert res.exit_code == 1 and "is not a robot registry" in res.stderr
    assert "Traceback" not in res.output


def test_validate_refuses_look_alikes_naming_character_and_position(tmp_path):
    """``ß`` used to be upper-cased to ``SS``: a different text validated as a real label."""
    label = parse("CNUNTRH10001" + "ASS42".rjust(17, "0")).label
    spelled = label.replace("SS", "ß")
    res = _uid("validate", spelled, "--store", str(tmp_path))
    assert res.exit_code == 1, res.output
    text = " ".join(res.stdout.split())
    assert text.startswith("invalid") and "'ß' (U+00DF) at position 26" in text
    res = _uid("issue", "--model", "unitree-h1", "--serial", "A\ufb0042", "--store",
               str(tmp_path))
    assert res.exit_code == 1 and "'\ufb00' (U+FB00) at position 2" in res.stderr
    assert "Traceback" not in res.output


def _files(folder):
    return {p.name: (p.stat().st_ino, p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes())
            for p in folder.iterdir()} if folder.is_dir() else {}


def test_reading_commands_create_nothing_without_a_registry(tmp_path):
    store = tmp_path / "store"
    res = _uid("list", "--store", str(store))
    assert res.exit_code == 0 and res.stdout == "", res.output
    res = _uid("list", "--json", "--store", str(store))
    assert res.exit_code == 0 and json.loads(res.stdout) == []
    res = _uid("resolve", "--model", "aloha", "--serial", "7", "--store", str(store))
    assert res.exit_code == 1 and "has no code yet" in res.stderr
    assert _uid("validate", H1_CODE, "--store", str(store)).exit_code == 0
    assert not store.exists()  # no registry, no folder, nothing


def test_list_opens_the_registry_read_only(tmp_path):
    _uid("issue", "--model", "unitree-h1", "--serial", "H10042", "--store", str(tmp_path))
    reg = tmp_path / "registry" / "robots.sqlite"
    before = _files(reg.parent)[reg.name]
    for args in (["list"], ["list", "--json"], ["validate", H1_CODE],
                 ["resolve", "--model", "unitree-h1", "--serial", "H10042"]):
        res = _uid(*args, "--store", str(tmp_path))
        assert res.exit_code == 0 and H1_CODE in res.stdout, res.output
    # the database itself is never written (SQLite may add its WAL index beside it)
    assert _files(reg.parent)[reg.name] == before
