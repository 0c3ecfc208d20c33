"""ROS 2 recordings in MCAP: ``sensor_msgs/JointState``, ``Imu``, ``Image`` and
``CompressedImage`` topics become streams and cameras, through the mapping file's ``topics``
table (by default every JointState topic is joint state and every image topic a camera; a
mapping can name a JointState topic as the action, or a ``Joy`` topic's axes as a stream).

Header stamps are the clock; a zero header stamp falls back to the message's log time, reported
as inferred. Only the message types above are decoded, so topics of other or custom types never
make a file unreadable. Camera frames are decoded lazily by reading the file again, topic by
topic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.adapters._common import inferred, rename, resolve_mapping, starts_with, unreadable
from pipelines.adapters.base import FileSource
from schemas.episode import Camera, Stream
from schemas.findings import Finding, Severity
from schemas.read_result import ReadResult

MAGIC = b"\x89MCAP0\r\n"
JOINT_STATE = "sensor_msgs/msg/JointState"
IMU = "sensor_msgs/msg/Imu"
JOY = "sensor_msgs/msg/Joy"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
_DECODED = {JOINT_STATE, IMU, JOY, IMAGE, COMPRESSED}


def _messages(path: Path, topics: Sequence[str] | None = None,
              types: set[str] = _DECODED) -> Iterator[tuple[str, str, int, Any]]:
    """(schema name, topic, log time, decoded message) for messages of ``types``."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    factory = DecoderFactory()
    decoders: dict[int, Any] = {}
    with open(path, "rb") as fh:
        reader = make_reader(fh)
        for schema, channel, message in reader.iter_messages(topics=topics):
            if schema is None or schema.name not in types:
                continue
            if channel.id not in decoders:
                decoders[channel.id] = factory.decoder_for(channel.message_encoding, schema)
            decode = decoders[channel.id]
            if decode is None:
                continue
            yield schema.name, channel.topic, int(message.log_time), decode(message.data)


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
    step = int(getattr(msg, "step", 0) or 0)
    channels = {"rgb8": 3, "bgr8": 3, "mono8": 1, "8uc1": 1, "rgba8": 4, "bgra8": 4}.get(enc)
    if channels is None:
        raise OSError(f"image encoding '{msg.encoding}' is not supported")
    step = step or w * channels
    if data.size < h * step:
        raise OSError(f"an Image holds {data.size} bytes, fewer than {h} rows of {step}")
    img = data[: h * step].reshape(h, step)[:, : w * channels].reshape(h, w, channels)
    if channels == 1:
        return np.repeat(img, 3, axis=2)
    img = img[..., :3]
    return img[..., ::-1].copy() if enc.startswith("bgr") else img.copy()


@dataclass
class McapFrames:
    path: Path
    topic: str
    compressed: bool

    def iter_frames(self) -> Iterator[np.ndarray]:
        for _schema, _topic, _log, msg in _messages(self.path, [self.topic],
                                                    {COMPRESSED if self.compressed else IMAGE}):
            yield _to_rgb(msg, self.compressed)

    def describe(self) -> str:
        return f"{self.path} topic {self.topic}"


def _sname(topic: str) -> str:
    s = re.sub(r"[^a-z0-9_.]", "_", topic.strip("/").lower()) or "topic"
    return s if s[0].isalpha() else f"t_{s}"


def _camera_finding(topic: str, why: str) -> Finding:
    return Finding("schema.camera", Severity.ERROR, f"topic {topic}: {why}", stream=_sname(topic))


@dataclass
class _Joint:
    names: list[str]
    t: list[int]
    pos: list[list[float]]
    vel: list[list[float]]
    eff: list[list[float]]
    dropped: int = 0


