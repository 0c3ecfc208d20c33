"""Hostile names and paths: a source must never make the pipeline write outside the store, nor
read, hash or copy a file outside the recording, nor stop the batch.

One inbox holds a clean recording beside every hostile source, and goes through ``embodiq
ingest`` (the real Dagster runner) once; each test then checks one defect on the outcome.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import h5py
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipelines.adapters.lerobot import ADAPTER as LEROBOT
from pipelines.cli.main import app
from pipelines.demo import DEMO_SET
from pipelines.mapping import MappingError, load_mapping
from pipelines.processing import curate
from pipelines.runner import ingest
from pipelines.sources import SourceRef, digest_source, discover, read_source
from pipelines.store import Store, StoreError, check_name
from schemas.names import SAFE_NAME_RULE, UnsafeNameError, is_safe_name
from tests.pipelines.demo_files import copy_recording
from tests.pipelines.test_adapter_lerobot import CAM, write_v21

cli = CliRunner()
CLEAN = [r for r in DEMO_SET if r.defect is None]
MAPPING = {"_source": "test mapping", "robot_model": "aloha"}
MALFORMED_INFO = {
    "info_list": [],
    "info_null": None,
    "features_list": "features",
    "chunks_zero": "chunks_size",
    "unknown_placeholder": "data_path",
}


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _one_episode_lerobot(root: Path) -> Path:
    """A LeRobot v2.1 dataset (ALOHA, one camera) trimmed to its first episode."""
    write_v21(root)
    info = json.loads((root / "meta/info.json").read_text())
    info.update(total_episodes=1, total_frames=50, splits={"train": "0:1"})
    (root / "meta/info.json").write_text(json.dumps(info))
    first = (root / "meta/episodes.jsonl").read_text().splitlines()[0]
    (root / "meta/episodes.jsonl").write_text(first + "\n")
    # bytes of its own, so each dataset has its own quarantine folder
    data = root / "data/chunk-000/episode_000000.parquet"
    table = pq.read_table(data)
    pq.write_table(table.replace_schema_metadata({"dataset": root.name}), data)
    return root


def _rename_camera(root: Path, vkey: str) -> Path:
    """Give the camera feature the key ``vkey``, moving episode 0's video to where the
    dataset's ``video_path`` template then points. Returns the video's new path."""
    info = json.loads((root / "meta/info.json").read_text())
    info["features"][vkey] = info["features"].pop(CAM)
    (root / "meta/info.json").write_text(json.dumps(info))
    old = root / f"videos/chunk-000/{CAM}/episode_000000.mp4"
    new = Path(os.path.normpath(root / info["video_path"].format(
        episode_chunk=0, video_key=vkey, episode_index=0)))
    new.parent.mkdir(parents=True, exist_ok=True)
    os.replace(old, new)
    return new


def _malformed(root: Path, how: str) -> Path:
    _one_episode_lerobot(root)
    info = json.loads((root / "meta/info.json").read_text())
    if how == "info_list":
        info = []
    elif how == "info_null":
        info = None
    elif how == "features_list":
        info["features"] = []
    elif how == "chunks_zero":
        info["chunks_size"] = 0
    elif how == "unknown_placeholder":
        info["data_path"] = "data/chunk-{episode_chunk:03d}/{owner}_{episode_index:06d}.parquet"
    (root / "meta/info.json").write_text(json.dumps(info))
    return root


def _store_files(store: Store) -> dict[str, Path]:
    """sha256 -> path of every file in the store (but the orchestrator's own database)."""
    return {_sha(p): p for p in store.root.rglob("*")
            if p.is_file() and not p.is_symlink() and "dagster" not in p.parts}


@pytest.fixture(scope="module")
def hostile(demo_recordings, tmp_path_factory):
    """The inbox, the secrets and victims outside it, and the ingest's outcome."""
    base = tmp_path_factory.mktemp("hostile")
    inbox, secrets, victim = base / "inbox", base / "secrets", base / "victim"
    for d in (inbox, secrets, victim):
        d.mkdir()
    good = copy_recording(demo_recordings, CLEAN[0], inbox / "good")
    # 1. a camera key whose last part is an absolute path: ingest would write victim/important.mp4
    target = victim / "important.mp4"
    target.write_bytes(b"precious, not a video")
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    _rename_camera(_one_episode_lerobot(inbox / "escape_cam"),
                   f"observation.images.{victim}/important")
    # 6a. a camera key that climbs out of the dataset: its "video" is a secret file elsewhere
    vid = _rename_camera(_one_episode_lerobot(inbox / "climbing_video"),
                         "../../../../secrets/observation.images.top")
    assert vid.is_relative_to(secrets)
    # 6b. the videos folder is a symbolic link to a folder outside the dataset
    linked = _one_episode_lerobot(inbox / "linked_videos")
    shutil.move(linked / "videos", secrets / "linked_videos")
    (linked / "videos").symlink_to(secrets / "linked_videos")
    # 6c. an absolute video_path template
    absolute = _one_episode_lerobot(inbox / "absolute_video_path")
    shutil.copytree(absolute / "videos", secrets / "absolute")
    info = json.loads((absolute / "meta/info.json").read_text())
    info["video_path"] = str(secrets / "absolute") + \
        "/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
    (absolute / "meta/info.json").write_text(json.dumps(info))
    # 6d. a native recording whose sidecar is a symbolic link to a file outside
    rec = copy_recording(demo_recordings, CLEAN[1], inbox / "native_link")
    side = next(p for p in rec.parent.iterdir() if p.suffix == ".mp4")
    os.replace(side, secrets / "secret.mp4")
    side.symlink_to(secrets / "secret.mp4")
    # 11. a symbolic link loop, and a second name for the clean recording
    (inbox / "loop").symlink_to(".")
    (inbox / "good" / "again.h5").symlink_to(good.name)
    # 12. malformed info.json, one dataset each
    for how in MALFORMED_INFO:
        _malformed(inbox / how, how)
    for p in secrets.rglob("*"):  # bytes no file in the inbox has
        if p.is_file():
            with open(p, "ab") as fh:
                fh.write(f"secret {p.name}".encode())
    secret_shas = {_sha(p) for p in secrets.rglob("*") if p.is_file()}
    store = Store(base / "store")
    res = cli.invoke(app, ["ingest", str(inbox), "--dataset", "lab", "--store", str(store.root),
                           "--json"])
    return {"store": store, "inbox": inbox, "victim": victim, "target": target,
            "secret_shas": secret_shas, "result": res, "base": base}


def _outcome(hostile, source: str) -> dict:
    summary = json.loads(hostile["result"].stdout)
    (o,) = [o for o in summary["outcomes"] if o["source_name"].split("#")[0] == source]
    return o


def _quarantined_findings(hostile, source: str) -> list[dict]:
    o = _outcome(hostile, source)
    assert o["grade"] == "F" and o["passed"] is False and o["run_ok"], o
    qdir = Path(o["quarantined_to"])
    assert qdir.is_relative_to(hostile["store"].root)
    docs = [json.loads(p.read_text()) for p in qdir.glob("findings*.json")]
    return [f for d in docs if d["source_name"] == o["source_name"] for f in d["findings"]]


# ------------------------------------------------------------------------------- the batch
def test_the_batch_completes_and_the_clean_recording_is_published(hostile):
    res = hostile["result"]
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert not summary["publish_error"] and summary["version"] == 1
    good = _outcome(hostile, CLEAN[0].file)
    assert good["passed"] and good["grade"] in "AB"
    assert summary["counts"]["passed"] == 1
    assert summary["counts"]["episodes"] == len(summary["outcomes"])
    assert all(o["run_ok"] for o in summary["outcomes"])


# ------------------------------------------------------------------ 1. a camera name escaping
def test_camera_name_never_becomes_a_path_outside_the_store(hostile):
    target = hostile["target"]
    assert target.read_bytes() == b"precious, not a video"
    assert target.stat().st_mtime_ns == 1_000_000_000
    assert [p.name for p in hostile["victim"].iterdir()] == ["important.mp4"]
    findings = _quarantined_findings(hostile, "escape_cam")
    cam = [f for f in findings if f["check_id"] == "schema.camera"]
    assert cam and f"not a safe name ({SAFE_NAME_RULE})" in cam[0]["message"]
    assert f"{hostile['victim']}/important" in cam[0]["message"]


def test_nothing_is_written_outside_the_store(hostile):
    base = hostile["base"]
    outside = sorted(p.relative_to(base) for p in base.rglob("*")
                     if not p.is_relative_to(hostile["store"].root)
                     and not p.is_relative_to(base / "inbox") and p.is_file())
    assert all(p.parts[0] in ("secrets", "victim") for p in outside), outside
    assert not list(base.parent.glob("important*"))


# ------------------------------------------------------------ 6. files outside the recording
@pytest.mark.parametrize("source, needle", [
    ("climbing_video", "climbs out of"),
    ("linked_videos", "is a symbolic link"),
])
def test_lerobot_video_outside_the_dataset_is_refused(hostile, source, needle):
    findings = _quarantined_findings(hostile, source)
    unsafe = [f for f in findings if f["check_id"] == "schema.unsafe"]
    assert unsafe and needle in unsafe[0]["message"] and unsafe[0]["stream"] == "top", findings


def test_absolute_video_path_template_is_refused(hostile):
    (f,) = [f for f in _quarantined_findings(hostile, "absolute_video_path")
            if f["severity"] == "error"]
    assert f["check_id"] == "schema.unsafe" and "'video_path'" in f["message"]
    assert "absolute or climbs out" in f["message"]


def test_symlinked_sidecar_is_refused_and_not_copied(hostile):
    findings = _quarantined_findings(hostile, CLEAN[1].file)
    unsafe = [f for f in findings if f["check_id"] == "schema.unsafe"]
    assert unsafe and "a symbolic link to" in unsafe[0]["message"]
    qdir = Path(_outcome(hostile, CLEAN[1].file)["quarantined_to"])
    assert sorted(p.name for p in qdir.iterdir()) == sorted([CLEAN[1].file, "findings-lab.json"])


def test_no_secret_is_hashed_or_copied_into_the_store(hostile):
    stored = _store_files(hostile["store"])
    assert not hostile["secret_shas"] & set(stored), [
        str(stored[s]) for s in hostile["secret_shas"] & set(stored)]
    for rec in hostile["store"].sources_dir.glob("*.json"):
        files = json.loads(rec.read_text())["files"]
        assert not [p for p in files if "secrets" in Path(p).parts or Path(p).is_symlink()]
        assert not hostile["secret_shas"] & set(files.values())


def test_native_source_files_never_list_a_linked_sidecar(demo_recordings, tmp_path):
    rec = copy_recording(demo_recordings, CLEAN[1], tmp_path / "in")
    side = next(p for p in rec.parent.iterdir() if p.suffix == ".mp4")
    os.replace(side, tmp_path / "secret.mp4")
    side.symlink_to(tmp_path / "secret.mp4")
    (ref,) = discover([rec])[0]
    assert ref.files() == [rec.resolve()]
    assert list(digest_source(ref).files) == [str(rec.resolve())]


# -------------------------------------------------------------------- 11. a symbolic link loop
def test_link_loop_and_second_name_report_each_file_once(hostile):
    summary = json.loads(hostile["result"].stdout)
    names = [o["source_name"] for o in summary["outcomes"]]
    assert len(names) == len(set(names))
    assert names.count(CLEAN[0].file) == 1
    # links inside the inbox are never followed: each is reported once, as a link
    assert sorted(Path(p).name for p, _q in summary["unrecognised"]) == ["again.h5", "loop"]
    refs, bad = discover([hostile["inbox"]])
    assert all("symbolic link" in b.reason for b in bad) and len(bad) == 2
    assert len(refs) == len({(r.path, r.episode_key) for r in refs}) == len(names)


def test_symlink_loop_walk_ends_with_each_file_once(demo_recordings, tmp_path):
    rec = copy_recording(demo_recordings, CLEAN[0], tmp_path / "in")
    (tmp_path / "in" / "loop").symlink_to(".")
    (tmp_path / "in" / "sub").mkdir()
    (tmp_path / "in" / "sub" / "up").symlink_to("..")
    (tmp_path / "in" / "sub" / "twin.h5").symlink_to(rec)
    (tmp_path / "in" / "self").symlink_to("self")  # a link to itself
    refs, bad = discover([tmp_path / "in", tmp_path / "in" / "loop"])
    assert [r.path for r in refs] == [rec.resolve()]
    # inside a folder no link is followed; the link given on the command line is, once
    assert [b.path.name for b in bad] == ["loop", "self", "twin.h5", "up"]
    assert all("never reads through one" in b.reason for b in bad)


# ---------------------------------------------------------------- 12. malformed info.json
@pytest.mark.parametrize("how", sorted(MALFORMED_INFO))
def test_malformed_info_is_one_finding_for_that_source(hostile, how):
    errors = [f for f in _quarantined_findings(hostile, how) if f["severity"] == "error"]
    assert len(errors) == 1 and errors[0]["check_id"] == "schema.unreadable", errors
    assert "meta/info.json" in errors[0]["message"]
    key = MALFORMED_INFO[how]
    if isinstance(key, str):
        assert f"'{key}'" in errors[0]["message"]


def test_check_grades_malformed_info_and_goes_on(demo_recordings, tmp_path):
    copy_recording(demo_recordings, CLEAN[0], tmp_path)
    for how in MALFORMED_INFO:
        _malformed(tmp_path / how, how)
    res = cli.invoke(app, ["check", str(tmp_path), "--json"])
    assert res.exit_code == 1, res.output  # documented: 1 when any recording fails
    doc = json.loads(res.stdout)
    by = {Path(e["source"].split("#")[0]).name: e for e in doc["episodes"]}
    assert by[CLEAN[0].file]["passed"]
    for how in MALFORMED_INFO:
        (f,) = [f for f in by[how]["findings"] if f["severity"] == "error"]
        assert f["check_id"] == "schema.unreadable" and "info.json" in f["message"]
    plain = cli.invoke(app, ["check", str(tmp_path)])
    assert plain.exit_code == 1 and "Traceback" not in plain.output


@pytest.mark.parametrize("text, needle", [
    ("{not json", "is not valid JSON"),
    ('{"codebase_version": "v2.1", "fps": "fast", "data_path": "d.parquet"}', "'fps'"),
    ('{"codebase_version": "v3.0", "data_path": "data/{chunk_index}/{}.parquet"}',
     "unknown placeholder"),
    ('{"codebase_version": "v2.1", "data_path": "../../{episode_index}.parquet"}',
     "climbs out"),
])
def test_more_malformed_info_never_raises(tmp_path, text, needle):
    root = tmp_path / "ds"
    (root / "meta").mkdir(parents=True)
    (root / "meta/info.json").write_text(text)
    refs, bad = discover([tmp_path])
    assert not bad and [(r.layout, r.episode_key) for r in refs] == [("lerobot", None)]
    assert digest_source(refs[0]).files == {str(root.resolve() / "meta/info.json"):
                                            _sha(root / "meta/info.json")}
    res = read_source(refs[0])
    assert res.episode is None and needle in res.findings[0].message, res.findings


def test_a_foreign_info_json_is_not_claimed(tmp_path):
    (tmp_path / "other" / "meta").mkdir(parents=True)
    (tmp_path / "other" / "meta/info.json").write_text('{"codebase_version": "v1.6"}')
    assert not LEROBOT.detect(tmp_path / "other")


# --------------------------------------------------- the adapter alone: each escaping file
def test_symlinked_data_file_is_refused_and_never_hashed(tmp_path):
    root = _one_episode_lerobot(tmp_path / "ds")
    data = root / "data/chunk-000/episode_000000.parquet"
    os.replace(data, tmp_path / "elsewhere.parquet")
    data.symlink_to(tmp_path / "elsewhere.parquet")
    (ref,) = discover([root])[0]
    assert data not in ref.files() and all(not f.is_symlink() for f in ref.files())
    res = read_source(ref, MAPPING)
    assert res.episode is None and res.findings[0].check_id == "schema.unsafe"
    assert "is a symbolic link" in res.findings[0].message


def test_source_files_outside_the_root_are_dropped(tmp_path):
    root = _one_episode_lerobot(tmp_path / "ds")
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"secret")
    ref = SourceRef(root.resolve(), "lerobot", "episode_000000")
    for f in (outside, root / "meta" / ".." / ".." / "outside.mp4"):
        assert f not in ref.files()
    assert all(f.is_relative_to(root.resolve()) for f in ref.files())


