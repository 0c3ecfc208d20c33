"""The in-memory episode: what every reader and adapter produces and every check consumes.

Numeric streams are held as arrays (they must be, to be checked); camera frames never are: a
:class:`FrameSource` yields them one at a time from the HDF5 file, a video or an array, so memory
does not grow with the length of a video.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

STREAM_KINDS: tuple[str, ...] = (
    "joint_position",
    "joint_velocity",
    "joint_effort",
    "action",
    "ee_pose",
    "gripper",
    "imu",
    "force_torque",
    "tactile",
    "other",
)
#: Stream kinds whose columns are joints of the robot profile.
JOINT_KINDS: tuple[str, ...] = ("joint_position", "joint_velocity", "joint_effort")
ACTION_SPACES: tuple[str, ...] = ("joint_position", "joint_velocity", "ee_pose", "other")
CAMERA_ENCODINGS: tuple[str, ...] = ("rgb8", "depth16", "video")
COLLECTION_MODES: tuple[str, ...] = (
    "teleop_vr",
    "teleop_leader_follower",
    "teleop_exoskeleton",
    "teleop_gamepad",
    "kinesthetic",
    "mocap_retarget",
    "scripted",
    "policy_rollout",
)


@dataclass
class EpisodeMetadata:
    """Root attributes of a recording (recording format 1.0, "Root attributes")."""

    robot_model: str
    robot_serial: str
    operator_id: str
    collection_mode: str
    task: str
    site: str
    started_at: str
    robot_uid: str | None = None
    task_id: str | None = None
    scene: str | None = None
    success: bool | None = None
    #: Unknown root attributes, kept verbatim.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Stream:
    """One numeric time series: ``values[i]`` was sampled at ``timestamps[i]`` (ns)."""

    name: str
    kind: str
    timestamps: np.ndarray  # [T] int64, shared clock, ns
    values: np.ndarray  # [T, D] float32 or float64
    names: list[str]
    unit: str
    rate_hz: float
    space: str | None = None

    @property
    def n_samples(self) -> int:
        return int(self.timestamps.shape[0])

    @property
    def period_ns(self) -> float:
        return 1e9 / self.rate_hz

    @property
    def is_joint_space(self) -> bool:
        """True when the columns are joints of the profile (joint kinds and joint-space actions)."""
        if self.kind in JOINT_KINDS:
            return True
        return self.kind == "action" and self.space in ("joint_position", "joint_velocity")


@runtime_checkable
class FrameSource(Protocol):
    """Lazy access to a camera's frames, in order, one ``[H, W, 3]`` uint8 or ``[H, W]`` uint16
    array at a time. Opening and decoding errors surface as exceptions from :meth:`iter_frames`."""

    def iter_frames(self) -> Iterator[np.ndarray]: ...

    def describe(self) -> str:
        """Where the frames come from, for messages (a file and dataset path)."""
        ...


@dataclass
class ArrayFrames:
    """Frames already in memory (generators, tests, small adapters)."""

    frames: np.ndarray

    def iter_frames(self) -> Iterator[np.ndarray]:
        yield from self.frames

    def describe(self) -> str:
        return f"in-memory array {tuple(self.frames.shape)}"


@dataclass
class Camera:
    name: str
    timestamps: np.ndarray  # [N] int64
    encoding: str  # rgb8 | depth16 | video
    rate_hz: float
    width: int
    height: int
    frames: FrameSource | None = None
    #: For ``encoding == "video"``: the sidecar file (absolute path once read).
    video_path: Path | None = None
    mount: str | None = None
    intrinsics: np.ndarray | None = None
    extrinsics: np.ndarray | None = None
    #: For frames stored in the file: ``"rgb8"`` or ``"depth16"``; for video, ``"rgb8"``.
    pixel_format: str = "rgb8"

    @property
    def n_frames(self) -> int:
        return int(self.timestamps.shape[0])

    @property
    def is_depth(self) -> bool:
        return self.encoding == "depth16" or self.pixel_format == "depth16"

    @property
    def period_ns(self) -> float:
        return 1e9 / self.rate_hz


@dataclass(frozen=True)
class Event:
    t_start: int
    t_end: int
    label: str


@dataclass
class SourceInfo:
    """Where an episode came from; ``sha256`` identifies the bytes that were read."""

    path: Path
    sha256: str
    size: int
    layout: str = "embodiq"
    #: Extra files the episode was read from (sidecar videos), path -> sha256.
    sidecars: dict[str, str] = field(default_factory=dict)
    #: Which episode inside a multi-episode source (``demo_3``, ``episode_000007``); None for one.
    episode_key: str | None = None


@dataclass
class Episode:
    metadata: EpisodeMetadata
    streams: dict[str, Stream] = field(default_factory=dict)
    cameras: dict[str, Camera] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    source: SourceInfo | None = None

    def streams_of_kind(self, kind: str) -> list[Stream]:
        return [s for s in self.streams.values() if s.kind == kind]

    @property
    def primary_state(self) -> Stream | None:
        """The reference ``joint_position`` stream (the first one): the episode's timeline."""
        states = self.streams_of_kind("joint_position")
        return states[0] if states else None

    @property
    def primary_action(self) -> Stream | None:
        actions = self.streams_of_kind("action")
        return actions[0] if actions else None

    def span_ns(self) -> tuple[int, int] | None:
        """First and last timestamp of the reference stream."""
        ref = self.primary_state
        if ref is None or ref.n_samples == 0:
            return None
        return int(ref.timestamps[0]), int(ref.timestamps[-1])

    @property
    def duration_s(self) -> float:
        span = self.span_ns()
        return 0.0 if span is None else (span[1] - span[0]) / 1e9
