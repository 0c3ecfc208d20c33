"""``embodiq uid`` as an operator uses it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pipelines.cli.main import app
from robots.uid import parse

runner = CliRunner()


def test_issue_validate_resolve_list(tmp_path):
    store = ["--store", str(tmp_path)]
    res = runner.invoke(app, ["uid", "issue", "--model", "unitree-h1", "--serial", "h1-0042",
                              *store])
    assert res.exit_code == 0, res.output
    code = res.stdout.strip().splitlines()[-1]
    assert code == "CNUNTRH10001" + "H10042".rjust(17, "0")
    again = runner.invoke(app, ["uid", "issue", "--model", "unitree-h1", "--serial", "H10042",
                                *store])
    assert again.stdout.strip().splitlines()[-1] == code
    label = parse(code).label
    ok = runner.invoke(app, ["uid", "validate", label, *store])
    assert ok.exit_code == 0 and "registered to unitree-h1" in ok.stdout
    typo = label[:-1] + ("A" if label[-1] != "A" else "B")
    bad = runner.invoke(app, ["uid", "validate", typo, *store])
    assert bad.exit_code == 1 and "check character" in bad.stdout
    res = runner.invoke(app, ["uid", "resolve", "--model", "unitree-h1", "--serial", "H10042",
                              *store])
    assert res.stdout.strip() == code
    listed = json.loads(runner.invoke(app, ["uid", "list", "--json", *store]).stdout)
    assert [b["code"] for b in listed] == [code]


def test_bad_serial_is_refused(tmp_path):
    res = runner.invoke(app, ["uid", "issue", "--model", "unitree-h1", "--serial", "X" * 18,
                              "--store", str(tmp_path)])
    assert res.exit_code == 1 and "at most 17" in res.stderr


def test_unknown_model_is_refused(tmp_path):
    res = runner.invoke(app, ["uid", "issue", "--model", "nope", "--serial", "1", "--store",
                              str(tmp_path)])
    assert res.exit_code == 1 and "no robot profile 'nope'" in res.stderr