class McapAdapter(FileSource):
    name = "mcap"

    def detect(self, path: Path) -> bool:
        return starts_with(path, MAGIC)

    def read(self, path: Path, key: str | None, mapping: dict | None = None) -> ReadResult:
        m = resolve_mapping(self.name, mapping)
        topics_spec: dict[str, dict] = m.get("topics", {})
        findings: list[Finding] = []
        joint: dict[str, _Joint] = {}
        imu: dict[str, list] = {}
        joy: dict[str, list] = {}
        images: dict[str, dict[str, Any]] = {}
        fallback: set[str] = set()
        try:
            for schema, topic, log_time, msg in _messages(path):
                if topics_spec.get(topic, {}).get("skip"):
                    continue
                t, used_log = _stamp(msg, log_time)
                if used_log:
                    fallback.add(topic)
                if schema == JOINT_STATE:
                    names = [str(n) for n in msg.name]
                    d = joint.setdefault(topic, _Joint(names, [], [], [], []))
                    if names != d.names:
                        if sorted(names) != sorted(d.names):
                            d.dropped += 1
                            continue
                        order = [names.index(n) for n in d.names]
                    else:
                        order = None
                    d.t.append(t)
                    for field, rows in (("position", d.pos), ("velocity", d.vel),
                                        ("effort", d.eff)):
                        vals = list(getattr(msg, field))
                        if order is not None and len(vals) == len(names):
                            vals = [vals[i] for i in order]
                        rows.append(vals)
                elif schema == IMU:
                    o, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
                    imu.setdefault(topic, []).append(
                        [t, o.x, o.y, o.z, o.w, w.x, w.y, w.z, a.x, a.y, a.z])
                elif schema == JOY:
                    if topic in topics_spec:  # a Joy topic is a stream only when mapped
                        joy.setdefault(topic, []).append([t, *map(float, msg.axes)])
                else:  # Image or CompressedImage
                    img = images.setdefault(topic, {"t": [], "compressed": schema == COMPRESSED,
                                                    "first": msg})
                    img["t"].append(t)
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
            rate = float(m.get("rate_hz", 10.0))
            findings.append(inferred("rate_hz", rate, m.get("_source", "embodiq's defaults"),
                                     stream=topics_spec.get(topic, {}).get("stream")
                                     or _sname(topic)))
            return rate

        for topic, d in joint.items():
            spec = topics_spec.get(topic, {})
            if d.dropped:
                findings.append(Finding(
                    "schema.stream", Severity.ERROR,
                    f"topic {topic}: {d.dropped} JointState message(s) name other joints than "
                    f"the first ({', '.join(d.names[:4])}…) and were left out",
                    stream=spec.get("stream", _sname(topic))))
            ts = np.asarray(d.t, dtype=np.int64)
            rate = rate_of(ts, topic)
            base = spec.get("stream", _sname(topic))
            names = rename(d.names, m)
            kind = spec.get("kind", "joint_position")
            for rows, suffix, k, unit in ((d.pos, "", kind, "rad"),
                                          (d.vel, "_vel", "joint_velocity", "rad/s"),
                                          (d.eff, "_effort", "joint_effort", "N*m")):
                if not rows or any(len(r) != len(names) for r in rows):
                    continue  # JointState leaves unmeasured fields empty
                if suffix and kind == "action":
                    continue
                values = np.asarray(rows, dtype=np.float64)
                streams[base + suffix] = Stream(
                    base + suffix, k, ts, values, names, spec.get("unit", unit) if not suffix
                    else unit, rate,
                    space=spec.get("space", "joint_position") if k == "action" else None)
        for topic, rows in imu.items():
            arr = np.asarray(rows, dtype=np.float64)
            ts = arr[:, 0].astype(np.int64)
            sname = topics_spec.get(topic, {}).get("stream", _sname(topic))
            streams[sname] = Stream(sname, "imu", ts, arr[:, 1:],
                                    ["qx", "qy", "qz", "qw", "wx", "wy", "wz", "ax", "ay", "az"],
                                    "1", rate_of(ts, topic))
        for topic, rows in joy.items():
            spec = topics_spec[topic]
            width = {len(r) for r in rows}
            if len(width) != 1:
                findings.append(Finding("schema.stream", Severity.ERROR,
                                        f"topic {topic}: Joy messages change their number of "
                                        "axes", stream=spec.get("stream", _sname(topic))))
                continue
            arr = np.asarray(rows, dtype=np.float64)
            ts = arr[:, 0].astype(np.int64)
            sname = spec.get("stream", _sname(topic))
            kind = spec.get("kind", "other")
            names = spec.get("names") or [f"axis_{i}" for i in range(arr.shape[1] - 1)]
            streams[sname] = Stream(sname, kind, ts, arr[:, 1:], list(names),
                                    spec.get("unit", "1"), rate_of(ts, topic),
                                    space=spec.get("space", "other") if kind == "action"
                                    else None)
        cameras: dict[str, Camera] = {}
        for topic, img in images.items():
            spec = topics_spec.get(topic, {})
            ts = np.asarray(img["t"], dtype=np.int64)
            try:
                first = _to_rgb(img["first"], img["compressed"])
            except OSError as exc:
                findings.append(_camera_finding(topic, str(exc)))
                continue
            cname = spec.get("camera", _sname(topic))
            cameras[cname] = Camera(cname, ts, "video" if img["compressed"] else "rgb8",
                                    rate_of(ts, topic), first.shape[1], first.shape[0],
                                    frames=McapFrames(path, topic, img["compressed"]))
        return self.result(path, key, m, {}, streams, cameras, findings)


ADAPTER = McapAdapter()
