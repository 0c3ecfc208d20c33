"""Text from recordings reaches the terminal as text: a file name or an attribute can neither
drive the terminal (escape sequences, direction overrides) nor be taken for rich markup."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import pytest
from typer.testing import CliRunner

from pipelines.cli.common import shown
from pipelines.cli.main import app
from pipelines.demo import DEMO_SET
from tests.pipelines.demo_files import copy_recording

runner = CliRunner()
CLEAN = next(r for r in DEMO_SET if r.defect is None)
ESCAPES = "\x1b[2J\x1b]0;pwned\x07"  # clear the screen, retitle the window


@pytest.fixture
def folder(demo_recordings, tmp_path) -> Path:
    """Two recordings: one named with escape sequences, one whose metadata holds markup."""
    src = copy_recording(demo_recordings, CLEAN, tmp_path / "rec")
    shutil.copy(src, src.parent / f"{ESCAPES}\u202etake.h5")
    with h5py.File(src, "r+") as f:
        f.attrs["collection_mode"] = "tele[/]op [bold]"
    return src.parent


def test_shown_makes_controls_visible_and_escapes_markup():
    assert shown("a\x1b[31mb\u202ec") == "a\\x1b[31mb\\u202ec"
    assert shown("[bold]x[/]") == "\\[bold]x\\[/]"
    assert shown("two\nlines\ttab") == "two\\x0alines\\x09tab"
    assert shown("two\nlines", lines=True) == "two\nlines"
    assert shown("café 机器人 [1]") == "café 机器人 [1]"  # nothing else changes
    assert shown("take\udcff.h5") == "take\\udcff.h5"  # a byte of a name that is not UTF-8


@pytest.mark.parametrize("args", [["check"], ["check", "--quiet"],
                                  ["ingest", "--dataset", "hostile"]])
def test_hostile_names_and_metadata_are_printed_not_obeyed(folder, tmp_path, args):
    res = runner.invoke(app, [*args, str(folder), "--store", str(tmp_path / "store")],
                        env={"COLUMNS": "250"})
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code in (0, 1), res.output
    text = res.stdout + res.stderr
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b[2J\\x1b]0;pwned\\x07\\u202etake.h5" in text
    if args[0] == "check":
        assert "'tele[/]op [bold]'" in text  # the value as it is, in the first problem
        if "--quiet" not in args:
            assert "[error] schema.metadata" in text  # the severity label is shown too


def test_listings_print_profile_text_as_it_is(tmp_path, shared_data):
    """``robots list`` prints a user profile's model name and aliases, written by anyone, as
    text: markup in brackets is shown, escape sequences are made visible."""
    urdf = shared_data / "robot-descriptions/robomind/panda.urdf"
    made = runner.invoke(app, ["robots", "import", str(urdf), "--id", "odd-panda",
                               "--model-name", f"Panda [/] [bold]{ESCAPES}",
                               "--store", str(tmp_path)])
    assert made.exit_code == 0, made.output
    res = runner.invoke(app, ["robots", "list", "--store", str(tmp_path)],
                        env={"COLUMNS": "250"})
    assert res.exit_code == 0, (res.output, res.exception)
    assert "\x1b" not in res.stdout and "\x07" not in res.stdout
    assert "Panda [/] [bold]\\x1b[2J\\x1b]0;pwned\\x07" in res.stdout


def test_names_that_are_not_utf8_are_printed_as_escapes(demo_recordings, tmp_path):
    """A file named with bytes that are not UTF-8 is printed with those bytes escaped, in the
    table as in the messages: the terminal receives UTF-8 text only."""
    import os

    src = copy_recording(demo_recordings, CLEAN, tmp_path / "rec")
    odd = os.fsdecode(bytes(src.parent) + b"/take\xff.h5")
    src.rename(odd)
    res = runner.invoke(app, ["check", str(src.parent), "--store", str(tmp_path / "store")],
                        env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    res.stdout_bytes.decode("utf-8")  # strict: no raw byte reached the terminal
    assert "take\\udcff.h5" in res.stdout