def test_camera_name_from_a_key_is_refused_by_the_adapter(tmp_path):
    root = _one_episode_lerobot(tmp_path / "ds")
    _rename_camera(root, "observation.images.cam high")
    res = read_source(discover([root])[0][0], MAPPING)
    (f,) = [f for f in res.findings if f.check_id == "schema.camera"]
    assert "'cam high' is not a safe name" in f.message and not res.episode.cameras


# --------------------------------------------------------------------- names: the one rule
@pytest.mark.parametrize("name", ["lab\n", "../lab", "/abs", ".hidden", "", "a/b", "a b",
                                  "a" * 65, "-x", "lab\x00", "ü"])
def test_unsafe_dataset_names_are_refused(name, tmp_path):
    assert not is_safe_name(name)
    with pytest.raises(StoreError, match="not a safe name"):
        check_name(name)
    with pytest.raises(StoreError):
        ingest(Store(tmp_path / "store"), [tmp_path], name)


def test_dataset_name_with_a_trailing_newline_is_a_usage_error(tmp_path):
    res = cli.invoke(app, ["ingest", str(tmp_path), "--dataset", "lab\n", "--store",
                           str(tmp_path / "store")])
    assert res.exit_code == 2 and "not a safe name" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("name", ["lab", "v0001", "G1.inspire-2", "a" * 64, "0"])
