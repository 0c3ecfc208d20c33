"""LeRobot datasets on disk, v2.1 and v3.0: one source folder, one episode per episode index.

Metadata that contradicts the data (frame counts, splits, shapes versus names) becomes
findings; a missing video is a finding for that camera only.
"""

from __future__ import annotations

import json
import re
import string
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa
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
from pipelines.mapping import convert_units, robot_mapping
from schemas.episode import Camera, Episode, SourceInfo, Stream
from schemas.findings import Finding, Severity
from schemas.frame_sources import VideoFrames
from schemas.limits import rate_problem
from schemas.names import contained_problem, name_problem
from schemas.read_result import ReadResult

_INDEX_COLUMNS = {"timestamp", "frame_index", "episode_index", "index", "task_index"}


def _err(check_id: str, msg: str, stream: str | None = None) -> Finding:
    return Finding(check_id, Severity.ERROR, msg, stream=stream)


@lru_cache(maxsize=256)
def _meta(root: Path, name: str) -> Path:
    """``root/meta/name``, built once: every episode looks its dataset's metadata up."""
    return root / "meta" / name


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
    return _info_at(root, _stamp(_meta(root, "info.json")))


@lru_cache(maxsize=32)
def _info_at(root: Path, stamp: tuple[int, ...]) -> dict[str, Any]:
    try:
        info = json.loads(_meta(root, "info.json").read_text())
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
    if fps is not None and (why := rate_problem(fps)) is not None:
        raise BadInfo(f"'fps': {why}")
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


#: :func:`contained_problem` answers while one episode is listed and read: its files are looked
#: up when hashed, listed and read, and each look-up walks the path with a system call per
#: component. Emptied when the episode's read ends (and when the next listing starts).
_CONTAINED: dict[tuple[Path, Path], str | None] = {}


def _contained(root: Path, f: Path) -> str | None:
    key = (root, f)
    if key not in _CONTAINED:
        _CONTAINED[key] = contained_problem(root, f)
    return _CONTAINED[key]


def _inside(root: Path, f: Path, what: str) -> None:
    """Refuse a file a template led to that is outside the dataset or reached through a link."""
    problem = _contained(root, f)
    if problem is not None:
        raise BadInfo(f"{what}: {problem}", "schema.unsafe")


def _v2_episodes(root: Path) -> dict[int, dict]:
    return _v2_episodes_at(root, _stamp(_meta(root, "episodes.jsonl")))


