"""LeRobot datasets on disk, v2.1 and v3.0: one source folder, one episode per episode index.

Metadata that contradicts the data (frame counts, splits, shapes versus names) becomes
findings; a missing video is a finding for that camera only.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.adapters._common import (
    VideoSegment,
    build_metadata,
    drop_unsafe_names,
    inferred,
    rename,
    resolve_mapping,
    unreadable,
)
from schemas.episode import Camera, Episode, SourceInfo, Stream
from schemas.findings import Finding, Severity
from schemas.frame_sources import VideoFrames
from schemas.names import contained_problem, name_problem
from schemas.read_result import ReadResult

_INDEX_COLUMNS = {"timestamp", "frame_index", "episode_index", "index", "task_index"}


def _err(check_id: str, msg: str, stream: str | None = None) -> Finding:
    return Finding(check_id, Severity.ERROR, msg, stream=stream)


def _stamp(*paths: Path) -> tuple[int, ...]:
    """Modification times, so cached metadata is re-read when a dataset is rewritten."""
    return tuple(p.stat().st_mtime_ns if p.exists() else -1 for p in paths)


class BadInfo(ValueError):
    """``meta/info.json`` cannot be used; the message says which key and why."""

    def __init__(self, message: str, check_id: str = "schema.unreadable",
                 foreign: bool = False) -> None:
        super().__init__(message)
        self.check_id = check_id
        #: an object naming another codebase version: not a LeRobot dataset this reads
        self.foreign = foreign


#: The placeholders each path template may use, per major version.
_PLACEHOLDERS = {
    ("v2", "data_path"): {"episode_chunk", "episode_index"},
    ("v2", "video_path"): {"episode_chunk", "episode_index", "video_key"},
    ("v3", "data_path"): {"chunk_index", "file_index"},
    ("v3", "video_path"): {"chunk_index", "file_index", "video_key"},
}


def _info(root: Path) -> dict[str, Any]:
    """``meta/info.json``, checked: a malformed one raises :class:`BadInfo`, never a
    ``TypeError`` or ``AttributeError`` from deep inside the reader."""
    return _info_at(root, _stamp(root / "meta" / "info.json"))


@lru_cache(maxsize=32)
def _info_at(root: Path, stamp: tuple[int, ...]) -> dict[str, Any]:
    try:
        info = json.loads((root / "meta" / "info.json").read_text())
    except UnicodeDecodeError as exc:
        raise BadInfo(f"is not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise BadInfo(f"is not valid JSON ({exc})") from None
    _check_info(info)
    return info


def _check_info(info: Any) -> None:
    if not isinstance(info, dict):
        raise BadInfo(f"holds {type(info).__name__} {json.dumps(info)[:40]}, not a JSON object")
    version = info.get("codebase_version")
    if not isinstance(version, str) or not version.startswith(("v2", "v3")):
        raise BadInfo(f"'codebase_version' is {version!r}; v2.x and v3.x are read",
                      foreign=True)
    features = info.get("features", {})
    if not isinstance(features, dict) or not all(isinstance(v, dict)
                                                 for v in features.values()):
        raise BadInfo("'features' must be an object of feature objects "
                      f"(it is {type(features).__name__})")
    for key in ("chunks_size", "total_frames", "total_episodes"):
        v = info.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0
                              or (key == "chunks_size" and v == 0)):
            need = "> 0" if key == "chunks_size" else ">= 0"
            raise BadInfo(f"'{key}' is {v!r}; it must be an integer {need}")
    fps = info.get("fps")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float))
                            or not fps > 0):
        raise BadInfo(f"'fps' is {fps!r}; it must be a number > 0")
    if info.get("splits") is not None and not isinstance(info["splits"], dict):
        raise BadInfo("'splits' must be an object")
    major = version[:2]
    for key in ("data_path", "video_path"):
        template = info.get(key)
        if template is None and key == "video_path":
            continue
        if not isinstance(template, str) or not template.strip():
            raise BadInfo(f"'{key}' is {template!r}; it must be a path template")
        _check_template(key, template, _PLACEHOLDERS[(major, key)])


def _check_template(key: str, template: str, allowed: set[str]) -> None:
    try:
        fields = [f for _lit, f, _spec, _conv in string.Formatter().parse(template)
                  if f is not None]
    except ValueError as exc:
        raise BadInfo(f"'{key}' {template!r} is not a path template ({exc})") from None
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise BadInfo(f"'{key}' {template!r} uses the unknown placeholder {{{unknown[0]}}} "
                      f"(known: {', '.join('{' + a + '}' for a in sorted(allowed))})")
    try:
        sample = template.format(**{a: ("x" if a == "video_key" else 0) for a in allowed})
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise BadInfo(f"'{key}' {template!r} is not a path template ({exc})") from None
    if not _is_relative_template(sample):
        raise BadInfo(f"'{key}' {template!r} is absolute or climbs out with '..': files must "
                      "lie inside the dataset folder", "schema.unsafe")


def _is_relative_template(path: str) -> bool:
    p = PurePosixPath(path.replace("\\", "/"))
    return not (p.is_absolute() or ".." in p.parts or re.match(r"[A-Za-z]:", path)
                or "\0" in path)


def _version(root: Path) -> str:
    return str(_info(root)["codebase_version"])


def _inside(root: Path, f: Path, what: str) -> None:
    """Refuse a file a template led to that is outside the dataset or reached through a link."""
    problem = contained_problem(root, f)
    if problem is not None:
        raise BadInfo(f"{what}: {problem}", "schema.unsafe")


def _v2_episodes(root: Path) -> dict[int, dict]:
    return _v2_episodes_at(root, _stamp(root / "meta" / "episodes.jsonl"))


@lru_cache(maxsize=32)
def _v2_episodes_at(root: Path, stamp: tuple[int, ...]) -> dict[int, dict]:
    rows = [json.loads(line) for line in (root / "meta" / "episodes.jsonl").read_text()
            .splitlines() if line.strip()]
    return {int(r["episode_index"]): r for r in rows}


def _v3_episodes(root: Path) -> dict[int, dict]:
    files = sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    return _v3_episodes_at(root, _stamp(root / "meta" / "episodes", *files))


@lru_cache(maxsize=32)
def _v3_episodes_at(root: Path, stamp: tuple[int, ...]) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for f in sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet")):
        cols = [c for c in pq.read_schema(f).names if not c.startswith("stats/")]
        for r in pq.read_table(f, columns=cols).to_pylist():
            r["_meta_file"] = f
            out[int(r["episode_index"])] = r
    return out


def _flat_names(names: Any, dim: int, key: str) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, dict):
        names = next(iter(names.values()), None)
    if isinstance(names, list) and names and isinstance(names[0], list):
        names = [n for group in names for n in group]
    return [str(n) for n in names] if isinstance(names, list) else None


def _key(index: int) -> str:
    return f"episode_{index:06d}"


def _index(key: str | None) -> int:
    return int(str(key).rsplit("_", 1)[-1])


class LeRobotAdapter:
    name = "lerobot"

    def detect(self, path: Path) -> bool:
        """A folder with ``meta/info.json`` of version 2 or 3, or one whose ``info.json`` is
        malformed (reading it then reports what is wrong, rather than skipping the folder)."""
        try:
            if not (path.is_dir() and (path / "meta" / "info.json").is_file()):
                return False
            _info(path.resolve())
            return True
        except BadInfo as exc:
            return not exc.foreign
        except Exception:  # a sniff never raises
            return False

    def episode_keys(self, path: Path) -> Sequence[str | None]:
        root = path.resolve()
        try:
            _info(root)
        except Exception:
            return [None]  # one entry for the whole folder: reading it says what is wrong
        try:
            eps = _v3_episodes(root) if _version(root).startswith("v3") else _v2_episodes(root)
            return [_key(i) for i in sorted(eps)]
        except Exception:
            # unreadable episode metadata: the data files still say which episodes exist, and
            # reading each then reports what is wrong
            return [_key(i) for i in self._indices_in_data(root)] or [_key(0)]

    @staticmethod
    def _indices_in_data(root: Path) -> list[int]:
        found: set[int] = set()
        for f in sorted((root / "data").glob("chunk-*/*.parquet")):
            try:
                col = pq.read_table(f, columns=["episode_index"]).column("episode_index")
                found.update(int(i) for i in pc.unique(col).to_pylist())
            except (OSError, ValueError, KeyError):
                continue
        return sorted(found)

    def _data_file(self, root: Path, idx: int) -> Path:
        info = _info(root)
        if _version(root).startswith("v3"):
            ep = _v3_episodes(root)[idx]
            f = root / info["data_path"].format(chunk_index=int(ep["data/chunk_index"]),
                                                file_index=int(ep["data/file_index"]))
        else:
            chunk = idx // int(info.get("chunks_size") or 1000)
            f = root / info["data_path"].format(episode_chunk=chunk, episode_index=idx)
        _inside(root, f, f"{_key(idx)}'s data file")
        return f

    def _video_file(self, root: Path, idx: int, vkey: str) -> Path | None:
        info = _info(root)
        if not info.get("video_path"):
            return None
        if _version(root).startswith("v3"):
            ep = _v3_episodes(root)[idx]
            ci, fi = ep.get(f"videos/{vkey}/chunk_index"), ep.get(f"videos/{vkey}/file_index")
            if ci is None:
                return None
            f = root / info["video_path"].format(video_key=vkey, chunk_index=int(ci),
                                                 file_index=int(fi))
        else:
            chunk = idx // int(info.get("chunks_size") or 1000)
            f = root / info["video_path"].format(episode_chunk=chunk, video_key=vkey,
                                                 episode_index=idx)
        _inside(root, f, f"the video of '{vkey}'")
        return f

    def source_files(self, path: Path, key: str | None) -> list[Path]:
        """Every file of the episode that lies inside the dataset (never through a link);
        just ``meta/info.json`` when the metadata is too broken to say more."""
        root = path.resolve()
        info_file = root / "meta" / "info.json"
        try:
            idx = _index(key)
            files = [self._data_file(root, idx), info_file]
            if _version(root).startswith("v3"):
                files += [_v3_episodes(root)[idx]["_meta_file"], root / "meta" / "tasks.parquet"]
            for vkey, feat in _info(root).get("features", {}).items():
                if feat.get("dtype") == "video":
                    try:
                        v = self._video_file(root, idx, vkey)
                    except BadInfo:
                        continue  # reading the episode reports it
                    if v is not None:
                        files.append(v)
        except Exception:  # broken metadata: reading the episode reports what is wrong
            files = [info_file]
        return [f for f in files if contained_problem(root, f) is None and f.is_file()] \
            or [info_file]

    def read(self, path: Path, key: str | None, mapping: dict | None = None) -> ReadResult:
        root = path.resolve()
        m = resolve_mapping(self.name, mapping)
        findings: list[Finding] = []
        try:
            info = _info(root)
        except BadInfo as exc:
            return ReadResult(None, [Finding(exc.check_id, Severity.ERROR,
                                             f"{root / 'meta' / 'info.json'}: {exc}")])
        except (OSError, ValueError) as exc:
            return ReadResult(None, [unreadable(root / "meta" / "info.json",
                                                f"cannot be read ({exc})")])
        if key is None:
            return ReadResult(None, [unreadable(root, "the dataset lists no episodes")])
        try:
            idx = _index(key)
            v3 = _version(root).startswith("v3")
            listing = "meta/episodes/" if v3 else "meta/episodes.jsonl"
            try:
                all_meta = _v3_episodes(root) if v3 else _v2_episodes(root)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                return ReadResult(None, [unreadable(root / listing, "the episode metadata "
                                                    f"cannot be read ({exc})")])
            if idx not in all_meta:
                return ReadResult(None, [unreadable(root, f"{_key(idx)} is not listed in "
                                                          f"{listing}")])
            meta = all_meta[idx]
            try:
                data_file = self._data_file(root, idx)
            except BadInfo as exc:
                return ReadResult(None, [Finding(exc.check_id, Severity.ERROR,
                                                 f"{root.name}: {exc}")])
            if not data_file.is_file():
                return ReadResult(None, [unreadable(data_file, f"{_key(idx)}'s data file is "
                                                               "missing")])
            table = pq.read_table(data_file)
            if v3:
                table = table.filter(pc.field("episode_index") == idx)
        except (OSError, ValueError, KeyError) as exc:
            return ReadResult(None, [unreadable(root, f"{key} cannot be read as a LeRobot "
                                                      f"dataset ({exc})")])
        if info.get("fps"):
            fps = float(info["fps"])
        else:
            fps = float(m.get("rate_hz") or 30.0)
            findings.append(inferred("rate_hz", fps, m.get("_source", "embodiq's defaults")))
        n = table.num_rows
        where = f"{root.name}/{_key(idx)}"
        if n == 0:
            return ReadResult(None, [_err("schema.stream", f"{where}: the data holds no rows for "
                                          "this episode")])
        claimed = meta.get("length")
        if claimed is not None and int(claimed) != n:
            findings.append(_err("schema.stream", f"{where}: the episode metadata claims "
                                 f"{claimed} frames but the data holds {n}"))
        # dataset-wide claims the data contradicts
        all_eps = _v3_episodes(root) if v3 else _v2_episodes(root)
        total = sum(int(e.get("length") or 0) for e in all_eps.values())
        if info.get("total_frames") is not None and int(info["total_frames"]) != total:
            findings.append(_err("schema.metadata", f"{root.name}/meta/info.json claims "
                                 f"total_frames {info['total_frames']} but the episodes hold "
                                 f"{total}", "total_frames"))
        if info.get("total_episodes") is not None and int(info["total_episodes"]) != len(all_eps):
            findings.append(_err("schema.metadata", f"{root.name}/meta/info.json claims "
                                 f"total_episodes {info['total_episodes']} but there are "
                                 f"{len(all_eps)}", "total_episodes"))
        for split, rng in (info.get("splits") or {}).items():
            try:
                _lo, hi = (int(x) for x in str(rng).split(":"))
            except ValueError:
                continue
            if hi > len(all_eps):
                findings.append(_err("schema.metadata", f"{root.name}/meta/info.json split "
                                     f"'{split}' = {rng} reaches past the {len(all_eps)} "
                                     "episodes", "splits"))
        ts_col = table.column("timestamp").to_numpy() if "timestamp" in table.column_names \
            else np.arange(n) / fps
        ts = np.round(np.asarray(ts_col, dtype=np.float64) * 1e9).astype(np.int64)
        streams: dict[str, Stream] = {}
        spec = m.get("streams", {})
        features = info.get("features", {})
        for col in table.column_names:
            feat = features.get(col, {})
            if col in _INDEX_COLUMNS or feat.get("dtype") in ("video", "image", "string"):
                continue
            arr = table.column(col).combine_chunks()
            try:
                vals = np.stack(arr.to_numpy(zero_copy_only=False)).astype(np.float64)
            except (ValueError, TypeError):
                findings.append(_err("schema.stream", f"{where}: feature '{col}' is not a "
                                     "fixed-width numeric column (null or ragged rows)", col))
                continue
            if vals.ndim == 1:
                vals = vals[:, None]
            dim = vals.shape[1]
            s_spec = spec.get(col, {})
            default_kind = {"observation.state": "joint_position", "action": "action"}.get(
                col, "other")
            kind = s_spec.get("kind", default_kind)
            sname = s_spec.get("name") or {"observation.state": "joint_pos"}.get(
                col, col.replace("observation.", "")).lower().replace("/", ".")
            names = _flat_names(feat.get("names"), dim, col)
            shape = feat.get("shape")
            if shape and int(np.prod(shape)) != dim:
                findings.append(_err("schema.stream", f"{where}: feature '{col}' declares shape "
                                     f"{shape} but holds {dim} values per frame", sname))
            if names is not None and len(names) != dim:
                findings.append(_err("schema.stream", f"{where}: feature '{col}' lists "
                                     f"{len(names)} names for {dim} values", sname))
                names = None
            if names is None:  # state and action share generic names, so they still pair
                generic = "joint" if col in ("observation.state", "action") else sname
                names = [f"{generic}_{i}" for i in range(dim)]
                if kind in ("joint_position", "action"):
                    findings.append(inferred("joint names", f"{generic}_<i>", "column positions "
                                             "(info.json lists no names)", stream=sname))
            streams[sname] = Stream(sname, kind, ts, vals, rename(names, m),
                                    s_spec.get("unit", "rad" if kind != "other" else "1"), fps,
                                    space=s_spec.get("space", "joint_position")
                                    if kind == "action" else None)
        cameras: dict[str, Camera] = {}
        for vkey, feat in features.items():
            if feat.get("dtype") != "video":
                continue
            cam = vkey.split(".")[-1]
            problem = name_problem(cam, "camera name")
            if problem is not None:  # it would become a file name: refused, never a path
                findings.append(_err("schema.camera", f"{where}: video feature {vkey!r}: "
                                     f"{problem}; the camera is left out"))
                continue
            shape = feat.get("shape") or [0, 0, 3]
            names = feat.get("names") or ["height", "width", "channels"]
            dims = dict(zip(names, shape, strict=False))
            h = int(dims.get("height", shape[0]))
            w = int(dims.get("width", shape[1]))
            try:
                vfile = self._video_file(root, idx, vkey)
            except BadInfo as exc:
                findings.append(_err(exc.check_id, f"{where}: {exc}; the camera is left out",
                                     cam))
                continue
            if vfile is None or not vfile.is_file():
                findings.append(_err("schema.camera", f"{where}: video of '{vkey}' is missing "
                                     f"({vfile.relative_to(root) if vfile else 'no path'})", cam))
                continue
            if v3:
                frames = VideoSegment(vfile, float(meta.get(f"videos/{vkey}/from_timestamp", 0)),
                                      n, fps)
            else:
                frames = VideoFrames(vfile)
            cameras[cam] = Camera(cam, ts.copy(), "video", fps, w, h, frames=frames,
                                  video_path=vfile)
        tasks = meta.get("tasks") or []
        given = {"task": tasks[0] if tasks else None,
                 "robot_model": None if m.get("robot_model") else info.get("robot_type")}
        drop_unsafe_names(where, streams, cameras, findings)
        md = build_metadata(self.name, m, given, findings)
        src = self.source_files(path, key)
        ep = Episode(md, streams, cameras, source=SourceInfo(
            root, "", sum(f.stat().st_size for f in src), self.name, episode_key=key))
        return ReadResult(ep, findings)


ADAPTER = LeRobotAdapter()