def test_safe_names_are_accepted(name):
    assert is_safe_name(name) and check_name(name) == name


@pytest.mark.parametrize("table, value", [
    ('[topics."/cam/image"]\ncamera = "/abs/path"', "/abs/path"),
    ('[topics."/joints"]\nstream = "../up"', "../up"),
    ('[streams.actions]\nname = "act\\n"', "act\\n"),
    ('[cameras]\ntop = "a/b"', "a/b"),
])
def test_mapping_values_that_become_names_are_checked(tmp_path, refused, table, value):
    m, message = refused("m.toml", table + "\n", load_mapping, MappingError)
    assert "is not a safe name" in message
    res = cli.invoke(app, ["ingest", str(tmp_path), "--dataset", "lab", "--mapping", str(m),
                           "--store", str(tmp_path / "store")])
    assert res.exit_code == 2 and "not a safe name" in res.output
    assert not (tmp_path / "store" / "sources").exists()


def test_mapping_camera_given_as_a_dict_is_refused_by_the_adapter(tmp_path):
    from tests.pipelines.test_adapter_mcap import write_bag

    bag = write_bag(tmp_path / "run.mcap")
    mapping = {"_source": "test", "robot_model": "aloha",
               "topics": {"/cam_high/image_raw": {"camera": str(tmp_path / "victim")}}}
    res = read_source(discover([bag])[0][0], mapping)
    cams = [f for f in res.findings if f.check_id == "schema.camera"]
    assert cams and "is not a safe name" in cams[0].message
    assert str(tmp_path / "victim") not in res.episode.cameras


