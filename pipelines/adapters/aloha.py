"""ALOHA / ACT episodes: ``episode_N.hdf5`` with ``/observations/{qpos,qvel,effort,images}`` and
``/action`` (Mobile ALOHA adds ``/base_action``). There is no clock: samples are at the
mapping's ``rate_hz`` (50 Hz, as ACT records), reported as inferred. Joint names are the robot
profile's, in its order, also reported as inferred."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from pipelines.adapters._common import implicit_clock, inferred, rename, resolve_mapping, unreadable
from pipelines.adapters.base import FileSource
from pipelines.adapters.hdf5 import EncodedFrames, hdf5_where
from pipelines.adapters.profiles import resolve_profile
from schemas.episode import Camera, Stream
from schemas.findings import Finding, Severity
from schemas.frame_sources import H5Frames
from schemas.read_result import ReadResult

_JPEG_END = b"\xff\xd9"
_PNG_END = b"IEND\xaeB`\x82"


def _length_row(ds: h5py.Dataset, lens: np.ndarray | None) -> np.ndarray | None:
    """The row of ``/compress_len`` that belongs to this camera's dataset.

    ACT writes one row per camera in its own camera order, which the file does not record; the
    row whose lengths end the encoded images exactly (first, middle and last frame) is this
    camera's; without one, rows are decoded whole (decoders ignore the zero padding)."""
    t = ds.shape[0]
    if lens is None or lens.ndim != 2 or lens.shape[1] < t or t == 0:
        return None
    probes = sorted({0, t // 2, t - 1})
    rows = {i: np.asarray(ds[i]).reshape(-1).view(np.uint8).tobytes() for i in probes}

    def ends(data: bytes, n: int) -> bool:
        return 0 < n <= len(data) and (data[:n].endswith(_JPEG_END)
                                       or data[:n].endswith(_PNG_END))

    for row in lens:
        if all(ends(rows[i], int(row[i])) for i in probes):
            return np.asarray(row[:t])
    return None


def _camera(path: Path, f: h5py.File, cam: str, rate: float,
            findings: list[Finding]) -> Camera | None:
    dpath = f"observations/images/{cam}"
    ds = f[dpath]
    if not isinstance(ds, h5py.Dataset):
        return None
    ts = implicit_clock(ds.shape[0], rate)
    if ds.ndim == 4 and ds.shape[-1] == 3:
        return Camera(cam, ts, "rgb8", rate, int(ds.shape[2]), int(ds.shape[1]),
                      frames=H5Frames(path, dpath))
    if ds.ndim == 2:  # JPEG rows zero-padded to one length, lengths in /compress_len
        lens = f.get("compress_len")
        lengths = _length_row(ds, np.asarray(lens) if isinstance(lens, h5py.Dataset) else None)
        frames = EncodedFrames(path, dpath, lengths)
        try:
            first = next(iter(frames.iter_frames()))
        except (OSError, StopIteration) as exc:
            findings.append(Finding("schema.camera", Severity.ERROR,
                                    f"{path}: /{dpath} holds no decodable image ({exc})",
                                    stream=cam))
            return None
        return Camera(cam, ts, "rgb8", rate, int(first.shape[1]), int(first.shape[0]),
                      frames=frames)
    findings.append(Finding("schema.camera", Severity.ERROR,
                            f"{path}: /{dpath} has shape {ds.shape}; ACT images are (T, H, W, 3) "
                            "or (T, bytes) compressed rows", stream=cam))
    return None


def _joint_stream(f: h5py.File, src: str, name: str, kind: str, unit: str, ts: np.ndarray,
                  names: list[str], rate: float) -> Stream | None:
    ds = f.get(src)
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 2 or ds.shape != (len(ts), len(names)):
        return None
    return Stream(name, kind, ts, np.asarray(ds[()], np.float64), names, unit, rate)


class AlohaAdapter(FileSource):
    name = "aloha"

    def detect(self, path: Path) -> bool:
        return hdf5_where(path, lambda f: "observations/qpos" in f and "action" in f)

    def read(self, path: Path, key: str | None, mapping: dict | None = None) -> ReadResult:
        m = resolve_mapping(self.name, mapping)
        src = m.get("_source", "the aloha defaults")
        findings: list[Finding] = []
        try:
            with h5py.File(path, "r") as f:
                qpos = np.asarray(f["observations/qpos"][()], dtype=np.float64)
                if qpos.ndim != 2:
                    raise ValueError(f"/observations/qpos has shape {qpos.shape}, not (T, D)")
                sim = bool(f.attrs.get("sim", False))
                rate = float(m.get("rate_hz", 50.0))
                findings.append(inferred("clock", f"{rate:g} Hz from sample index", src,
                                         stream="qpos"))
                model = str(m.get("robot_model", "aloha"))
                prof = resolve_profile(model)
                model = prof.id if prof is not None else model
                if prof is not None and len(prof.joints) == qpos.shape[1]:
                    names = rename(prof.joint_names, m)
                    findings.append(inferred("joint names", f"profile '{model}' order", src,
                                             stream="qpos"))
                else:
                    names = [f"joint_{i}" for i in range(qpos.shape[1])]
                    findings.append(inferred("joint names", "joint_<i>", "column positions "
                                             f"(profile '{model}' does not have "
                                             f"{qpos.shape[1]} joints)", stream="qpos"))
                ts = implicit_clock(qpos.shape[0], rate)
                streams = {"qpos": Stream("qpos", "joint_position", ts, qpos, names, "rad", rate)}
                for s in (_joint_stream(f, "observations/qvel", "qvel", "joint_velocity",
                                        "rad/s", ts, names, rate),
                          _joint_stream(f, "observations/effort", "effort", "joint_effort",
                                        "N*m", ts, names, rate)):
                    if s is not None:
                        streams[s.name] = s
                act = np.asarray(f["action"][()], dtype=np.float64)
                if act.ndim != 2:
                    raise ValueError(f"/action has shape {act.shape}, not (T, D)")
                a_names = names if act.shape[1] == len(names) else \
                    [f"a{i}" for i in range(act.shape[1])]
                streams["action"] = Stream("action", "action", implicit_clock(len(act), rate),
                                           act, a_names, "rad", rate, space="joint_position")
                if isinstance(f.get("base_action"), h5py.Dataset):  # Mobile ALOHA
                    b = np.asarray(f["base_action"][()], dtype=np.float64).reshape(
                        len(f["base_action"]), -1)
                    b_names = ["linear_vel", "angular_vel"] if b.shape[1] == 2 else \
                        [f"base_{i}" for i in range(b.shape[1])]
                    streams["base_action"] = Stream(
                        "base_action", "action", implicit_clock(len(b), rate), b, b_names,
                        "1", rate, space="other")
                cameras: dict[str, Camera] = {}
                imgs = f.get("observations/images")
                for cam in sorted(imgs) if isinstance(imgs, h5py.Group) else []:
                    c = _camera(path, f, cam, rate, findings)
                    if c is not None:
                        cameras[cam] = c
        except (OSError, KeyError, ValueError, IndexError, TypeError) as exc:
            return ReadResult(None, [unreadable(path, f"is not a readable ALOHA episode ({exc})")])
        given = {"collection_mode": "scripted" if sim else None}
        return self.result(path, key, m | {"robot_model": model}, given, streams, cameras,
                           findings)


ADAPTER = AlohaAdapter()
