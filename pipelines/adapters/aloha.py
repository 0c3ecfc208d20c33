"""ALOHA / ACT episodes: ``episode_N.hdf5`` with ``/observations/{qpos,qvel,effort,images}`` and
``/action`` (Mobile ALOHA adds ``/base_action``). There is no clock: samples are at the
mapping's ``rate_hz`` (50 Hz, as ACT records), reported as inferred."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from pipelines.adapters._common import (
    EncodedFrames,
    build_metadata,
    implicit_clock,
    inferred,
    rename,
    resolve_mapping,
    unreadable,
)
from pipelines.adapters.embodiq import is_hdf5
from robots.profile import get_profile
from schemas.episode import Camera, Episode, SourceInfo, Stream
from schemas.frame_sources import H5Frames
from schemas.read_result import ReadResult
from schemas.recording import sha256_file


class AlohaAdapter:
    name = "aloha"

    def detect(self, path: Path) -> bool:
        if not path.is_file() or not is_hdf5(path):
            return False
        try:
            with h5py.File(path, "r") as f:
                return "observations/qpos" in f and "action" in f
        except Exception:
            return False

    def episode_keys(self, path: Path) -> Sequence[str | None]:
        return [None]

    def source_files(self, path: Path, key: str | None) -> list[Path]:
        return [path]

    def read(self, path: Path, key: str | None, mapping: dict | None = None) -> ReadResult:
        m = resolve_mapping(self.name, mapping)
        findings = []
        try:
            with h5py.File(path, "r") as f:
                qpos = np.asarray(f["observations/qpos"][()], dtype=np.float64)
                sim = bool(f.attrs.get("sim", False))
                rate = float(m.get("rate_hz", 50.0))
                findings.append(inferred("clock", f"{rate:g} Hz from sample index",
                                         m.get("_source", "ACT's 50 Hz"), stream="qpos"))
                model = m.get("robot_model", "aloha")
                prof = get_profile(model)
                default_names = prof.joint_names if prof and len(prof.joints) == qpos.shape[1] \
                    else [f"joint_{i}" for i in range(qpos.shape[1])]
                names = rename(m.get("joint_names", default_names), m)
                ts = implicit_clock(qpos.shape[0], rate)
                streams = {"qpos": Stream("qpos", "joint_position", ts, qpos, names, "rad", rate)}
                for src, kind, unit in (("observations/qvel", "joint_velocity", "rad/s"),
                                        ("observations/effort", "joint_effort", "N*m")):
                    if src in f and f[src].shape[0] == qpos.shape[0] and f[src].ndim == 2 \
                            and f[src].shape[1] == qpos.shape[1]:
                        n = src.split("/")[-1]
                        streams[n] = Stream(n, kind, ts, np.asarray(f[src][()], np.float64),
                                            names, unit, rate)
                act = np.asarray(f["action"][()], dtype=np.float64)
                streams["action"] = Stream("action", "action", implicit_clock(len(act), rate),
                                           act, names if act.shape[1] == len(names) else
                                           [f"a{i}" for i in range(act.shape[1])], "rad", rate,
                                           space="joint_position")
                if "base_action" in f:
                    b = np.asarray(f["base_action"][()], dtype=np.float64)
                    streams["base_action"] = Stream(
                        "base_action", "action", implicit_clock(len(b), rate), b,
                        [f"base_{i}" for i in range(b.shape[1])], "m/s", rate, space="other")
                cameras = {}
                imgs = f.get("observations/images")
                lens = f.get("compress_len")
                for i, cam in enumerate(sorted(imgs) if imgs is not None else []):
                    ds = imgs[cam]
                    dpath = f"observations/images/{cam}"
                    if ds.ndim == 4:
                        frames = H5Frames(path, dpath)
                        h, w = ds.shape[1], ds.shape[2]
                    else:  # JPEG rows padded to one length
                        lengths = np.asarray(lens[i]) if lens is not None else None
                        frames = EncodedFrames(path, dpath, lengths)
                        first = next(iter(frames.iter_frames()))
                        h, w = first.shape[:2]
                    cameras[cam] = Camera(cam, implicit_clock(ds.shape[0], rate), "rgb8", rate,
                                          w, h, frames=frames)
        except (OSError, KeyError, ValueError, IndexError) as exc:
            return ReadResult(None, [unreadable(path, f"is not a readable ALOHA episode ({exc})")])
        given = {"robot_model": None, "collection_mode": "scripted" if sim else None}
        md = build_metadata(self.name, m | {"robot_model": model}, given, findings)
        ep = Episode(md, streams, cameras,
                     source=SourceInfo(path.resolve(), sha256_file(path), path.stat().st_size,
                                       layout=self.name))
        return ReadResult(ep, findings)


ADAPTER = AlohaAdapter()