# ------------------------------------------------------------ the store proves containment
def test_store_refuses_paths_that_resolve_outside(tmp_path):
    store = Store(tmp_path / "store").ensure()
    with pytest.raises(StoreError, match="outside the store"):
        store.contained(store.root / "staging" / ".." / ".." / "x")
    (store.staging_dir / "lab").mkdir()
    (store.staging_dir / "lab" / "ep-link").symlink_to(tmp_path)
    with pytest.raises(StoreError, match="outside the store"):
        store.staging_episode_dir("lab", "ep-link")
    with pytest.raises(StoreError, match="not a safe name"):
        store.staging_episode_dir("lab", "../../x")
    with pytest.raises(StoreError, match="not a safe name"):
        store.quarantine_path("/tmp")
    assert store.contained(store.dataset_dir("lab")) == store.datasets_dir / "lab"


def test_curate_refuses_a_camera_name_that_slipped_through(tmp_path):
    """Defence in depth: even an episode built in code with a hostile camera key writes
    nothing outside the store."""
    from tests.schemas.conftest import make_episode

    ep = make_episode()
    ep.cameras[str(tmp_path / "victim")] = ep.cameras.pop("cam_head")
    store = Store(tmp_path / "store").ensure()
    with pytest.raises(UnsafeNameError, match="not a safe name"):
        curate(store, "lab", ep, "ep-0123", 10.0)
    assert not list(tmp_path.glob("victim*"))
    assert not list(store.staging_dir.rglob("*.mp4"))


