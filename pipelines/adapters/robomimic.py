"""robomimic / robosuite demonstration files: ``data/demo_N/{obs/*, states, actions, …}``,
one episode per demo. The clock comes from the environment's control frequency
(``env_args``), else the mapping's ``rate_hz``, reported as inferred."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from pipelines.adapters._common import (
    build_metadata,
    implicit_clock,
    inferred,
    rename,
    resolve_mapping,
    unreadable,
)
from pipelines.adapters.embodiq import is_hdf5
from schemas.episode import Episode, SourceInfo, Stream
from schemas.read_result import ReadResult
from schemas.recording import sha256_file

#: dataset name pattern -> (stream kind, unit); first match wins
_KINDS = [
    (r"(^|/)(robot0_)?joint_pos(itions?)?$", "joint_position", "rad"),
    (r"(^|/)(robot0_)?joint_vel(ocities)?$", "joint_velocity", "rad/s"),
    (r"(^|/)joint_torques$", "joint_effort", "N*m"),
    (r"^actions$", "action", "1"),
    (r"gripper", "gripper", "1"),
    (r"eef_pos|eef_quat|dpos|dquat", "ee_pose", "m"),
]


def _demo_number(name: str) -> int:
    m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else 0


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
        m = resolve_mapping(self.name, mapping)
        findings = []
        try:
            with h5py.File(path, "r") as f:
                data = f["data"]
                demo = data[key]
                rate = None
                env_args = data.attrs.get("env_args")
                if env_args is not None:
                    try:
                        env = json.loads(env_args)
                        rate = float(env.get("env_kwargs", {}).get("control_freq"))
                    except (ValueError, TypeError):
                        rate = None
                if not rate:
                    rate = float(m.get("rate_hz", 20.0))
                    findings.append(inferred("clock", f"{rate:g} Hz control frequency",
                                             m.get("_source", "robosuite's default")))
                env_name = data.attrs.get("env")
                env_name = env_name.decode() if isinstance(env_name, bytes) else env_name
                datasets: dict[str, h5py.Dataset] = {}

                def collect(name: str, obj: object) -> None:  # returning a value stops the walk
                    if isinstance(obj, h5py.Dataset):
                        datasets[name] = obj

                demo.visititems(collect)
                streams: dict[str, Stream] = {}
                spec = m.get("streams", {})
                for dname, ds in sorted(datasets.items()):
                    if ds.ndim != 2 or ds.shape[1] == 0 or ds.shape[0] == 0:
                        continue  # zero-width datasets (unused arms) are tolerated
                    if dname in ("rewards", "dones"):
                        continue
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
                    sname = re.sub(r"[^a-z0-9_.]", "_", s_spec.get("name", dname).lower())
                    names = s_spec.get("names") or [f"{sname}_{i}" for i in range(vals.shape[1])]
                    streams[sname] = Stream(
                        sname, kind, implicit_clock(len(vals), rate), vals, rename(names, m),
                        unit, rate, space=s_spec.get("space", "other") if kind == "action"
                        else None)
        except (OSError, KeyError, ValueError) as exc:
            return ReadResult(None, [unreadable(path, f"{key} is not a readable robomimic demo "
                                                      f"({exc})")])
        md = build_metadata(self.name, m, {"task": m.get("task") or (f"robosuite {env_name}"
                                                                       if env_name else None)},
                            findings)
        ep = Episode(md, streams, {}, source=SourceInfo(
            path.resolve(), sha256_file(path), path.stat().st_size, self.name, episode_key=key))
        return ReadResult(ep, findings)


ADAPTER = RobomimicAdapter()
