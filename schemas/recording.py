"""Read recording format 1.0 and enforce the data-collection schema.

Every rule the format states becomes a ``schema.*`` error finding whose message names the HDF5
path and the rule, in one sentence. Reading happens in three passes so that a hostile or broken
file never makes the pipeline read other files or allocate more than the :class:`Limits` allow:

1. the link structure is walked without following any link (external links, soft links that do
   not resolve inside the file, virtual datasets, external storage);
2. the sizes the file declares (dataset shapes, camera attributes, sidecar names and headers) are
   checked against the limits, still without reading any dataset's data;
3. only then are metadata, streams, cameras and events validated and read. Stream values are read
   into memory; camera frames never are (the camera gets a lazy frame source).

Nothing here raises on bad input: a file that cannot be trusted at all comes back as
``ReadResult(None, findings)``; otherwise the valid part of the episode comes back with the
findings for the parts left out.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from math import prod
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from schemas.episode import (
    ACTION_SPACES,
    CAMERA_ENCODINGS,
    COLLECTION_MODES,
    STREAM_KINDS,
    Camera,
    Episode,
    EpisodeMetadata,
    Event,
    FrameSource,
    SourceInfo,
    Stream,
)
from schemas.findings import Finding, Severity, encodable
from schemas.frame_sources import H5Frames, VideoFrames, probe_video
from schemas.limits import EARLIEST_STARTED_AT, LATEST_STARTED_AT, Limits, rate_problem
from schemas.names import is_plain_file_name, is_safe_name
from schemas.read_result import ReadResult

FORMAT = "embodiq.recording"
SUPPORTED_MAJOR = 1
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
STREAM_NAME = re.compile(r"[a-z][a-z0-9_.]{0,63}")
OPERATOR_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
REQUIRED_ATTRS = ("robot_model", "robot_serial", "operator_id", "collection_mode", "task",
                  "site", "started_at")
OPTIONAL_TEXT_ATTRS = ("robot_uid", "task_id", "scene")
KNOWN_ATTRS = frozenset({"format", "format_version", "success", *REQUIRED_ATTRS,
                         *OPTIONAL_TEXT_ATTRS})
#: How many soft links may be chained before the chain counts as a loop.
MAX_LINK_DEPTH = 32


def sha256_file(path: Path | str) -> str:
    """SHA-256 of a file, read in blocks into one reused buffer (memory does not grow with the
    file; a new buffer per block made hashing a recording about 20 % slower)."""
    with open(path, "rb", buffering=0) as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _err(check_id: str, message: str, stream: str | None = None) -> Finding:
    return Finding(check_id, Severity.ERROR, message, stream=stream)


class _Undecodable(Exception):
    """A dataset or attribute that exists but whose bytes cannot be decoded."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where} cannot be read or decoded ({why})")


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ------------------------------------------------------------------------ attribute values
_UNDECODABLE = object()


def _attr(attrs: h5py.AttributeManager, key: str) -> Any:
    """The attribute's value; None when absent; ``_UNDECODABLE`` when its bytes cannot be read."""
    try:
        if key not in attrs:
            return None
        return attrs[key]
    except Exception:  # h5py raises OSError, TypeError or ValueError for exotic types
        return _UNDECODABLE


def _scalar(value: Any) -> Any:
    """A plain Python value from an attribute; one-element arrays count as their element."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(())[()]
    if isinstance(value, np.generic):
        value = value.item()
    return value


def valid_text(s: str) -> bool:
    """Valid UTF-8 text: no NUL and no lone surrogate (h5py hands undecodable bytes of a
    UTF-8 string back as surrogates, which no Parquet or JSON writer can encode)."""
    if "\0" in s:
        return False
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value: Any) -> str | None:
    """The attribute as text; None unless it is a string of valid UTF-8 without NUL."""
    value = _scalar(value)
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) and valid_text(value) else None


def _number(value: Any) -> float | None:
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _integer(value: Any) -> int | None:
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _text_list(value: Any) -> list[str] | None:
    if isinstance(value, (str, bytes, np.str_, np.bytes_)):
        value = np.array([value], dtype=object)
    if not isinstance(value, np.ndarray) or value.ndim != 1:
        return None
    out = [_text(v) for v in value]
    return None if any(v is None for v in out) else out  # type: ignore[return-value]


def _one_of(attrs: h5py.AttributeManager, key: str, choices: Sequence[str], where: str,
            problems: list[str], rule: str = "it must be") -> str | None:
    """The attribute when it is one of ``choices``; else None, and the problem (missing, or
    the value it has) added to ``problems`` with the choices."""
    raw = _attr(attrs, key)
    value = _text(raw)
    if value in choices:
        return value
    found = "is missing" if raw is None else f"is {_shown(raw)}"
    problems.append(f"{where} attr '{key}' {found}; {rule} one of {', '.join(choices)}")
    return None


def _shown(value: Any) -> str:
    """An attribute value as it should appear in a message."""
    if value is _UNDECODABLE:
        return "undecodable"
    if isinstance(value, h5py.Empty):
        return "empty"
    s = _text(value)
    if s is not None:
        return repr(s)
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return repr(_scalar(value))


def _plain(value: Any) -> Any:
    """An unknown attribute's value as plain, JSON-friendly Python."""
    if isinstance(value, h5py.Empty):
        return None
    s = _text(value)
    if s is not None:
        return s
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return encodable(value.decode("utf-8", "replace"))
    if isinstance(value, str):  # undecodable bytes or a NUL: kept, escaped
        return encodable(value).replace("\0", "\\x00")
    return value