def test_hostile_demo_name_is_refused_and_quarantined_under_a_safe_name(tmp_path):
    from pipelines.processing import assess_ref, quarantine, register_source
    from robots.profile import ProfileCatalog
    from schemas.quality_profile import load_quality_profile
    from tests.pipelines.test_adapter_robomimic import write_robomimic

    path = write_robomimic(tmp_path / "demos.hdf5", n_demos=2)
    with h5py.File(path, "r+") as f:
        f.move("data/demo_1", "data/demo_..\n..")
    refs, _ = discover([path])
    hostile_ref = next(r for r in refs if r.episode_key != "demo_0")
    store = Store(tmp_path / "store").ensure()
    rec = register_source(store, hostile_ref, "lab")
    assert "\n" not in rec.key and "..." not in rec.key
    a = assess_ref(hostile_ref, load_quality_profile(), ProfileCatalog([]))
    (f,) = [f for f in a.findings if f.severity.value == "error"]
    assert f.check_id == "schema.unsafe" and "is not a safe name" in f.message
    qdir = quarantine(store, rec, a)
    names = sorted(p.name for p in qdir.iterdir())
    assert names[0] == "files" and names[1].startswith("findings-lab@key-") and len(names) == 2
    assert json.loads((qdir / names[1]).read_text())["source_name"] == hostile_ref.display_name


