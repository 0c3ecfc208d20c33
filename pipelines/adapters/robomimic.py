"""robomimic / robosuite demonstration files: ``data/demo_N/{obs/*, states, actions, …}``,
one episode per demo. The clock comes from the environment's control frequency
(``env_args``), else the mapping's ``rate_hz``, reported as inferred. ``mask/<filter>`` lists
(robomimic's train/valid splits) are kept as the episode's ``filter_keys``."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pipelines.adapters._common import (
    build_metadata,
    drop_unsafe_names,
    implicit_clock,
    inferred,
    rename,
    resolve_mapping,
    unreadable,
)
from pipelines.adapters.embodiq import is_hdf5
from schemas.episode import Camera, Episode, SourceInfo, Stream
from schemas.findings import Finding, Severity
from schemas.frame_sources import H5Frames
from schemas.names import name_problem
from schemas.read_result import ReadResult
from schemas.recording import sha256_file

#: dataset name pattern -> (stream kind, unit); first match wins
_KINDS = [
    (r"(^|/)(robot0_)?joint_pos(itions?)?$", "joint_position", "rad"),
    (r"(^|/)(robot0_)?joint_vel(ocities)?$", "joint_velocity", "rad/s"),
    (r"(^|/)(robot0_)?joint_torques$", "joint_effort", "N*m"),
    (r"^actions$", "action", "1"),
    (r"gripper", "gripper", "1"),
    (r"eef_pos|eef_quat|dpos|dquat", "ee_pose", "m"),
]
#: groups that repeat a demo's data shifted by one step, or are not per-step data
_SKIP_PREFIXES = ("next_obs/",)
_SKIP_NAMES = ("rewards", "dones")


def _demo_number(name: str) -> int:
    m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else 0


def _text(v: Any) -> str | None:
    if v is None:
        return None
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _control_freq(attrs: h5py.AttributeManager) -> float | None:
    """robomimic's ``env_args`` (or robosuite's ``env_info``) JSON, when it names the rate."""
    for key in ("env_args", "env_info"):
        raw = _text(attrs.get(key))
        if not raw:
            continue
        try:
            env = json.loads(raw)
            freq = env.get("env_kwargs", env).get("control_freq")
            if freq and float(freq) > 0:
                return float(freq)
        except (ValueError, TypeError, AttributeError):
            continue
    return None


def _recorded_at(attrs: h5py.AttributeManager) -> str | None:
    """robosuite's ``date`` (m-d-Y) and ``time`` (H:M:S) attributes, when both parse."""
    date, time = _text(attrs.get("date")), _text(attrs.get("time"))
    if not date or not time:
        return None
    try:
        t = datetime.strptime(f"{date} {time}", "%m-%d-%Y %H:%M:%S")
    except ValueError:
        return None
    return t.replace(tzinfo=UTC).isoformat()


def _filter_keys(f: h5py.File, key: str) -> list[str]:
    mask = f.get("mask")
    out = []
    if isinstance(mask, h5py.Group):
        for name, ds in mask.items():
            if isinstance(ds, h5py.Dataset) and key in {_text(x) for x in ds[()].ravel()}:
                out.append(name)
    return sorted(out)