@lru_cache(maxsize=32)
def _v2_episodes_at(root: Path, stamp: tuple[int, ...]) -> dict[int, dict]:
    rows = [json.loads(line) for line in _meta(root, "episodes.jsonl").read_text()
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


def _wanted(name: str, features: dict[str, Any], keep: tuple[str, ...] = ()) -> bool:
    """Whether column ``name`` becomes a stream (or is ``keep``): index columns and video,
    image and string features are never read."""
    if name in keep:
        return True
    return name not in _INDEX_COLUMNS and \
        features.get(name, {}).get("dtype") not in ("video", "image", "string")


def _matrix(col: pa.ChunkedArray) -> np.ndarray:
    """A column as a (rows, values) float64 array, vectorised from Arrow's buffers.

    Fixed-size and variable lists of equal length are flattened and reshaped (no Python per
    row); anything else goes through a per-row stack, which raises ValueError or TypeError on
    null or ragged rows exactly as before."""
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    n = len(arr)
    t = arr.type
    if arr.null_count == 0:
        if pa.types.is_fixed_size_list(t) and _numeric(t.value_type):
            flat = arr.flatten()
            if flat.null_count == 0 and len(flat) == n * t.list_size:
                return flat.to_numpy(zero_copy_only=False).reshape(n, t.list_size) \
                    .astype(np.float64)
        elif (pa.types.is_list(t) or pa.types.is_large_list(t)) and _numeric(t.value_type):
            lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
            flat = arr.flatten()
            if n and flat.null_count == 0 and (lengths == lengths[0]).all():
                return flat.to_numpy(zero_copy_only=False).reshape(n, int(lengths[0])) \
                    .astype(np.float64)
        elif _numeric(t):
            return arr.to_numpy(zero_copy_only=False).astype(np.float64)[:, None]
    vals = np.stack(arr.to_numpy(zero_copy_only=False)).astype(np.float64)
    return vals[:, None] if vals.ndim == 1 else vals


def _numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


class _OnePass:
    """Episode tables read ahead in batches, each data file opened once.

    LeRobot v2.1 keeps one small file per episode: the next ``batch`` episodes' files are
    read together (on ``threads`` threads), only the columns that become streams. v3.0 keeps
    many episodes per file: the file is read once and cut per episode by its
    ``episode_index`` rows. Anything unusual (a file that fails to open, a missing column)
    leaves the episode out, so the plain per-episode read handles it and reports what is
    wrong."""

    def __init__(self, batch: int = 64, threads: int = 1) -> None:
        self.batch = batch
        #: Reader threads: each costs ~20 MB of allocator arenas for little gain on few cores.
        self.threads = threads
        self._lock = threading.Lock()
        self._root: Path | None = None
        self._tables: dict[int, tuple[tuple[int, int], pa.Table]] = {}
        self._v3_file: tuple[Path, tuple[int, int]] | None = None
        self._v3_table: pa.Table | None = None
        self._v3_rows: dict[int, np.ndarray | slice] = {}

    @staticmethod
    def _sig(f: Path) -> tuple[int, int]:
        st = f.stat()
        return st.st_mtime_ns, st.st_size

    @staticmethod
    def _read(f: Path, features: dict[str, Any], keep: tuple[str, ...] = ()) -> pa.Table | None:
        try:
            pf = pq.ParquetFile(f)
            cols = [c for c in pf.schema_arrow.names
                    if _wanted(c, features, ("timestamp", *keep))]
            return pf.read(columns=cols, use_threads=False)
        except Exception:  # the per-episode read reports what is wrong with this file
            return None

    def v2_table(self, adapter: LeRobotAdapter, root: Path, idx: int, order: list[int],
                 info: dict[str, Any], features: dict[str, Any]) -> pa.Table | None:
        f = adapter._data_file(root, idx, info)
        with self._lock:
            if self._root != root or idx not in self._tables:
                self._root = root
                self._tables = {}
                pos = order.index(idx) if idx in order else -1
                todo = order[pos:pos + self.batch] if pos >= 0 else [idx]
                files = [adapter._safe_data_file(root, i, info) for i in todo]
                def load(p: Path | None) -> tuple[tuple[int, int], pa.Table] | None:
                    if p is None:
                        return None
                    try:  # the signature is taken first: a later rewrite shows at use
                        sig = self._sig(p)
                    except OSError:
                        return None
                    t = self._read(p, features)
                    return None if t is None else (sig, t)

                if self.threads > 1:
                    with ThreadPoolExecutor(self.threads) as ex:
                        loaded = list(ex.map(load, files))
                else:
                    loaded = [load(p) for p in files]
                self._tables = {i: got for i, got in zip(todo, loaded, strict=True)
                                if got is not None}
            got = self._tables.pop(idx, None)
        if got is None:
            return None
        try:
            return got[1] if self._sig(f) == got[0] else None
        except OSError:
            return None

    def v3_table(self, data_file: Path, idx: int, features: dict[str, Any]) -> pa.Table | None:
        with self._lock:
            try:
                sig = self._sig(data_file)
            except OSError:
                return None
            if self._v3_file != (data_file, sig):
                self._v3_file, self._v3_table, self._v3_rows = (data_file, sig), None, {}
                table = self._read(data_file, features, keep=("episode_index",))
                if table is None or "episode_index" not in table.column_names:
                    return None
                col = table.column("episode_index")
                if col.null_count or not pa.types.is_integer(col.type):
                    return None
                ei = col.to_numpy()
                order = None if ei.size < 2 or (np.diff(ei) >= 0).all() else \
                    np.argsort(ei, kind="stable")
                sorted_ei = ei if order is None else ei[order]
                keys, starts = np.unique(sorted_ei, return_index=True)
                ends = np.append(starts[1:], sorted_ei.size)
                for k, a, b in zip(keys.tolist(), starts.tolist(), ends.tolist(), strict=True):
                    self._v3_rows[int(k)] = slice(a, b) if order is None else order[a:b]
                self._v3_table = table.drop_columns(
                    [] if _wanted("episode_index", features) else ["episode_index"])
            if self._v3_table is None:
                return None
            rows = self._v3_rows.get(idx)
            if rows is None:
                return self._v3_table.slice(0, 0)
            if isinstance(rows, slice):
                return self._v3_table.slice(rows.start, rows.stop - rows.start)
            return self._v3_table.take(pa.array(rows))


@lru_cache(maxsize=32)
def _dataset_claims(root: Path, v3: bool, stamp: tuple[int, ...]) -> tuple[Finding, ...]:
    """Dataset-wide claims in info.json that the episode listing contradicts (the same for
    every episode, so worked out once per version of the metadata)."""
    info = _info(root)
    all_eps = _v3_episodes(root) if v3 else _v2_episodes(root)
    out: list[Finding] = []
    total = sum(int(e.get("length") or 0) for e in all_eps.values())
    if info.get("total_frames") is not None and int(info["total_frames"]) != total:
        out.append(_err("schema.metadata", f"{root.name}/meta/info.json claims "
                        f"total_frames {info['total_frames']} but the episodes hold "
                        f"{total}", "total_frames"))
    if info.get("total_episodes") is not None and int(info["total_episodes"]) != len(all_eps):
        out.append(_err("schema.metadata", f"{root.name}/meta/info.json claims "
                        f"total_episodes {info['total_episodes']} but there are "
                        f"{len(all_eps)}", "total_episodes"))
    for split, rng in (info.get("splits") or {}).items():
        try:
            _lo, hi = (int(x) for x in str(rng).split(":"))
        except ValueError:
            continue
        if hi > len(all_eps):
            out.append(_err("schema.metadata", f"{root.name}/meta/info.json split "
                            f"'{split}' = {rng} reaches past the {len(all_eps)} "
                            "episodes", "splits"))
    return tuple(out)


@lru_cache(maxsize=32)
def _sorted_indices(root: Path, v3: bool, stamp: tuple[int, ...]) -> list[int]:
    return sorted(_v3_episodes(root) if v3 else _v2_episodes(root))


def _meta_stamp(root: Path, v3: bool) -> tuple[int, ...]:
    if v3:
        files = sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        return _stamp(_meta(root, "info.json"), root / "meta" / "episodes", *files)
    return _stamp(_meta(root, "info.json"), _meta(root, "episodes.jsonl"))


class LeRobotAdapter:
    name = "lerobot"

    def __init__(self, one_pass: bool = True) -> None:
        #: Read episodes ahead, each data file once (False: one plain read per episode).
        self.one_pass = _OnePass() if one_pass else None
        self._last_sources: tuple[Path, int, list[Path]] | None = None

    def _one_pass_table(self, root: Path, idx: int, v3: bool, data_file: Path,
                        info: dict[str, Any], stamp: tuple[int, ...]) -> pa.Table | None:
        if self.one_pass is None:
            return None
        features = info.get("features") or {}
        if not isinstance(features, dict):
            return None
        if v3:
            return self.one_pass.v3_table(data_file, idx, features)
        order = _sorted_indices(root, False, stamp)
        return self.one_pass.v2_table(self, root, idx, order, info, features)

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

    def _data_file(self, root: Path, idx: int, info: dict[str, Any] | None = None,
                   meta: dict | None = None) -> Path:
        info = info if info is not None else _info(root)
        if str(info.get("codebase_version", "")).startswith("v3"):
            ep = meta if meta is not None else _v3_episodes(root)[idx]
            f = root / info["data_path"].format(chunk_index=int(ep["data/chunk_index"]),
                                                file_index=int(ep["data/file_index"]))
        else:
            chunk = idx // int(info.get("chunks_size") or 1000)
            f = root / info["data_path"].format(episode_chunk=chunk, episode_index=idx)
        _inside(root, f, f"{_key(idx)}'s data file")
        return f

    def _safe_data_file(self, root: Path, idx: int, info: dict[str, Any]) -> Path | None:
        """The data file, or None when it may not be read (its own read says why)."""
        try:
            return self._data_file(root, idx, info)
        except (BadInfo, KeyError, ValueError, TypeError):
            return None

    def _video_file(self, root: Path, idx: int, vkey: str, info: dict[str, Any] | None = None,
                    meta: dict | None = None) -> Path | None:
        info = info if info is not None else _info(root)
        if not info.get("video_path"):
            return None
        if str(info.get("codebase_version", "")).startswith("v3"):
            ep = meta if meta is not None else _v3_episodes(root)[idx]
            ci, fi = ep.get(f"videos/{vkey}/chunk_index"), ep.get(f"videos/{vkey}/file_index")
            if ci is None or fi is None:
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
        _CONTAINED.clear()
        root = path.resolve()
        try:
            idx = _index(key)
            files = self._sources(root, idx)
        except Exception:  # broken metadata: reading the episode reports what is wrong
            return [_meta(root, "info.json")]
        # the episode is usually read next (hashed, then read): its files are not looked up twice
        self._last_sources = (root, idx, files)
        return files

    def _sources(self, root: Path, idx: int, info: dict[str, Any] | None = None,
                 meta: dict | None = None) -> list[Path]:
        info = info if info is not None else _info(root)
        v3 = str(info.get("codebase_version", "")).startswith("v3")
        if v3 and meta is None:
            meta = _v3_episodes(root)[idx]
        files = [self._data_file(root, idx, info, meta), _meta(root, "info.json")]
        if meta is not None and v3:
            files += [meta["_meta_file"], _meta(root, "tasks.parquet")]
        for vkey, feat in info.get("features", {}).items():
            if feat.get("dtype") == "video":
                try:
                    v = self._video_file(root, idx, vkey, info, meta)
                except BadInfo:
                    continue  # reading the episode reports it
                if v is not None:
                    files.append(v)
        return [f for f in files if _contained(root, f) is None and f.is_file()] \
            or [_meta(root, "info.json")]

    def read(self, path: Path, key: str | None, mapping: dict | None = None) -> ReadResult:
        try:
            return self._read_episode(path, key, mapping)
        finally:
            _CONTAINED.clear()

    def _read_episode(self, path: Path, key: str | None, mapping: dict | None) -> ReadResult:
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
        if mapping is None:  # a known robot type brings its shipped mapping: no flag needed
            auto = robot_mapping(self.name, info.get("robot_type"))
            if auto is not None:
                m = auto[1]
                findings.append(inferred("mapping", auto[0], f"the dataset's robot_type "
                                         f"'{info.get('robot_type')}'"))
        try:
            idx = _index(key)
            v3 = str(info.get("codebase_version", "")).startswith("v3")
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
                data_file = self._data_file(root, idx, info, meta)
            except BadInfo as exc:
                return ReadResult(None, [Finding(exc.check_id, Severity.ERROR,
                                                 f"{root.name}: {exc}")])
            if not data_file.is_file():
                return ReadResult(None, [unreadable(data_file, f"{_key(idx)}'s data file is "
                                                               "missing")])
            stamp = _meta_stamp(root, v3)
            table = self._one_pass_table(root, idx, v3, data_file, info, stamp)
            if table is None:  # the plain read: every column, errors as they come
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
        findings.extend(_dataset_claims(root, v3, stamp))
        ts_col = table.column("timestamp").to_numpy() if "timestamp" in table.column_names \
            else np.arange(n) / fps
        ts_ns = np.round(np.asarray(ts_col, dtype=np.float64) * 1e9)
        # NaN, a null or seconds beyond an int64 of nanoseconds (±292 years) is no clock
        bad = ~(np.abs(ts_ns) < 2.0**63)
        if bad.any():
            first = int(np.argmax(bad))
            return ReadResult(None, [*findings, _err(
                "schema.stream", f"{where}: the 'timestamp' column holds {int(bad.sum())} "
                f"value(s) that are not times in seconds (missing, NaN or beyond ±292 years), "
                f"the first at frame {first}: {float(np.asarray(ts_col)[first]):g}",
                "timestamp")])
        ts = ts_ns.astype(np.int64)
        streams: dict[str, Stream] = {}
        spec = m.get("streams", {})
        features = info.get("features", {})
        for col in table.column_names:
            feat = features.get(col, {})
            if col in _INDEX_COLUMNS or feat.get("dtype") in ("video", "image", "string"):
                continue
            try:
                vals = _matrix(table.column(col))
            except (ValueError, TypeError):
                findings.append(_err("schema.stream", f"{where}: feature '{col}' is not a "
                                     "fixed-width numeric column (null or ragged rows)", col))
                continue
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
            # recorded units (degrees, LeRobot's normalised ranges) -> the profile's
            findings.extend(convert_units(streams[sname], names, m,
                                          m.get("robot_model") or info.get("robot_type")))
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
                vfile = self._video_file(root, idx, vkey, info, meta)
            except BadInfo as exc:
                findings.append(_err(exc.check_id, f"{where}: {exc}; the camera is left out",
                                     cam))
                continue
            if vfile is None or not vfile.is_file():
                findings.append(_err("schema.camera", f"{where}: video of '{vkey}' is missing "
                                     f"({vfile.relative_to(root) if vfile else 'no path'})", cam))
                continue
            frames: VideoSegment | VideoFrames
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
        last, self._last_sources = self._last_sources, None
        src = last[2] if last is not None and last[:2] == (root, idx) else None
        try:
            size = sum(f.stat().st_size for f in src) if src is not None else None
        except OSError:  # a file went away since it was listed: list again
            size = None
        if size is None:
            size = sum(f.stat().st_size for f in self._sources(root, idx, info, meta))
        ep = Episode(md, streams, cameras, source=SourceInfo(
            root, "", size, self.name, episode_key=key))
        return ReadResult(ep, findings)


ADAPTER = LeRobotAdapter()