def test_aloha_image_dataset_name_is_refused_as_a_camera_name(tmp_path):
    from tests.pipelines.act_files import write_act

    path = write_act(tmp_path / "episode_0.hdf5", compressed=False)
    with h5py.File(path, "r+") as f:
        first = sorted(f["observations/images"])[0]
        f.move(f"observations/images/{first}", "observations/images/..hidden cam")
    res = read_source(discover([path])[0][0])
    (f,) = [f for f in res.findings if f.check_id == "schema.camera"]
    assert "'..hidden cam' is not a safe name" in f.message
    assert "..hidden cam" not in res.episode.cameras and res.episode.cameras


def test_a_symlink_given_as_a_recording_is_recorded_but_never_read(tmp_path):
    """A link in the inbox to a file elsewhere (a key, a password file) that no adapter reads
    is quarantined as a record only: its target's bytes never reach the store."""
    from pipelines.runner import ingest

    secret = tmp_path / "private" / "id_key"
    secret.parent.mkdir()
    secret.write_bytes(b"-----BEGIN PRIVATE KEY----- not for the store")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "take.h5").symlink_to(secret)
    store = Store(tmp_path / "store")
    summary = ingest(store, [inbox], "lab", write_report=False)
    [(path, qdir)] = summary.unrecognised
    assert Path(path).name == "take.h5" and qdir
    stored = [p for p in store.root.rglob("*") if p.is_file()]
    assert not any(b"PRIVATE KEY" in p.read_bytes() for p in stored)
    rec = json.loads((Path(qdir) / "findings-lab.json").read_text())
    assert rec["findings"][0]["check_id"] == "schema.unsafe"
    assert "symbolic link" in rec["findings"][0]["message"] and rec["files"] == {}
