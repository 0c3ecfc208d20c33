"""An installed wheel is not a checkout: what embodiq reads it must carry, where it writes it
must choose without one.

The slow test builds the wheel from this tree, installs it into a fresh virtual environment in a
temporary folder and runs its ``embodiq`` from another folder. To keep it to a few minutes and
off the network, the wheel is installed with ``--no-deps`` and the new environment sees the
dependencies through a ``.pth`` file naming this project's site-packages. A ``.pth`` path is
appended to ``sys.path`` *after* the new environment's own site-packages, and ``.pth`` files in
an appended folder are not processed (so the checkout's editable install stays inert): the
wheel's ``pipelines``, ``robots``, ``schemas`` and ``checks`` win, which the test verifies
before anything else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import pipelines.store as store_mod
from pipelines.store import default_store_root

REPO = Path(__file__).resolve().parents[2]
G1 = "lerobot-v21-unitree-g1"
G1_MAPPING = "lerobot-unitree-g1-inspire"


# ----------------------------------------------------------------- the default store, in-process
def test_default_store_in_a_checkout_is_datasets_store(monkeypatch):
    monkeypatch.delenv("EMBODIQ_STORE", raising=False)
    assert default_store_root() == REPO / "datasets" / "store"


def test_store_env_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBODIQ_STORE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_root() == tmp_path / "mine"


def test_outside_a_checkout_the_store_is_per_user(monkeypatch, tmp_path):
    """The package's parent without embodiq's pyproject.toml is site-packages: never a store."""
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    monkeypatch.setattr(store_mod, "REPO_ROOT", site)
    monkeypatch.delenv("EMBODIQ_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_root() == tmp_path / "xdg" / "embodiq" / "store"
    for ignored in ("", "relative/data"):  # XDG: an empty or relative value is ignored
        monkeypatch.setenv("XDG_DATA_HOME", ignored)
        assert default_store_root() == Path.home() / ".local" / "share" / "embodiq" / "store"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_store_root() == Path.home() / ".local" / "share" / "embodiq" / "store"


# --------------------------------------------------------------------------- the installed wheel
def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600
         ) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The wheel built from this tree, installed alone into a fresh venv in a temp folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a clean copy: no stale build/ of the checkout can leak into the wheel
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for pkg in ("schemas", "robots", "checks", "pipelines"):
        shutil.copytree(REPO / pkg, src / pkg,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EMBODIQ_STORE")}
    env["PYTHONWARNINGS"] = "default"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", tmp / "dist",
                  src], cwd=tmp, env=env)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheels = list((tmp / "dist").glob("embodiq-*.whl"))
    assert len(wheels) == 1, wheels

    venv = tmp / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp, env=env)
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                     cwd=tmp, env=env).stdout.strip())
    got = _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps",
                "--no-index", wheels[0]], cwd=tmp, env=env)
    assert got.returncode == 0, got.stdout[-3000:] + got.stderr[-3000:]
    (site / "zz_embodiq_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    work = tmp / "work"  # another working directory: nothing of the checkout beside it
    work.mkdir()
    env["XDG_DATA_HOME"] = str(tmp / "xdg")
    return {"wheel": wheels[0], "build_log": built.stdout + built.stderr, "py": py,
            "embodiq": venv / "bin" / "embodiq", "site": site, "work": work, "env": env,
            "tmp": tmp}


@pytest.mark.slow
def test_wheel_carries_its_data_and_builds_without_deprecations(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    shipped = {f"pipelines/mappings/{p.name}" for p in (REPO / "pipelines/mappings").glob("*")}
    shipped |= {f"robots/profiles/{p.name}" for p in (REPO / "robots/profiles").glob("*")}
    shipped |= {f"schemas/profiles/{p.name}" for p in (REPO / "schemas/profiles").glob("*")}
    shipped |= {"robots/data/iso3166_alpha2.txt"}
    assert f"pipelines/mappings/{G1_MAPPING}.toml" in shipped
    assert shipped <= names, sorted(shipped - names)
    assert "`project.license` as a TOML table is deprecated" not in installed["build_log"]
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: Apache-2.0" in zipfile.ZipFile(installed["wheel"]).read(
        meta).decode()


@pytest.mark.slow
def test_installed_wheel_runs_its_own_code_with_its_own_data(installed, shared_data):
    py, emb, site, work, env = (installed[k] for k in ("py", "embodiq", "site", "work", "env"))
    where = _run([py, "-c", "import json, checks, pipelines, robots, schemas\n"
                  "from pipelines.mapping import MAPPINGS_DIR\n"
                  "from pipelines.store import default_store_root\n"
                  "print(json.dumps([m.__file__ for m in (checks, pipelines, robots, schemas)]"
                  " + [str(MAPPINGS_DIR), str(default_store_root())]))"], cwd=work, env=env)
    assert where.returncode == 0, where.stderr
    *modules, mappings_dir, store_root = json.loads(where.stdout)
    for m in modules:  # the wheel's code, not the checkout's
        assert Path(m).is_relative_to(site), m
    assert Path(mappings_dir) == site / "pipelines" / "mappings"
    # no checkout around the package: the per-user store, never site-packages
    assert Path(store_root) == Path(env["XDG_DATA_HOME"]) / "embodiq" / "store"

    store = installed["tmp"] / "store"
    demo = _run([emb, "demo", "--store", store, "--quiet"], cwd=work, env=env)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert (store / "datasets" / "demo" / "LATEST").is_file()

    data = shared_data / G1
    by_name = _run([emb, "check", data, "--mapping", G1_MAPPING, "--json", "--quiet",
                    "--store", store], cwd=work, env=env)
    by_path = _run([emb, "check", data, "--mapping", Path(mappings_dir) / f"{G1_MAPPING}.toml",
                    "--json", "--quiet", "--store", store], cwd=work, env=env)
    assert by_name.returncode == by_path.returncode == 1, by_name.stderr  # videos are missing
    named, pathed = json.loads(by_name.stdout), json.loads(by_path.stdout)
    eps = named["episodes"]
    assert len(eps) == 100
    assert [(e["source"], e["grade"]) for e in eps] == \
        [(e["source"], e["grade"]) for e in pathed["episodes"]]
    findings = [f for e in eps for f in e["findings"]]
    assert not [f for f in findings if f["check_id"] == "schema.robot"]  # the profile matched
    installed_file = str(Path(mappings_dir) / f"{G1_MAPPING}.toml")
    model = [f["message"] for f in eps[1]["findings"] if f["stream"] == "robot_model"]
    assert model == [f"robot_model is not in the source: 'unitree-g1-inspire' taken from "
                     f"{installed_file}"]
    with_video = {e["source"].rsplit("#", 1)[1]: e for e in eps
                  if e["source"].endswith(("episode_000001", "episode_000002",
                                           "episode_000004"))}
    assert len(with_video) == 3 and all(e["passed"] for e in with_video.values()), \
        {k: e["grade"] for k, e in with_video.items()}

    unknown = _run([emb, "check", data, "--mapping", "lerobot-g1", "--store", store],
                   cwd=work, env=env)
    assert unknown.returncode == 2
    msg = " ".join(unknown.stderr.split())
    assert "mapping 'lerobot-g1' not found" in msg and mappings_dir in msg
    assert "Traceback" not in unknown.stderr
