"""Read recording format 1.0 and enforce the data-collection schema.

Every rule the format states becomes a ``schema.*`` finding whose message names the HDF5 path
and the rule. Unsafe constructs (external links, virtual datasets, external storage, escaping or
missing sidecars, declared sizes beyond :class:`Limits`) are refused by looking at the file's
structure only, before any dataset's data is read. Nothing here raises on bad input.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
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
    SourceInfo,
    Stream,
)
from schemas.findings import Finding, Severity
from schemas.frame_sources import H5Frames, VideoFrames
from schemas.limits import Limits
from schemas.read_result import ReadResult

FORMAT = "embodiq.recording"
SUPPORTED_MAJOR = 1
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
STREAM_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
OPERATOR_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REQUIRED_ATTRS = ("robot_model", "robot_serial", "operator_id", "collection_mode", "task",
                  "site", "started_at")
KNOWN_ATTRS = {"format", "format_version", "robot_uid", "task_id", "scene", "success",
               *REQUIRED_ATTRS}


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _err(check_id: str, message: str, stream: str | None = None) -> Finding:
    return Finding(check_id, Severity.ERROR, message, stream=stream)


def _as_str(value: Any) -> str | None:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(value, np.bytes_):
        return _as_str(bytes(value))
    if isinstance(value, (str, np.str_)):
        return str(value)
    return None


def _plain(value: Any) -> Any:
    s = _as_str(value)
    if s is not None:
        return s
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


# ------------------------------------------------------------------------- safety walk
def _walk_unsafe(f: h5py.File, limits: Limits) -> list[Finding]:
    """Links, virtual or external datasets, and oversize declarations — from metadata only."""
    out: list[Finding] = []

    def visit(group: h5py.Group, prefix: str) -> None:
        for name in group:
            path = f"{prefix}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                out.append(_err("schema.unsafe", f"{path} is an external link to "
                                f"'{link.filename}:{link.path}'; a recording must be "
                                "self-contained and never make the pipeline read other files"))
                continue
            if isinstance(link, h5py.SoftLink):
                if link.path not in f:
                    out.append(_err("schema.unsafe", f"{path} is a soft link to "
                                    f"'{link.path}', which is not in the file"))
                continue  # never followed, so a link cannot loop or alias data
            obj = group.get(name)
            if isinstance(obj, h5py.Group):
                visit(obj, path)
            elif isinstance(obj, h5py.Dataset):
                if obj.is_virtual:
                    out.append(_err("schema.unsafe", f"{path} is a virtual dataset; a recording "
                                    "must be self-contained"))
                elif obj.id.get_create_plist().get_external_count() > 0:
                    out.append(_err("schema.unsafe", f"{path} keeps its data in external files; "
                                    "a recording must be self-contained"))
                else:
                    out.extend(_size_findings(path, obj.shape, limits))

    visit(f, "")
    cams = f.get("cameras")
    if isinstance(cams, h5py.Group):
        for name in cams:
            g = cams.get(name)
            if not isinstance(g, h5py.Group):
                continue
            for attr, cap in (("width", limits.max_frame_width),
                              ("height", limits.max_frame_height)):
                v = g.attrs.get(attr)
                if isinstance(v, (int, np.integer)) and int(v) > cap:
                    out.append(_err("schema.unsafe", f"/cameras/{name} declares {attr} {int(v)}, "
                                    f"over the limit of {cap} pixels"))
    return out


def _size_findings(path: str, shape: tuple[int, ...] | None, limits: Limits) -> list[Finding]:
    if not shape:
        return []
    parts = path.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "streams" and parts[2] in ("values", "timestamps"):
        if shape[0] > limits.max_samples_per_stream:
            return [_err("schema.unsafe", f"{path} declares {shape[0]:,} samples, over the "
                         f"limit of {limits.max_samples_per_stream:,} per stream")]
    if len(parts) == 3 and parts[0] == "cameras" and parts[2] in ("frames", "timestamps"):
        if shape[0] > limits.max_frames_per_camera:
            return [_err("schema.unsafe", f"{path} declares {shape[0]:,} frames, over the "
                         f"limit of {limits.max_frames_per_camera:,} per camera")]
        if parts[2] == "frames" and len(shape) >= 3 and (
                shape[1] > limits.max_frame_height or shape[2] > limits.max_frame_width):
            return [_err("schema.unsafe", f"{path} declares {shape[2]}x{shape[1]} frames, over "
                         f"the limit of {limits.max_frame_width}x{limits.max_frame_height}")]
    return []


# ---------------------------------------------------------------------------- metadata
def _check_format(f: h5py.File) -> list[Finding]:
    fmt = _as_str(f.attrs.get("format"))
    ver = _as_str(f.attrs.get("format_version"))
    if fmt is None:
        return [_err("schema.format", "root attribute 'format' is missing; a recording "
                     f"declares format = \"{FORMAT}\"")]
    if fmt != FORMAT:
        return [_err("schema.format", f"root attribute 'format' is '{fmt}', not '{FORMAT}'")]
    if ver is None:
        return [_err("schema.format", "root attribute 'format_version' is missing "
                     "(expected \"1.0\")")]
    m = re.fullmatch(r"(\d+)\.(\d+)", ver)
    if not m:
        return [_err("schema.format", f"root attribute 'format_version' is '{ver}', not "
                     "major.minor")]
    if int(m.group(1)) != SUPPORTED_MAJOR:
        return [_err("schema.format", f"format_version {ver} is not supported: this reader "
                     f"reads {SUPPORTED_MAJOR}.x")]
    return []


def _read_metadata(f: h5py.File) -> tuple[EpisodeMetadata, list[Finding]]:
    out: list[Finding] = []
    vals: dict[str, str] = {}
    for key in REQUIRED_ATTRS:
        raw = f.attrs.get(key)
        s = _as_str(raw)
        if raw is None:
            out.append(_err("schema.metadata", f"required root attribute '{key}' is missing",
                            key))
        elif s is None or not s.strip():
            out.append(_err("schema.metadata", f"root attribute '{key}' must be a non-empty "
                            "UTF-8 string", key))
        vals[key] = s.strip() if s else ""
    if vals["operator_id"] and not OPERATOR_ID.match(vals["operator_id"]):
        out.append(_err("schema.metadata", f"root attribute 'operator_id' "
                        f"'{vals['operator_id']}' must match [A-Za-z0-9_-]{{1,64}} "
                        "(a pseudonymous id, never a name)", "operator_id"))
    if vals["collection_mode"] and vals["collection_mode"] not in COLLECTION_MODES:
        out.append(_err("schema.metadata", f"root attribute 'collection_mode' "
                        f"'{vals['collection_mode']}' is not one of "
                        f"{', '.join(COLLECTION_MODES)}", "collection_mode"))
    if vals["started_at"]:
        try:
            ts = datetime.fromisoformat(vals["started_at"])
            if ts.tzinfo is None:
                out.append(_err("schema.metadata", f"root attribute 'started_at' "
                                f"'{vals['started_at']}' has no UTC offset (e.g. +08:00)",
                                "started_at"))
        except ValueError:
            out.append(_err("schema.metadata", f"root attribute 'started_at' "
                            f"'{vals['started_at']}' is not an ISO 8601 time", "started_at"))
    success = None
    if "success" in f.attrs:
        raw = f.attrs["success"]
        if isinstance(raw, (int, np.integer, bool, np.bool_)) and int(raw) in (0, 1):
            success = bool(int(raw))
        else:
            out.append(_err("schema.metadata", "root attribute 'success' must be the integer "
                            f"1 or 0, not {_plain(raw)!r}", "success"))
    optional = {}
    for key in ("robot_uid", "task_id", "scene"):
        if key in f.attrs:
            s = _as_str(f.attrs[key])
            if s is None:
                out.append(_err("schema.metadata", f"root attribute '{key}' must be a string",
                                key))
            optional[key] = s or None
    extra = {k: _plain(v) for k, v in f.attrs.items() if k not in KNOWN_ATTRS}
    md = EpisodeMetadata(**vals, success=success, extra=extra, **optional)
    return md, out


# ----------------------------------------------------------------------------- streams
def _float_attr(attrs: h5py.AttributeManager, key: str) -> float | None:
    v = attrs.get(key)
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return float(v)
    return None


def _read_stream(name: str, g: Any) -> tuple[Stream | None, list[Finding]]:
    p = f"/streams/{name}"

    def bad(msg: str) -> tuple[None, list[Finding]]:
        return None, [_err("schema.stream", f"{p}{msg}", name)]

    if not isinstance(g, h5py.Group):
        return bad(" must be a group with 'timestamps' and 'values'")
    if not STREAM_NAME.match(name):
        return bad(": stream names must match [a-z][a-z0-9_.]{0,63}")
    ts_ds, v_ds = g.get("timestamps"), g.get("values")
    if not isinstance(ts_ds, h5py.Dataset):
        return bad("/timestamps is missing (an int64 [T] dataset is required)")
    if not isinstance(v_ds, h5py.Dataset):
        return bad("/values is missing (a float32 or float64 [T, D] dataset is required)")
    if ts_ds.dtype != np.int64 or ts_ds.ndim != 1:
        return bad(f"/timestamps is {ts_ds.dtype} with shape {ts_ds.shape}; it must be int64 "
                   "[T] (nanoseconds)")
    if v_ds.dtype not in (np.float32, np.float64) or v_ds.ndim != 2:
        return bad(f"/values is {v_ds.dtype} with shape {v_ds.shape}; it must be float32 or "
                   "float64 [T, D]")
    t, d = v_ds.shape
    if t < 1 or d < 1:
        return bad(f"/values has shape {v_ds.shape}; at least one sample and one column "
                   "are required")
    if ts_ds.shape[0] != t:
        return bad(f"/timestamps has {ts_ds.shape[0]} entries but /values has {t} rows "
                   "(one timestamp per sample is required)")
    kind = _as_str(g.attrs.get("kind"))
    if kind not in STREAM_KINDS:
        return bad(f" attr 'kind' is {kind!r}; it must be one of {', '.join(STREAM_KINDS)}")
    names_raw = g.attrs.get("names")
    names = [_as_str(x) for x in np.atleast_1d(names_raw)] if names_raw is not None else None
    if names is None or any(n is None for n in names):
        return bad(" attr 'names' is missing or not a list of strings (one per column)")
    if len(names) != d:
        return bad(f"/values has {d} columns but attr 'names' lists {len(names)} (one name "
                   "per column is required)")
    unit = _as_str(g.attrs.get("unit"))
    if not unit:
        return bad(" attr 'unit' is missing (the SI unit of the columns, e.g. rad)")
    rate = _float_attr(g.attrs, "rate_hz")
    if rate is None or not np.isfinite(rate) or rate <= 0:
        return bad(" attr 'rate_hz' must be a number > 0 (the nominal sampling rate)")
    space = _as_str(g.attrs.get("space")) if "space" in g.attrs else None
    if kind == "action" and space not in ACTION_SPACES:
        return bad(f" attr 'space' is {space!r}; an action stream must declare one of "
                   f"{', '.join(ACTION_SPACES)}")
    ts = np.ascontiguousarray(ts_ds[()])
    vals = np.ascontiguousarray(v_ds[()])
    return Stream(name, kind, ts, vals, [str(n) for n in names], unit, rate, space), []


# ----------------------------------------------------------------------------- cameras
def _read_camera(name: str, g: Any, path: Path) -> tuple[Camera | None, list[Finding]]:
    p = f"/cameras/{name}"

    def bad(msg: str) -> tuple[None, list[Finding]]:
        return None, [_err("schema.camera", f"{p}{msg}", name)]

    if not isinstance(g, h5py.Group):
        return bad(" must be a group")
    ts_ds = g.get("timestamps")
    if not isinstance(ts_ds, h5py.Dataset) or ts_ds.dtype != np.int64 or ts_ds.ndim != 1:
        return bad("/timestamps must be an int64 [N] dataset (one per frame)")
    enc = _as_str(g.attrs.get("encoding"))
    if enc not in CAMERA_ENCODINGS:
        return bad(f" attr 'encoding' is {enc!r}; it must be one of "
                   f"{', '.join(CAMERA_ENCODINGS)}")
    rate = _float_attr(g.attrs, "rate_hz")
    if rate is None or not np.isfinite(rate) or rate <= 0:
        return bad(" attr 'rate_hz' must be a number > 0")
    w, h = g.attrs.get("width"), g.attrs.get("height")
    if not isinstance(w, (int, np.integer)) or not isinstance(h, (int, np.integer)) \
            or int(w) < 1 or int(h) < 1:
        return bad(" attrs 'width' and 'height' must be positive integers")
    w, h = int(w), int(h)
    n = ts_ds.shape[0]
    frames_ds = g.get("frames")
    video = g.attrs.get("video")
    if frames_ds is not None and video is not None:
        return bad(" has both 'frames' and attr 'video'; exactly one is allowed")
    if frames_ds is None and video is None:
        return bad(" has neither 'frames' nor attr 'video'; one is required")
    frames = None
    video_path = None
    pixel = "rgb8"
    if frames_ds is not None:
        if not isinstance(frames_ds, h5py.Dataset):
            return bad("/frames must be a dataset")
        if enc == "video":
            return bad("/frames is stored but attr 'encoding' says 'video' (encoding must "
                       "match what is stored)")
        if enc == "rgb8":
            if frames_ds.dtype != np.uint8 or frames_ds.ndim != 4 or frames_ds.shape[3] != 3:
                return bad(f"/frames is {frames_ds.dtype} {frames_ds.shape}; rgb8 frames must "
                           "be uint8 [N, H, W, 3]")
        else:
            pixel = "depth16"
            if frames_ds.dtype != np.uint16 or frames_ds.ndim != 3:
                return bad(f"/frames is {frames_ds.dtype} {frames_ds.shape}; depth16 frames "
                           "must be uint16 [N, H, W] (millimetres)")
        if frames_ds.shape[0] != n:
            return bad(f"/frames holds {frames_ds.shape[0]} frames but /timestamps has {n} "
                       "(one timestamp per frame is required)")
        if (frames_ds.shape[1], frames_ds.shape[2]) != (h, w):
            return bad(f"/frames are {frames_ds.shape[2]}x{frames_ds.shape[1]} but attrs say "
                       f"width {w}, height {h}")
        frames = H5Frames(path, f"{p}/frames")
    else:
        vname = _as_str(video)
        if enc != "video":
            return bad(f" attr 'video' names a sidecar but attr 'encoding' is '{enc}', "
                       "not 'video'")
        if not vname or vname.startswith(("/", "\\")) or "/" in vname or "\\" in vname \
                or ".." in vname or Path(vname).is_absolute():
            return bad(f" attr 'video' is {vname!r}: a sidecar must be a plain file name in "
                       "the recording's folder (no path separator, no '..', not absolute)")
        video_path = (path.parent / vname).resolve()
        if not video_path.is_file():
            return bad(f" attr 'video' names '{vname}', which does not exist beside {path.name}")
        frames = VideoFrames(video_path)
    intr = g.attrs.get("intrinsics")
    if intr is not None and np.asarray(intr).shape != (4,):
        return bad(" attr 'intrinsics' must be 4 numbers: fx, fy, cx, cy")
    extr = g.attrs.get("extrinsics")
    if extr is not None and np.asarray(extr).shape != (4, 4):
        return bad(" attr 'extrinsics' must be a 4x4 matrix")
    mount = _as_str(g.attrs.get("mount")) if "mount" in g.attrs else None
    cam = Camera(name=name, timestamps=np.ascontiguousarray(ts_ds[()]), encoding=enc,
                 rate_hz=rate, width=w, height=h, frames=frames, video_path=video_path,
                 mount=mount,
                 intrinsics=np.asarray(intr, dtype=np.float64) if intr is not None else None,
                 extrinsics=np.asarray(extr, dtype=np.float64) if extr is not None else None,
                 pixel_format=pixel)
    return cam, []


def _read_events(f: h5py.File) -> tuple[list[Event], list[Finding]]:
    ds = f.get("events")
    if ds is None:
        return [], []
    names = ds.dtype.names if isinstance(ds, h5py.Dataset) else None
    if not names or not {"t_start", "t_end", "label"} <= set(names) or ds.ndim != 1:
        return [], [_err("schema.stream", "/events must be a compound [K] dataset with fields "
                         "t_start (int64), t_end (int64) and label (string)", "events")]
    rows = ds[()]
    return [Event(int(r["t_start"]), int(r["t_end"]), _as_str(r["label"]) or "")
            for r in rows], []


# ------------------------------------------------------------------------------ reader
def _unreadable(path: Path, why: str) -> ReadResult:
    return ReadResult(None, [_err("schema.unreadable", f"{path}: {why}")])


def read_recording(path: Path | str, limits: Limits | None = None) -> ReadResult:
    """Read one recording; return the episode (None when it cannot be trusted) and findings."""
    path = Path(path)
    limits = limits or Limits()
    if not path.is_file():
        return _unreadable(path, "no such file")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(8)
        size = path.stat().st_size
    except OSError as exc:
        return _unreadable(path, f"cannot be read ({exc.strerror})")
    if magic != HDF5_MAGIC:
        return _unreadable(path, "is not an HDF5 file (recording format 1.0 is HDF5)")
    try:
        with h5py.File(path, "r") as f:
            unsafe = _walk_unsafe(f, limits)
            if unsafe:
                return ReadResult(None, unsafe)
            fmt = _check_format(f)
            if fmt:
                return ReadResult(None, fmt)
            md, findings = _read_metadata(f)
            streams: dict[str, Stream] = {}
            declared_kinds: set[str] = set()
            sgroup = f.get("streams")
            if sgroup is not None and not isinstance(sgroup, h5py.Group):
                findings.append(_err("schema.stream", "/streams must be a group"))
                sgroup = None
            for name in (sgroup or {}):
                g = sgroup.get(name)
                if isinstance(g, h5py.Group):
                    declared_kinds.add(_as_str(g.attrs.get("kind")) or "")
                s, fs = _read_stream(name, g)
                findings += fs
                if s is not None:
                    streams[name] = s
            for kind in ("joint_position", "action"):
                if kind not in declared_kinds:
                    findings.append(_err("schema.stream", f"/streams has no '{kind}' stream; a "
                                         "recording needs at least one joint_position and one "
                                         "action stream"))
            cameras: dict[str, Camera] = {}
            cgroup = f.get("cameras")
            if cgroup is not None and not isinstance(cgroup, h5py.Group):
                findings.append(_err("schema.camera", "/cameras must be a group"))
                cgroup = None
            sidecars: dict[str, str] = {}
            for name in (cgroup or {}):
                cam, fs = _read_camera(name, cgroup.get(name), path.resolve())
                findings += fs
                if cam is not None:
                    cameras[name] = cam
                    if cam.video_path is not None:
                        sidecars[str(cam.video_path)] = sha256_file(cam.video_path)
            events, fs = _read_events(f)
            findings += fs
    except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return _unreadable(path, f"is truncated or corrupt and cannot be decoded ({msg})")
    source = SourceInfo(path=path.resolve(), sha256=sha256_file(path), size=size,
                        layout="embodiq", sidecars=sidecars)
    ep = Episode(metadata=md, streams=streams, cameras=cameras, events=events, source=source)
    return ReadResult(ep, findings)