# ------------------------------------------------------------------ pass 1: link structure
@dataclass(frozen=True)
class _Node:
    kind: str  # group | dataset | soft | external | alias | other
    target: str = ""  # soft: the link's path; alias: the first path of the same object


def _walk_links(f: h5py.File) -> tuple[dict[str, _Node], list[Finding]]:
    """Index every link of the file without following soft or external links.

    Hard links to an object already seen are indexed as aliases and not descended into, so
    hard-link cycles cannot make the walk loop.
    """
    out: list[Finding] = []
    index: dict[str, _Node] = {"/": _Node("group")}
    root = f["/"]
    seen: dict[int, str] = {hash(root.id): "/"}
    stack: list[tuple[h5py.Group, str]] = [(root, "")]
    while stack:
        group, prefix = stack.pop()
        for name in group:
            path = f"{prefix}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                index[path] = _Node("external")
                out.append(_err("schema.unsafe", f"{path} is an external link to "
                                f"'{link.filename}:{link.path}'; a recording must be "
                                "self-contained and never make the pipeline read other files"))
                continue
            if isinstance(link, h5py.SoftLink):
                index[path] = _Node("soft", str(link.path))
                continue
            if not isinstance(link, h5py.HardLink):
                index[path] = _Node("other")
                out.append(_err("schema.unsafe", f"{path} is a user-defined link; a recording "
                                "may hold only groups, datasets and links inside the file"))
                continue
            obj = group.get(name)
            key = hash(obj.id)
            if key in seen:
                index[path] = _Node("alias", seen[key])
                continue
            seen[key] = path
            if isinstance(obj, h5py.Group):
                index[path] = _Node("group")
                stack.append((obj, path))
            elif isinstance(obj, h5py.Dataset):
                index[path] = _Node("dataset")
                out.extend(_dataset_storage(path, obj))
            else:
                index[path] = _Node("other")
    for path, node in sorted(index.items()):
        if node.kind != "soft":
            continue
        try:
            target = _resolve(index, path, 0)
        except _LinkLoop:
            out.append(_err("schema.unsafe", f"{path} is a soft link to '{node.target}', which "
                            f"loops (a chain of more than {MAX_LINK_DEPTH} soft links never "
                            "reaches a group or dataset; links must not form a cycle)"))
            continue
        if target is None:
            out.append(_err("schema.unsafe", f"{path} is a soft link to '{node.target}', which "
                            "does not resolve inside the file (links must stay inside the "
                            "recording)"))
        elif path == target or path.startswith("/" if target == "/" else f"{target}/"):
            out.append(_err("schema.unsafe", f"{path} is a soft link to '{node.target}', a "
                            "group that contains the link itself: following it never ends "
                            "(links must not form a cycle)"))
    return index, out


class _LinkLoop(Exception):
    """A chain of soft links longer than :data:`MAX_LINK_DEPTH`: a cycle."""


def _dataset_storage(path: str, ds: h5py.Dataset) -> list[Finding]:
    """Virtual datasets and external storage keep data outside the file: both are refused."""
    if ds.is_virtual:
        return [_err("schema.unsafe", f"{path} is a virtual dataset mapping data from other "
                     "files; a recording must be self-contained")]
    if ds.id.get_create_plist().get_external_count() > 0:
        return [_err("schema.unsafe", f"{path} keeps its data in external raw files; a "
                     "recording must be self-contained")]
    return []


def _resolve(index: dict[str, _Node], path: str, depth: int) -> str | None:
    """The hard path a link path leads to, following soft links on the index only; None when it
    leaves the file or dangles; raises :class:`_LinkLoop` when it loops."""
    if depth > MAX_LINK_DEPTH:
        raise _LinkLoop(path)
    node = index.get(path)
    if node is None:
        return None
    if node.kind in ("group", "dataset"):
        return path
    if node.kind == "alias":
        return node.target
    if node.kind != "soft":
        return None
    base = path.rsplit("/", 1)[0]
    target = node.target if node.target.startswith("/") else f"{base}/{node.target}"
    cur = ""
    for comp in target.split("/"):
        if comp in ("", "."):
            continue
        resolved = _resolve(index, f"{cur}/{comp}", depth + 1)
        if resolved is None:
            return None
        cur = "" if resolved == "/" else resolved
    return cur or "/"


# -------------------------------------------------------------- pass 2: declared sizes
def _declarations(f: h5py.File, path: Path, limits: Limits) -> list[Finding]:
    """Declared sizes, undecodable filters and sidecar names, from metadata and headers only."""
    out: list[Finding] = []
    streams = f.get("streams")
    if isinstance(streams, h5py.Group):
        for name in streams:
            g = streams.get(name)
            if not isinstance(g, h5py.Group):
                continue
            for member in ("timestamps", "values"):
                ds = g.get(member)
                if isinstance(ds, h5py.Dataset):
                    where = f"/streams/{name}/{member}"
                    out += _filters(where, ds)
                    out += _over(where, ds.shape, 0, limits.max_samples_per_stream,
                                 "samples", "per stream")
                    if member == "values":
                        out += _over(where, ds.shape, 1, limits.max_columns_per_stream,
                                     "columns", "per stream")
                        out += _over_total(where, ds.shape, limits.max_values_per_stream,
                                           "values", "per stream (samples x columns)")
                    out += _unallocated(where, ds)
    cameras = f.get("cameras")
    if isinstance(cameras, h5py.Group):
        for name in cameras:
            g = cameras.get(name)
            if isinstance(g, h5py.Group):
                out += _camera_declarations(name, g, path, limits)
    events = f.get("events")
    if isinstance(events, h5py.Dataset):
        out += _filters("/events", events)
        out += _over("/events", events.shape, 0, limits.max_samples_per_stream, "events",
                     "(the per-stream sample limit)")
        out += _unallocated("/events", events)
    return out