class RobomimicAdapter:
    name = "robomimic"

    def detect(self, path: Path) -> bool:
        if not path.is_file() or not is_hdf5(path):
            return False
        try:
            with h5py.File(path, "r") as f:
                data = f.get("data")
                return isinstance(data, h5py.Group) and any(k.startswith("demo") for k in data)
        except Exception:
            return False

    def episode_keys(self, path: Path) -> Sequence[str | None]:
        with h5py.File(path, "r") as f:
            return sorted((k for k in f["data"] if k.startswith("demo")), key=_demo_number)

    def source_files(self, path: Path, key: str | None) -> list[Path]:
        return [path]

    def read(self, path: Path, key: str | None, mapping: dict | None = None) -> ReadResult:
        problem = name_problem(key, "demo name")
        if problem is not None:  # the key names the episode's files in the store: refused
            return ReadResult(None, [Finding("schema.unsafe", Severity.ERROR,
                                             f"{path}: /data/{key!r}: {problem}")])
        m = resolve_mapping(self.name, mapping)
        src = m.get("_source", "the robomimic defaults")
        findings: list[Finding] = []
        given: dict[str, Any] = {}
        try:
            with h5py.File(path, "r") as f:
                data = f["data"]
                demo = data[key]
                if not isinstance(demo, h5py.Group):
                    raise ValueError(f"/data/{key} is not a group")
                rate = _control_freq(data.attrs)
                if not rate:
                    rate = float(m.get("rate_hz", 20.0))
                    findings.append(inferred("clock", f"{rate:g} Hz control frequency", src))
                env_name = _text(data.attrs.get("env"))
                if not env_name:
                    try:
                        env_name = json.loads(_text(data.attrs.get("env_args")) or "{}").get(
                            "env_name")
                    except (ValueError, AttributeError):
                        env_name = None
                started = _recorded_at(data.attrs)
                if started:
                    findings.append(inferred("started_at", started,
                                             "the file's date and time attributes"))
                    given["started_at"] = started
                filters = _filter_keys(f, key)
                if filters:
                    given["filter_keys"] = ",".join(filters)
                if "num_samples" in demo.attrs:
                    given["num_samples"] = int(demo.attrs["num_samples"])
                datasets: dict[str, h5py.Dataset] = {}

                def collect(name: str, obj: object) -> None:  # returning a value stops the walk
                    if isinstance(obj, h5py.Dataset):
                        datasets[name] = obj

                demo.visititems(collect)
                streams: dict[str, Stream] = {}
                cameras: dict[str, Camera] = {}
                spec = m.get("streams", {})
                for dname, ds in sorted(datasets.items()):
                    if dname.startswith(_SKIP_PREFIXES) or dname in _SKIP_NAMES:
                        continue
                    if ds.ndim == 4 and ds.shape[-1] == 3 and ds.dtype == np.uint8:
                        cname = re.sub(r"[^a-z0-9_]", "_", dname.split("/")[-1].lower())
                        cameras[cname] = Camera(cname, implicit_clock(ds.shape[0], rate), "rgb8",
                                                rate, int(ds.shape[2]), int(ds.shape[1]),
                                                frames=H5Frames(path, f"data/{key}/{dname}"))
                        continue
                    if ds.ndim != 2 or ds.shape[1] == 0 or ds.shape[0] == 0:
                        continue  # zero-width datasets (unused arms) are tolerated
                    s_spec = spec.get(dname, {})
                    kind, unit = s_spec.get("kind"), s_spec.get("unit")
                    if kind is None:
                        for pat, k, u in _KINDS:
                            if re.search(pat, dname):
                                kind, unit = k, u
                                break
                    kind, unit = kind or "other", unit or "1"
                    vals = np.asarray(ds[()], dtype=np.float64)
                    if "columns" in s_spec:
                        a, b = s_spec["columns"]
                        vals = vals[:, a:b]
                    sname = re.sub(r"[^a-z0-9_.]", "_", s_spec.get(
                        "name", dname.removeprefix("obs/")).lower())
                    names = s_spec.get("names")
                    if not names:
                        names = [f"{sname}_{i}" for i in range(vals.shape[1])]
                        if kind in ("joint_position", "joint_velocity", "joint_effort"):
                            findings.append(inferred("joint names", f"{sname}_<i>",
                                                     "column positions (name them in the "
                                                     "mapping's streams table)", stream=sname))
                    streams[sname] = Stream(
                        sname, kind, implicit_clock(len(vals), rate), vals, rename(names, m),
                        unit, rate, space=s_spec.get("space", "other") if kind == "action"
                        else None)
        except (OSError, KeyError, ValueError, TypeError) as exc:
            return ReadResult(None, [unreadable(path, f"{key} is not a readable robomimic demo "
                                                      f"({exc})")])
        if not m.get("task") and env_name:
            given["task"] = f"robosuite {env_name}"
        drop_unsafe_names(f"{path}#{key}", streams, cameras, findings)
        md = build_metadata(self.name, m, given, findings)
        ep = Episode(md, streams, cameras, source=SourceInfo(
            path.resolve(), sha256_file(path), path.stat().st_size, self.name, episode_key=key))
        return ReadResult(ep, findings)


ADAPTER = RobomimicAdapter()
