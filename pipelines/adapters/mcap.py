"""ROS 2 recordings in MCAP: ``sensor_msgs/JointState``, ``Imu``, ``Image`` and
``CompressedImage`` topics become streams and cameras, through the mapping file's ``topics``
table (by default every JointState topic is joint state and every image topic a camera).

Header stamps are the clock; a zero header stamp falls back to the message's log time, reported
as inferred. Camera frames are decoded lazily by reading the file again, topic by topic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.adapters._common import build_metadata, inferred, rename, resolve_mapping, unreadable
from schemas.episode import Camera, Episode, SourceInfo, Stream
from schemas.read_result import ReadResult

MAGIC = b"\x89MCAP0\r\n"
_IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")


def _messages(path: Path, topics: Sequence[str] | None = None) -> Iterator[tuple[Any, ...]]:
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    with open(path, "rb") as fh:
        reader = make_reader(fh, decoder_factories=[DecoderFactory()])
        yield from reader.iter_decoded_messages(topics=topics)


def _stamp(msg: Any, log_time: int) -> tuple[int, bool]:
    h = getattr(msg, "header", None)
    if h is not None:
        t = int(h.stamp.sec) * 1_000_000_000 + int(h.stamp.nanosec)
        if t:
            return t, False
    return int(log_time), True


def _to_rgb(msg: Any, compressed: bool) -> np.ndarray:
    import cv2

    data = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if compressed:
        img = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if img is None:
            raise OSError("a CompressedImage does not decode")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    h, w, enc = int(msg.height), int(msg.width), str(msg.encoding).lower()
    if enc in ("rgb8", "bgr8"):
        img = data[: h * w * 3].reshape(h, w, 3)
        return img[..., ::-1].copy() if enc == "bgr8" else img.copy()
    if enc in ("mono8", "8uc1"):
        return np.repeat(data[: h * w].reshape(h, w, 1), 3, axis=2)
    if enc in ("rgba8", "bgra8"):
        img = data[: h * w * 4].reshape(h, w, 4)[..., :3]
        return img[..., ::-1].copy() if enc == "bgra8" else img.copy()
    raise OSError(f"image encoding '{msg.encoding}' is not supported")


@dataclass
class McapFrames:
    path: Path
    topic: str
    compressed: bool

    def iter_frames(self) -> Iterator[np.ndarray]:
        for _schema, _channel, _message, msg in _messages(self.path, [self.topic]):
            yield _to_rgb(msg, self.compressed)

    def describe(self) -> str:
        return f"{self.path} topic {self.topic}"


def _sname(topic: str) -> str:
    s = re.sub(r"[^a-z0-9_.]", "_", topic.strip("/").lower()) or "topic"
    return s if s[0].isalpha() else f"t_{s}"


class McapAdapter:
    name = "mcap"

    def detect(self, path: Path) -> bool:
        if not path.is_file():
            return False
        try:
            with open(path, "rb") as fh:
                return fh.read(8) == MAGIC
        except OSError:
            return False

    def episode_keys(self, path: Path) -> Sequence[str | None]:
        return [None]

    def source_files(self, path: Path, key: str | None) -> list[Path]:
        return [path]

    def read(self, path: Path, key: str | None, mapping: dict | None = None) -> ReadResult:
        m = resolve_mapping(self.name, mapping)
        topics_spec: dict[str, dict] = m.get("topics", {})
        findings = []
        joint: dict[str, dict[str, list]] = {}
        imu: dict[str, list] = {}
        images: dict[str, dict[str, Any]] = {}
        fallback: set[str] = set()
        try:
            for schema, channel, message, msg in _messages(path):
                t, used_log = _stamp(msg, message.log_time)
                topic = channel.topic
                if used_log:
                    fallback.add(topic)
                if schema.name == "sensor_msgs/msg/JointState":
                    d = joint.setdefault(topic, {"t": [], "pos": [], "vel": [], "eff": [],
                                                 "names": list(msg.name)})
                    d["t"].append(t)
                    d["pos"].append(list(msg.position))
                    d["vel"].append(list(msg.velocity))
                    d["eff"].append(list(msg.effort))
                elif schema.name == "sensor_msgs/msg/Imu":
                    o, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
                    imu.setdefault(topic, []).append(
                        [t, o.x, o.y, o.z, o.w, w.x, w.y, w.z, a.x, a.y, a.z])
                elif schema.name in _IMAGE_TYPES:
                    d = images.setdefault(topic, {"t": [], "compressed": schema.name.endswith(
                        "CompressedImage"), "first": msg})
                    d["t"].append(t)
        except Exception as exc:  # the mcap reader raises many types on corrupt files
            return ReadResult(None, [unreadable(path, f"is not a readable MCAP file ({exc})")])
        for topic in sorted(fallback):
            findings.append(inferred("clock", "log time (the header stamp is zero)",
                                     "the MCAP message log times", stream=_sname(topic)))
        streams: dict[str, Stream] = {}

        def rate_of(ts: np.ndarray, topic: str) -> float:
            spec_rate = topics_spec.get(topic, {}).get("rate_hz")
            if spec_rate:
                return float(spec_rate)
            if len(ts) > 1 and ts[-1] > ts[0]:
                return float((len(ts) - 1) * 1e9 / (ts[-1] - ts[0]))
            findings.append(inferred("rate_hz", m.get("rate_hz", 10.0), m.get("_source", ""),
                                     stream=_sname(topic)))
            return float(m.get("rate_hz", 10.0))

        for topic, d in joint.items():
            spec = topics_spec.get(topic, {})
            ts = np.asarray(d["t"], dtype=np.int64)
            rate = rate_of(ts, topic)
            base = spec.get("stream", _sname(topic))
            names = rename(d["names"], m)
            kind = spec.get("kind", "joint_position")
            for field, suffix, k, unit in (("pos", "", kind, "rad"),
                                           ("vel", "_vel", "joint_velocity", "rad/s"),
                                           ("eff", "_effort", "joint_effort", "N*m")):
                rows = d[field]
                if not rows or any(len(r) != len(names) for r in rows):
                    continue
                vals = np.asarray(rows, dtype=np.float64)
                if field != "pos" and kind == "action":
                    continue
                streams[base + suffix] = Stream(
                    base + suffix, k, ts, vals, names, unit, rate,
                    space=spec.get("space", "joint_position") if k == "action" else None)
        for topic, rows in imu.items():
            arr = np.asarray(rows, dtype=np.float64)
            ts = arr[:, 0].astype(np.int64)
            sname = topics_spec.get(topic, {}).get("stream", _sname(topic))
            streams[sname] = Stream(sname, "imu", ts, arr[:, 1:],
                                    ["qx", "qy", "qz", "qw", "wx", "wy", "wz", "ax", "ay", "az"],
                                    "1", rate_of(ts, topic))
        cameras: dict[str, Camera] = {}
        for topic, d in images.items():
            spec = topics_spec.get(topic, {})
            if spec.get("skip"):
                continue
            ts = np.asarray(d["t"], dtype=np.int64)
            try:
                first = _to_rgb(d["first"], d["compressed"])
            except OSError as exc:
                findings.append(camera_finding(topic, str(exc)))
                continue
            cname = spec.get("camera", _sname(topic))
            cameras[cname] = Camera(cname, ts, "video" if d["compressed"] else "rgb8",
                                    rate_of(ts, topic), first.shape[1], first.shape[0],
                                    frames=McapFrames(path, topic, d["compressed"]))
        md = build_metadata(self.name, m, {}, findings)
        from schemas.recording import sha256_file

        ep = Episode(md, streams, cameras, source=SourceInfo(
            path.resolve(), sha256_file(path), path.stat().st_size, self.name))
        return ReadResult(ep, findings)


def camera_finding(topic: str, why: str):
    from schemas.findings import Finding, Severity

    return Finding("schema.camera", Severity.ERROR, f"topic {topic}: {why}", stream=_sname(topic))


ADAPTER = McapAdapter()