def _over_total(where: str, shape: tuple[int, ...] | None, cap: int, what: str,
                scope: str) -> list[Finding]:
    total = prod(shape) if shape else 0
    if total <= cap:
        return []
    return [_err("schema.unsafe", f"{where} declares {total:,} {what}, over the limit of "
                 f"{cap:,} {scope}; it is refused before any data is read")]


def _unallocated(where: str, ds: h5py.Dataset) -> list[Finding]:
    """A dataset must hold the data its shape declares. HDF5 allocates storage only for what
    was written; reading the rest returns the fill value, so a tiny file could declare millions
    of frames and the pipeline would decode invented ones. Chunked datasets must have every
    chunk allocated, contiguous ones their whole extent (checked from the index, no data read).
    """
    shape = ds.shape
    if not shape or prod(shape) == 0:
        return []
    try:
        layout = ds.id.get_create_plist().get_layout()
        if layout == h5py.h5d.CHUNKED:
            chunks = ds.chunks or shape
            needed = prod(-(-n // c) for n, c in zip(shape, chunks, strict=True))
            held = ds.id.get_num_chunks()
            if held >= needed:
                return []
            shown = f"{held:,} of its {needed:,} chunks"
        elif layout == h5py.h5d.CONTIGUOUS:
            declared = prod(shape) * ds.dtype.itemsize
            held = ds.id.get_storage_size()
            if held >= declared:
                return []
            shown = f"{held:,} of its {declared:,} bytes"
        else:
            return []  # compact: the data lives in the object header, always present
    except Exception as exc:  # an index h5py cannot walk is a corrupt file
        return [_err("schema.unreadable", f"{where}: its storage index cannot be read "
                     f"({_why(exc)})")]
    return [_err("schema.unsafe", f"{where} declares shape {shape} but the file holds data "
                 f"for only {shown}; the rest would read as invented fill values, so it is "
                 "refused before any data is read")]


def _over(where: str, shape: tuple[int, ...] | None, axis: int, cap: int, what: str,
          scope: str) -> list[Finding]:
    if shape is None or len(shape) <= axis or shape[axis] <= cap:
        return []
    return [_err("schema.unsafe", f"{where} declares {shape[axis]:,} {what}, over the limit of "
                 f"{cap:,} {scope}; it is refused before any data is read")]


def _filters(where: str, ds: h5py.Dataset) -> list[Finding]:
    """A compression filter this installation lacks makes the dataset undecodable."""
    plist = ds.id.get_create_plist()
    out = []
    for i in range(plist.get_nfilters()):
        code, _flags, _values, fname = plist.get_filter(i)
        if not h5py.h5z.filter_avail(code):
            label = fname.decode("utf-8", "replace") if isinstance(fname, bytes) else str(fname)
            out.append(_err("schema.unreadable", f"{where} is compressed with HDF5 filter "
                            f"{code} ('{label}'), which this installation cannot decode"))
    return out


def _camera_declarations(name: str, g: h5py.Group, path: Path, limits: Limits) -> list[Finding]:
    p = f"/cameras/{name}"
    out: list[Finding] = []
    for attr, cap in (("width", limits.max_frame_width), ("height", limits.max_frame_height)):
        v = _integer(_attr(g.attrs, attr))
        if v is not None and v > cap:
            out.append(_err("schema.unsafe", f"{p} attr '{attr}' declares {v:,} pixels, over "
                            f"the limit of {cap:,}; it is refused before any frame is read"))
    ts = g.get("timestamps")
    if isinstance(ts, h5py.Dataset):
        out += _filters(f"{p}/timestamps", ts)
        out += _over(f"{p}/timestamps", ts.shape, 0, limits.max_frames_per_camera, "frames",
                     "per camera")
        out += _unallocated(f"{p}/timestamps", ts)
    frames = g.get("frames")
    if isinstance(frames, h5py.Dataset):
        out += _filters(f"{p}/frames", frames)
        out += _over(f"{p}/frames", frames.shape, 0, limits.max_frames_per_camera, "frames",
                     "per camera")
        out += _over(f"{p}/frames", frames.shape, 1, limits.max_frame_height, "pixel rows",
                     "(frame height)")
        out += _over(f"{p}/frames", frames.shape, 2, limits.max_frame_width, "pixel columns",
                     "(frame width)")
        out += _over_total(f"{p}/frames", frames.shape[:3], limits.max_pixels_per_camera,
                           "pixels", "per camera (frames x height x width)")
        out += _unallocated(f"{p}/frames", frames)
    elif isinstance(ts, h5py.Dataset) and ts.ndim == 1:
        # a sidecar's cost: one frame per timestamp at the declared size
        w, h = _integer(_attr(g.attrs, "width")), _integer(_attr(g.attrs, "height"))
        if w is not None and h is not None and w > 0 and h > 0:
            out += _over_total(p, (ts.shape[0], h, w), limits.max_pixels_per_camera, "pixels",
                               "per camera (timestamps x height x width)")
    raw = _attr(g.attrs, "video")
    if raw is None:
        return out
    sidecar, problem, check_id = _sidecar(raw, path)
    if problem is not None:
        out.append(_err(check_id, f"{p} attr 'video' {problem}", name))
    elif sidecar is not None and sidecar.is_file():
        out += _video_header(p, sidecar, limits)
    return out


def _sidecar(raw: Any, path: Path) -> tuple[Path | None, str | None, str]:
    """The sidecar's absolute path, or why it is refused and the finding's check id.

    A bad name is a ``schema.camera`` error; a name that is a symbolic link (wherever it points)
    is ``schema.unsafe``: following it would make the pipeline read, hash and copy a file the
    recording does not hold.
    """
    vname = _text(raw)
    if vname is None:
        return None, f"is {_shown(raw)}, not a file name (a UTF-8 string is required)", \
            "schema.camera"
    rule = ("a sidecar must be a plain file name in the recording's folder (no path separator, "
            "no '..', not absolute, not a symbolic link)")
    if not is_plain_file_name(vname):
        return None, f"is {vname!r}: {rule}", "schema.camera"
    folder = path.resolve().parent
    candidate = folder / vname
    if candidate.is_symlink():
        return None, (f"names '{vname}', a symbolic link to {os.readlink(candidate)!r}: {rule}"), \
            "schema.unsafe"
    return candidate, None, "schema.camera"


def _video_header(p: str, sidecar: Path, limits: Limits) -> list[Finding]:
    """Sizes from the sidecar's container header; an unopenable video is left to the checks."""
    try:
        n, w, h, _fps = probe_video(sidecar)
    except OSError:
        return []
    out: list[Finding] = []
    if n > limits.max_frames_per_camera:
        out.append(_err("schema.unsafe", f"{p}: the sidecar {sidecar.name} declares {n:,} frames, "
                        f"over the limit of {limits.max_frames_per_camera:,} per camera"))
    if w > limits.max_frame_width or h > limits.max_frame_height:
        out.append(_err("schema.unsafe", f"{p}: the sidecar {sidecar.name} declares {w}x{h} "
                        f"frames, over the limit of {limits.max_frame_width}x"
                        f"{limits.max_frame_height}"))
    elif n * w * h > limits.max_pixels_per_camera:
        out.append(_err("schema.unsafe", f"{p}: the sidecar {sidecar.name} declares {n:,} "
                        f"frames of {w}x{h}, {n * w * h:,} pixels, over the limit of "
                        f"{limits.max_pixels_per_camera:,} per camera (what decoding it costs)"))
    return out


# ---------------------------------------------------------------- pass 3: format, metadata
def _check_format(attrs: h5py.AttributeManager) -> list[Finding]:
    raw_fmt, raw_ver = _attr(attrs, "format"), _attr(attrs, "format_version")
    fmt, ver = _text(raw_fmt), _text(raw_ver)
    if raw_fmt is None:
        return [_err("schema.format", "root attribute 'format' is missing; a recording declares "
                     f"format = \"{FORMAT}\"")]
    if fmt != FORMAT:
        return [_err("schema.format", f"root attribute 'format' is {_shown(raw_fmt)}, not "
                     f"\"{FORMAT}\"")]
    if raw_ver is None:
        return [_err("schema.format", "root attribute 'format_version' is missing (expected the "
                     "string \"1.0\")")]
    m = re.fullmatch(r"(\d+)\.(\d+)", ver or "")
    if not m:
        return [_err("schema.format", f"root attribute 'format_version' is {_shown(raw_ver)}; "
                     "it must be a \"major.minor\" string such as \"1.0\"")]
    if int(m.group(1)) != SUPPORTED_MAJOR:
        return [_err("schema.format", f"root attribute 'format_version' is \"{ver}\", which is "
                     f"not supported: this reader reads {SUPPORTED_MAJOR}.x")]
    return []


def _read_metadata(attrs: h5py.AttributeManager) -> tuple[EpisodeMetadata, list[Finding]]:
    """Root attributes; a missing or invalid required one becomes "" and one finding."""
    out: list[Finding] = []

    def bad(key: str, rule: str) -> None:
        out.append(_err("schema.metadata", f"root attribute '{key}' {rule}", key))

    vals: dict[str, str] = {}
    for key in REQUIRED_ATTRS:
        raw = _attr(attrs, key)
        s = _text(raw)
        vals[key] = s if s is not None else ""
        if raw is None:
            bad(key, "is missing; it is required")
        elif s is None:
            bad(key, f"is {_shown(raw)}; it must be a UTF-8 string (valid UTF-8, no NUL)")
        elif not s.strip():
            bad(key, "is empty; it must be a non-empty string")
    op = vals["operator_id"]
    if op.strip() and not OPERATOR_ID.fullmatch(op):
        bad("operator_id", f"is {op!r}; it must match [A-Za-z0-9_-]{{1,64}} (a pseudonymous "
            "id, never a personal name)")
    mode = vals["collection_mode"]
    if mode.strip() and mode not in COLLECTION_MODES:
        bad("collection_mode", f"is {mode!r}; it must be one of {', '.join(COLLECTION_MODES)}")
    started = vals["started_at"]
    if started.strip():
        problem = started_at_problem(started)
        if problem is not None:
            bad("started_at", problem)
            vals["started_at"] = ""  # never published: a bad value must not reach the tables
    success = None
    raw = _attr(attrs, "success")
    if raw is not None:
        v = _scalar(raw) if raw is not _UNDECODABLE else None
        if isinstance(v, (bool, int)) and int(v) in (0, 1):
            success = bool(v)
        else:
            bad("success", f"is {_shown(raw)}; it must be the integer 1 or 0")
    optional: dict[str, Any] = {}
    for key in OPTIONAL_TEXT_ATTRS:
        raw = _attr(attrs, key)
        if raw is None:
            continue
        s = _text(raw)
        if s is None:
            bad(key, f"is {_shown(raw)}; it must be a UTF-8 string (valid UTF-8, no NUL)")
        optional[key] = s.strip() if s and s.strip() else None
    extra: dict[str, Any] = {}
    for key in attrs:
        if key not in KNOWN_ATTRS:
            raw = _attr(attrs, key)
            if raw is not _UNDECODABLE:
                extra[_plain(key)] = _plain(raw)
    md = EpisodeMetadata(**vals, success=success, extra=extra, **optional)
    return md, out


def started_at_problem(started: str) -> str | None:
    """Why ``started_at`` is refused, or None: it must be ISO 8601 with an offset and, as a UTC
    instant, lie in the published column's range (see :data:`EARLIEST_STARTED_AT`)."""
    example = "(e.g. 2026-11-02T09:15:00.125+08:00)"
    try:
        ts = datetime.fromisoformat(started)
    except ValueError:
        return f"is {started!r}, not an ISO 8601 time with an offset {example}"
    if ts.tzinfo is None or ts.utcoffset() is None:
        return f"is {started!r}, which has no UTC offset; it must be ISO 8601 with an offset " \
            f"{example}"
    # aware datetimes compare by their UTC instant without converting, so a value whose UTC
    # date is outside Python's years 1..9999 is compared, not crashed on
    if not EARLIEST_STARTED_AT <= ts <= LATEST_STARTED_AT:
        return (f"is {started!r}, outside the range a published timestamp holds: as UTC it "
                f"must lie between {EARLIEST_STARTED_AT:%Y-%m-%dT%H:%M:%SZ} and "
                f"{LATEST_STARTED_AT:%Y-%m-%dT%H:%M:%SZ}")
    return None


# -------------------------------------------------------------------------------- data
def _load(ds: h5py.Dataset, where: str) -> np.ndarray:
    """All of a (size-checked) dataset, in native byte order; failures name the HDF5 path."""
    try:
        arr = ds[()]
    except Exception as exc:  # h5py raises OSError, RuntimeError, TypeError, ValueError
        raise _Undecodable(where, _why(exc)) from None
    if isinstance(arr, np.ndarray) and arr.dtype.fields is None and not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return np.ascontiguousarray(arr)


def _is(ds: h5py.Dataset, dtype: type) -> bool:
    """Dtype equality ignoring byte order (big-endian int64 is still int64)."""
    return ds.dtype.fields is None and ds.dtype.newbyteorder("=") == np.dtype(dtype)


def _dataset(g: h5py.Group, member: str, where: str, need: str,
             problems: list[str]) -> h5py.Dataset | None:
    obj = g.get(member)
    if obj is None:
        problems.append(f"{where} is missing ({need} is required)")
        return None
    if not isinstance(obj, h5py.Dataset):
        problems.append(f"{where} is a group; it must be a dataset ({need})")
        return None
    return obj


def _positive_rate(attrs: h5py.AttributeManager, where: str, what: str,
                   problems: list[str], limits: Limits) -> float | None:
    """The declared rate, or None with a problem: a number within the rate limits, by the one
    rule every layout's rates follow (:func:`schemas.limits.rate_problem`)."""
    raw = _attr(attrs, "rate_hz")
    if raw is None:
        problems.append(f"{where} attr 'rate_hz' is missing ({what}, a number > 0, is required)")
        return None
    rate = _number(raw)
    if rate is None or rate_problem(rate, min_hz=limits.min_rate_hz,
                                    max_hz=limits.max_rate_hz) is not None:
        problems.append(f"{where} attr 'rate_hz' is {_shown(raw)}; {what} must be a number "
                        f"between {limits.min_rate_hz:g} and {limits.max_rate_hz:g} Hz")
        return None
    return rate


def _kind_of(g: Any) -> str | None:
    return _text(_attr(g.attrs, "kind")) if isinstance(g, h5py.Group) else None


def _read_stream(name: str, g: Any, limits: Limits) -> tuple[Stream | None, list[Finding]]:
    """One stream, or None with one finding per rule it breaks."""
    p = f"/streams/{name}"
    problems: list[str] = []

    def result() -> tuple[None, list[Finding]]:
        return None, [_err("schema.stream", msg, name) for msg in problems]

    if not isinstance(g, h5py.Group):
        problems.append(f"{p} is a dataset; a stream must be a group holding 'timestamps' and "
                        "'values'")
        return result()
    if not STREAM_NAME.fullmatch(name) or not is_safe_name(name):
        problems.append(f"{p}: the stream name {name!r} does not match [a-z][a-z0-9_.]{{0,63}}")
    ts_ds = _dataset(g, "timestamps", f"{p}/timestamps", "an int64 [T] dataset of nanoseconds",
                     problems)
    v_ds = _dataset(g, "values", f"{p}/values", "a float32 or float64 [T, D] dataset", problems)
    if ts_ds is not None and (not _is(ts_ds, np.int64) or ts_ds.ndim != 1):
        problems.append(f"{p}/timestamps is {ts_ds.dtype} with shape {ts_ds.shape}; it must be "
                        "int64 [T] (nanoseconds on the shared clock)")
        ts_ds = None
    d = 0
    if v_ds is not None:
        if not (_is(v_ds, np.float32) or _is(v_ds, np.float64)) or v_ds.ndim != 2:
            problems.append(f"{p}/values is {v_ds.dtype} with shape {v_ds.shape}; it must be "
                            "float32 or float64 [T, D]")
            v_ds = None
        elif v_ds.shape[0] < 1 or v_ds.shape[1] < 1:
            problems.append(f"{p}/values has shape {v_ds.shape}; at least one sample (T >= 1) "
                            "and one column (D >= 1) are required")
            v_ds = None
        else:
            d = v_ds.shape[1]
    if ts_ds is not None and v_ds is not None and ts_ds.shape[0] != v_ds.shape[0]:
        problems.append(f"{p}/timestamps has {ts_ds.shape[0]} entries but {p}/values has "
                        f"{v_ds.shape[0]} rows (one timestamp per sample is required)")
    kind = _one_of(g.attrs, "kind", STREAM_KINDS, p, problems)
    raw_names = _attr(g.attrs, "names")
    names = _text_list(raw_names) if raw_names is not None else None
    if raw_names is None:
        problems.append(f"{p} attr 'names' is missing (one name per column of {p}/values is "
                        "required)")
    elif names is None:
        problems.append(f"{p} attr 'names' is {_shown(raw_names)}; it must be a list of strings, "
                        "one per column (valid UTF-8, no NUL)")
    elif d and len(names) != d:
        problems.append(f"{p}/values has {d} columns but attr 'names' lists {len(names)} (one "
                        "name per column is required)")
    raw_unit = _attr(g.attrs, "unit")
    unit = _text(raw_unit)
    if raw_unit is None:
        problems.append(f"{p} attr 'unit' is missing (the SI unit of the columns, e.g. 'rad', "
                        "is required)")
    elif unit is None or not unit.strip():
        problems.append(f"{p} attr 'unit' is {_shown(raw_unit)}; it must be a non-empty string "
                        "(the SI unit of the columns)")
    rate = _positive_rate(g.attrs, p, "the nominal sampling rate", problems, limits)
    if kind == "action":
        space = _one_of(g.attrs, "space", ACTION_SPACES, p, problems,
                        "an action stream must declare")
    else:
        space = _text(_attr(g.attrs, "space"))
    if problems:
        return result()
    assert ts_ds is not None and v_ds is not None and kind and names and unit and rate
    ts = _load(ts_ds, f"{p}/timestamps")
    values = _load(v_ds, f"{p}/values")
    return Stream(name, kind, ts, values, names, unit, rate, space), []


def _read_camera(name: str, g: Any, path: Path,
                 limits: Limits) -> tuple[Camera | None, list[Finding]]:
    """One camera with a lazy frame source, or None with one finding per rule it breaks."""
    p = f"/cameras/{name}"
    problems: list[str] = []

    def result() -> tuple[None, list[Finding]]:
        return None, [_err("schema.camera", msg, name) for msg in problems]

    if not isinstance(g, h5py.Group):
        problems.append(f"{p} is a dataset; a camera must be a group")
        return result()
    if not STREAM_NAME.fullmatch(name) or not is_safe_name(name):
        # the name becomes a file name in the store (videos/<camera>.mp4): it is refused here,
        # never used as a path
        problems.append(f"{p}: the camera name {name!r} does not match [a-z][a-z0-9_.]{{0,63}}")
        return result()
    ts_ds = _dataset(g, "timestamps", f"{p}/timestamps", "an int64 [N] dataset, one per frame",
                     problems)
    if ts_ds is not None and (not _is(ts_ds, np.int64) or ts_ds.ndim != 1):
        problems.append(f"{p}/timestamps is {ts_ds.dtype} with shape {ts_ds.shape}; it must be "
                        "int64 [N] (one per frame, on the shared clock)")
        ts_ds = None
    enc = _one_of(g.attrs, "encoding", CAMERA_ENCODINGS, p, problems)
    rate = _positive_rate(g.attrs, p, "the nominal frame rate", problems, limits)
    size: dict[str, int] = {}
    for attr in ("width", "height"):
        raw = _attr(g.attrs, attr)
        v = _integer(raw) if raw is not None else None
        if raw is None:
            problems.append(f"{p} attr '{attr}' is missing (the frame size in pixels is "
                            "required)")
        elif v is None or v < 1:
            problems.append(f"{p} attr '{attr}' is {_shown(raw)}; it must be a positive integer "
                            "(pixels)")
        else:
            size[attr] = v
    w, h = size.get("width"), size.get("height")
    n = ts_ds.shape[0] if ts_ds is not None else None
    frames_obj = g.get("frames")
    raw_video = _attr(g.attrs, "video")
    frames: FrameSource | None = None
    video_path = None
    pixel = "depth16" if enc == "depth16" else "rgb8"
    if frames_obj is not None and raw_video is not None:
        problems.append(f"{p} has both a 'frames' dataset and attr 'video'; exactly one is "
                        "allowed")
    elif frames_obj is None and raw_video is None:
        problems.append(f"{p} has neither a 'frames' dataset nor attr 'video'; exactly one is "
                        "required")
    elif frames_obj is not None:
        frames = _stored_frames(p, frames_obj, enc, n, w, h, path, problems)
    else:
        video_path = _video_sidecar(p, raw_video, enc, path, problems)
        frames = VideoFrames(video_path) if video_path is not None else None
    intrinsics = _matrix(g.attrs, "intrinsics", (4,), p, "4 numbers: fx, fy, cx, cy", problems)
    extrinsics = _matrix(g.attrs, "extrinsics", (4, 4), p,
                         "a 4x4 matrix (the camera pose in the robot base frame)", problems)
    raw_mount = _attr(g.attrs, "mount")
    mount = _text(raw_mount)
    if raw_mount is not None and mount is None:
        problems.append(f"{p} attr 'mount' is {_shown(raw_mount)}; it must be a string such as "
                        "'head' or 'wrist_left'")
    if problems:
        return result()
    assert ts_ds is not None and enc and rate and w and h
    cam = Camera(name=name, timestamps=_load(ts_ds, f"{p}/timestamps"), encoding=enc,
                 rate_hz=rate, width=w, height=h, frames=frames, video_path=video_path,
                 mount=mount or None, intrinsics=intrinsics, extrinsics=extrinsics,
                 pixel_format=pixel)
    return cam, []


def _stored_frames(p: str, obj: Any, enc: str | None, n: int | None, w: int | None,
                   h: int | None, path: Path, problems: list[str]) -> H5Frames | None:
    if not isinstance(obj, h5py.Dataset):
        problems.append(f"{p}/frames is a group; it must be a dataset of frames")
        return None
    shape = obj.shape
    if enc == "video":
        problems.append(f"{p}/frames is stored but attr 'encoding' says 'video' (encoding must "
                        "match what is stored: rgb8 or depth16)")
        return None
    if enc == "rgb8" and (not _is(obj, np.uint8) or len(shape) != 4 or shape[3] != 3):
        problems.append(f"{p}/frames is {obj.dtype} {shape}; rgb8 frames must be uint8 "
                        "[N, H, W, 3]")
        return None
    if enc == "depth16" and (not _is(obj, np.uint16) or len(shape) != 3):
        problems.append(f"{p}/frames is {obj.dtype} {shape}; depth16 frames must be uint16 "
                        "[N, H, W] (millimetres)")
        return None
    if enc is None:
        return None
    if n is not None and shape[0] != n:
        problems.append(f"{p}/frames holds {shape[0]} frames but {p}/timestamps has {n} "
                        "(one timestamp per frame is required)")
    if w is not None and h is not None and (shape[1], shape[2]) != (h, w):
        problems.append(f"{p}/frames are {shape[2]}x{shape[1]} but attrs say width {w}, "
                        f"height {h}")
    return H5Frames(path, obj.name)


def _video_sidecar(p: str, raw: Any, enc: str | None, path: Path,
                   problems: list[str]) -> Path | None:
    if enc is not None and enc != "video":
        problems.append(f"{p} attr 'video' names a sidecar but attr 'encoding' is '{enc}', "
                        "not 'video' (encoding must match what is stored)")
        return None
    sidecar, problem, _check_id = _sidecar(raw, path)
    if problem is not None:
        problems.append(f"{p} attr 'video' {problem}")
        return None
    assert sidecar is not None
    if not sidecar.is_file():
        problems.append(f"{p} attr 'video' names '{sidecar.name}', which does not exist beside "
                        f"{path.name} (a sidecar must sit in the recording's folder)")
        return None
    return sidecar


def _matrix(attrs: h5py.AttributeManager, key: str, shape: tuple[int, ...], p: str, need: str,
            problems: list[str]) -> np.ndarray | None:
    raw = _attr(attrs, key)
    if raw is None:
        return None
    arr = np.asarray(raw) if raw is not _UNDECODABLE else None
    if arr is None or arr.shape != shape or arr.dtype.kind not in "iuf":
        problems.append(f"{p} attr '{key}' is {_shown(raw)}; it must be {need}")
        return None
    return arr.astype(np.float64)


def _read_events(f: h5py.File) -> tuple[list[Event], list[Finding]]:
    raw = f.get("events")
    if raw is None:
        return [], []
    rule = ("/events must be a compound [K] dataset with fields t_start (int64), t_end (int64) "
            "and label (string)")
    ds = raw if isinstance(raw, h5py.Dataset) else None
    fields = ds.dtype.fields if ds is not None else None
    ok = (ds is not None and fields is not None and ds.ndim == 1
          and {"t_start", "t_end", "label"} <= set(fields))
    if ok:
        assert fields is not None
        ints = all(fields[k][0].newbyteorder("=") == np.dtype(np.int64)
                   for k in ("t_start", "t_end"))
        label_dt = fields["label"][0]
        text = h5py.check_string_dtype(label_dt) is not None or label_dt.kind in "SU"
        ok = ints and text
    if not ok:
        shown = "a group" if ds is None else f"{ds.dtype} with shape {ds.shape}"
        return [], [_err("schema.stream", f"{rule}; it is {shown}", "events")]
    assert ds is not None
    rows = _load(ds, "/events")
    return [Event(int(r["t_start"]), int(r["t_end"]), _text(r["label"]) or "")
            for r in rows], []


# ------------------------------------------------------------------------------ reader
def _unreadable(path: Path, why: str) -> ReadResult:
    return ReadResult(None, [_err("schema.unreadable", f"{path} {why}")])


def _find_superblock(path: Path, size: int) -> bool:
    """HDF5 puts its signature at byte 0, or after a user block at 512, 1024, 2048, ..."""
    with open(path, "rb") as fh:
        offset = 0
        while offset + 8 <= size:
            fh.seek(offset)
            if fh.read(8) == HDF5_MAGIC:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def read_recording(path: Path | str, limits: Limits = Limits()) -> ReadResult:
    """Read and validate one recording (format 1.0) and its sidecar videos.

    Returns the episode (None when the file cannot be trusted at all: unreadable, unsafe, not
    this format) and the structural findings; never raises on bad input.
    """
    path = Path(path)
    limits = limits if limits is not None else Limits()
    if not path.exists():
        return _unreadable(path, "does not exist")
    if not path.is_file():
        return _unreadable(path, "is not a file (a recording is one HDF5 file)")
    try:
        size = path.stat().st_size
        if size == 0:
            return _unreadable(path, "is empty (0 bytes), not an HDF5 recording")
        if not _find_superblock(path, size):
            return _unreadable(path, "is not an HDF5 file (recording format 1.0 is HDF5)")
    except OSError as exc:
        return _unreadable(path, f"cannot be read ({exc.strerror or _why(exc)})")
    try:
        f = h5py.File(path, "r", locking=False)
    except Exception as exc:  # h5py reports truncation and corruption as OSError
        return _unreadable(path, f"is truncated or corrupt and cannot be opened as HDF5 "
                           f"({_why(exc)})")
    try:
        with f:
            parts = _read_open_file(f, path.resolve(), limits)
    except _Undecodable as exc:
        return _unreadable(path, f"is corrupt: {exc}")
    except Exception as exc:  # a broken file can fail anywhere in h5py; never crash the batch
        return _unreadable(path, f"is truncated or corrupt and cannot be decoded "
                           f"({type(exc).__name__}: {_why(exc)})")
    if isinstance(parts, ReadResult):
        return parts
    episode, findings = parts
    try:
        episode.source = SourceInfo(
            path=path.resolve(), sha256=sha256_file(path), size=size, layout="embodiq",
            sidecars={str(c.video_path): sha256_file(c.video_path)
                      for c in episode.cameras.values() if c.video_path is not None})
    except OSError as exc:
        return _unreadable(path, f"or one of its sidecars cannot be read to compute its "
                           f"checksum ({exc.strerror or _why(exc)})")
    return ReadResult(episode, findings)


def _container(f: h5py.File, key: str, check_id: str, member: str,
               findings: list[Finding]) -> h5py.Group | None:
    """``/streams`` or ``/cameras``: None when absent, or (a finding) when it is a dataset."""
    g = f.get(key)
    if g is not None and not isinstance(g, h5py.Group):
        findings.append(_err(check_id, f"/{key} is a dataset; it must be a group of "
                             f"{member} groups"))
        return None
    return g


def _read_open_file(f: h5py.File, path: Path,
                    limits: Limits) -> ReadResult | tuple[Episode, list[Finding]]:
    _index, refusals = _walk_links(f)
    refusals += _check_format(f.attrs)
    if not any(r.check_id == "schema.unsafe" for r in refusals):
        # links are known to stay inside the file: declarations may be looked up through them
        declared = _declarations(f, path, limits)
        if any(d.check_id == "schema.unreadable" for d in declared):
            return ReadResult(None, [d for d in declared if d.check_id == "schema.unreadable"])
        refusals += declared
    if refusals:
        return ReadResult(None, refusals)
    md, findings = _read_metadata(f.attrs)
    streams: dict[str, Stream] = {}
    kinds: set[str | None] = set()
    sgroup = _container(f, "streams", "schema.stream", "stream", findings) or {}
    for name in sgroup:
        g = sgroup.get(name)
        kinds.add(_kind_of(g))
        stream, fs = _read_stream(name, g, limits)
        findings += fs
        if stream is not None:
            streams[name] = stream
    for kind in ("joint_position", "action"):
        if kind not in kinds:
            findings.append(_err("schema.stream", f"/streams has no '{kind}' stream; a "
                                 "recording needs at least one joint_position and one action "
                                 "stream"))
    cameras: dict[str, Camera] = {}
    cgroup = _container(f, "cameras", "schema.camera", "camera", findings) or {}
    for name in cgroup:
        cam, fs = _read_camera(name, cgroup.get(name), path, limits)
        findings += fs
        if cam is not None:
            cameras[name] = cam
    events, fs = _read_events(f)
    findings += fs
    return Episode(metadata=md, streams=streams, cameras=cameras, events=events), findings
