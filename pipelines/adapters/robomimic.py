"""robomimic / robosuite demonstration files: ``data/demo_N/{obs/*, states, actions, …}``,
one episode per demo. The clock is the simulation time in ``states[:, 0]`` when it increases,
else the environment's control frequency (``env_args``), else the mapping's ``rate_hz``,
reported as inferred. ``mask/<filter>`` lists (robomimic's train/valid splits) are kept as the
episode's ``filter_keys``.

Raw robosuite demonstrations carry no joint positions outside ``states``, MuJoCo's flattened
state ``[time, qpos…, qvel…]``. robosuite builds ``qpos`` with the robot's joints first (then
gripper fingers, then objects), so with the robot model named by the file (``env_info``
``robots``, or the prefix of ``env``: ``SawyerLift`` → Sawyer) and resolved to a robot profile,
the joint positions are the first columns of ``qpos`` in the profile's order."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pipelines.adapters._common import implicit_clock, inferred, rename, resolve_mapping, unreadable
from pipelines.adapters.base import FileSource
from pipelines.adapters.hdf5 import hdf5_where
from pipelines.adapters.profiles import resolve_profile
from robots.profile import JointSpec, RobotProfile
from schemas.episode import Camera, Stream
from schemas.findings import Finding, Severity
from schemas.frame_sources import H5Frames
from schemas.limits import rate_problem
from schemas.names import name_problem
from schemas.read_result import ReadResult

#: dataset name pattern -> (stream kind, unit); first match wins
_KINDS = [
    (r"(^|/)(robot0_)?joint_pos(itions?)?$", "joint_position", "rad"),
    (r"(^|/)(robot0_)?joint_vel(ocities)?$", "joint_velocity", "rad/s"),
    (r"(^|/)(robot0_)?joint_torques$", "joint_effort", "N*m"),
    (r"^actions$", "action", "1"),
    (r"gripper", "gripper", "1"),
    (r"eef_pos|eef_quat|dpos|dquat", "ee_pose", "m"),
]
#: robosuite 0.1's per-step action information (outside ``obs/``): what the teleoperation
#: commanded, not what the robot measured -> (stream kind, unit, action space)
_ACTION_INFOS = {
    "joint_velocities": ("action", "rad/s", "joint_velocity"),
    "right_dpos": ("action", "m", "ee"), "left_dpos": ("action", "m", "ee"),
    "right_dquat": ("action", "1", "ee"), "left_dquat": ("action", "1", "ee"),
    "gripper_actuations": ("action", "1", "other"),
}
#: the stream that is the episode's primary action when several are: robomimic's actions,
#: else robosuite 0.1's joint-space command
_PRIMARY_ACTIONS = ("actions", "joint_velocities")
#: robosuite controllers whose actions are end-effector deltas, not joint commands
_EE_CONTROLLERS = ("OSC", "IK")
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


def _env_json(attrs: h5py.AttributeManager) -> dict[str, Any]:
    """robosuite's ``env_info`` or robomimic's ``env_args`` (its ``env_kwargs``), parsed."""
    for key in ("env_info", "env_args"):
        try:
            env = json.loads(_text(attrs.get(key)) or "null")
        except ValueError:
            continue
        if isinstance(env, dict):
            kwargs = env.get("env_kwargs")
            return {**env, **kwargs} if isinstance(kwargs, dict) else env
    return {}


def _robot_name(env: dict[str, Any], env_name: str | None) -> tuple[str, str] | None:
    """The robot model the file names, and where: ``robots`` of the environment's JSON (one
    robot), else the capitalised prefix of a robosuite 0.1 environment name (``SawyerLift``)."""
    robots = env.get("robots")
    if isinstance(robots, list) and len(robots) == 1:
        robots = robots[0]
    if isinstance(robots, str) and robots:
        return robots, f"the file's environment robots '{robots}'"
    m = re.match(r"([A-Z][a-z0-9]+)[A-Z]", env_name or "")
    if m:
        return m.group(1), f"the prefix of the file's env '{env_name}'"
    return None


def _robot_joints(prof: RobotProfile) -> list[JointSpec]:
    """The joints robosuite keeps in its robot model, in the profile's order: the leading run
    of rotational joints. Grippers are attached per environment (and are absent in some, e.g.
    Wipe), so a profile's finger joints are not assumed to follow in ``qpos``."""
    out: list[JointSpec] = []
    for j in prof.joints:
        if j.unit != "rad":
            break
        out.append(j)
    return out


def _sim_clock(states: np.ndarray) -> np.ndarray | None:
    """``states[:, 0]`` (simulation time, s) as ns when it is finite and increases."""
    if states.ndim != 2 or states.shape[0] < 2 or states.shape[1] < 1:
        return None
    t = states[:, 0].astype(np.float64)
    if not np.all(np.isfinite(t)) or not np.all(np.diff(t) > 0):
        return None
    return np.round(t * 1e9).astype(np.int64)


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


def _has_demos(f: h5py.File) -> bool:
    data = f.get("data")
    return isinstance(data, h5py.Group) and any(k.startswith("demo") for k in data)


class RobomimicAdapter(FileSource):
    name = "robomimic"

    def detect(self, path: Path) -> bool:
        return hdf5_where(path, _has_demos)

    def episode_keys(self, path: Path) -> Sequence[str | None]:
        with h5py.File(path, "r") as f:
            return sorted((k for k in f["data"] if k.startswith("demo")), key=_demo_number)

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
                env = _env_json(data.attrs)
                env_name = _text(data.attrs.get("env")) or (
                    str(env["env_name"]) if env.get("env_name") else None)
                states_ds = demo.get("states")
                states = (np.asarray(states_ds[()], dtype=np.float64)
                          if isinstance(states_ds, h5py.Dataset) and states_ds.ndim == 2
                          else None)
                sim_clock = _sim_clock(states) if states is not None else None
                rate = _control_freq(data.attrs)
                if rate is not None and (why := rate_problem(rate)) is not None:
                    return ReadResult(None, [Finding(
                        "schema.stream", Severity.ERROR,
                        f"{path}: /data attr env_args declares control_freq {why}")])
                if sim_clock is not None:
                    if not rate:  # the samples' mean rate
                        span_s = (int(sim_clock[-1]) - int(sim_clock[0])) / 1e9
                        rate = round((len(sim_clock) - 1) / span_s, 6)
                    findings.append(inferred("clock", f"simulation time states[:, 0] "
                                             f"({rate:g} Hz nominal)", "the demo's states"))
                elif not rate:
                    rate = float(m.get("rate_hz", 20.0))
                    why = (" (the simulation time in states[:, 0] does not increase)"
                           if states is not None and len(states) > 1 else "")
                    findings.append(inferred("clock", f"{rate:g} Hz control frequency",
                                             f"{src}{why}"))

                def clock(n: int) -> np.ndarray:
                    if sim_clock is not None and n == len(sim_clock):
                        return sim_clock
                    return implicit_clock(n, rate)

                prof, robot_from = self._robot(m, src, env, env_name)
                if prof is not None:
                    given["robot_model"] = prof.id
                    findings.append(inferred("robot_model", prof.id,
                                             f"{robot_from}, a name of that robot profile"))
                arm = _robot_joints(prof) if prof is not None else []
                started = _recorded_at(data.attrs)
                if started:
                    findings.append(inferred("started_at", started,
                                             "the file's date and time attributes"))
                    given["started_at"] = started
                filters = _filter_keys(f, key) if key is not None else []
                if filters:
                    given["filter_keys"] = ",".join(filters)
                if "num_samples" in demo.attrs:
                    given["num_samples"] = int(demo.attrs["num_samples"])
                controller = env.get("controller_configs")
                ctype = str(controller.get("type", "")) if isinstance(controller, dict) else ""
                action_space = "ee" if ctype.upper().startswith(_EE_CONTROLLERS) else "other"
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
                        cameras[cname] = Camera(cname, clock(ds.shape[0]), "rgb8",
                                                rate, int(ds.shape[2]), int(ds.shape[1]),
                                                frames=H5Frames(path, f"data/{key}/{dname}"))
                        continue
                    if ds.ndim != 2 or ds.shape[1] == 0 or ds.shape[0] == 0:
                        continue  # zero-width datasets (unused arms) are tolerated
                    s_spec = spec.get(dname, {})
                    kind, unit = s_spec.get("kind"), s_spec.get("unit")
                    space = s_spec.get("space")
                    if kind is None and dname in _ACTION_INFOS:
                        kind, unit, space = _ACTION_INFOS[dname]
                    if kind is None:
                        for pat, k, u in _KINDS:
                            if re.search(pat, dname):
                                kind, unit = k, u
                                break
                    kind, unit = kind or "other", unit or "1"
                    vals = states if dname == "states" and states is not None else np.asarray(
                        ds[()], dtype=np.float64)
                    if "columns" in s_spec:
                        a, b = s_spec["columns"]
                        vals = vals[:, a:b]
                    sname = re.sub(r"[^a-z0-9_.]", "_", s_spec.get(
                        "name", dname.removeprefix("obs/")).lower())
                    if kind == "action":
                        space = space or action_space
                    stream = Stream(sname, kind, clock(len(vals)), vals, [], unit, rate,
                                    space=space if kind == "action" else None)
                    names = s_spec.get("names")
                    if not names:
                        names = [f"{sname}_{i}" for i in range(vals.shape[1])]
                        if stream.is_joint_space:
                            names = self._joint_names(stream, names, arm, prof, findings)
                    stream.names = rename(names, m)
                    streams[sname] = stream
                primary = next((n for n in _PRIMARY_ACTIONS if n in streams
                                and streams[n].kind == "action"), None)
                if primary is not None:
                    streams = {primary: streams[primary],
                               **{k: v for k, v in streams.items() if k != primary}}
                if (prof is not None and states is not None and arm
                        and not any(s.kind == "joint_position" for s in streams.values())):
                    self._recover(states, arm, prof, clock, rate, m, streams, findings)
        except (OSError, KeyError, ValueError, TypeError) as exc:
            return ReadResult(None, [unreadable(path, f"{key} is not a readable robomimic demo "
                                                      f"({exc})")])
        if not m.get("task") and env_name:
            given["task"] = f"robosuite {env_name}"
        return self.result(path, key, m, given, streams, cameras, findings)

    @staticmethod
    def _robot(m: dict, src: str, env: dict[str, Any],
               env_name: str | None) -> tuple[RobotProfile | None, str]:
        """The robot profile of the demo: the mapping's ``robot_model``, else the robot the
        file names, resolved through the profiles' ids and aliases (a recording's name for
        its robot, such as robosuite's ``Panda``, is an alias of the profile)."""
        if m.get("robot_model"):
            return (resolve_profile(str(m["robot_model"])),
                    f"the mapping's robot_model '{m['robot_model']}' ({src})")
        found = _robot_name(env, env_name)
        if found is None:
            return None, ""
        return resolve_profile(found[0]), found[1]

    @staticmethod
    def _joint_names(stream: Stream, fallback: list[str], arm: list[JointSpec],
                     prof: RobotProfile | None, findings: list[Finding]) -> list[str]:
        """Columns of a joint-space dataset named after the robot's joints when they are as
        many (robosuite records its robot's joints in model order); the joints robosuite
        commands exclude a head joint, which it never drives."""
        width = len(fallback)
        commanded = [j for j in arm if not j.name.startswith("head")]
        for joints, which in ((arm, "its joints"),
                              (commanded, "its joints but the head, which robosuite does not "
                                          "drive")):
            if joints and width == len(joints) and prof is not None:
                names = [j.name for j in joints]
                findings.append(inferred(
                    "joint names", ", ".join(names),
                    f"robot profile '{prof.id}' ({which}, in order, as many as the columns)",
                    stream=stream.name))
                return names
        findings.append(inferred("joint names", f"{stream.name}_<i>",
                                 "column positions (name them in the mapping's streams table)",
                                 stream=stream.name))
        return fallback

    @staticmethod
    def _recover(states: np.ndarray, arm: list[JointSpec], prof: RobotProfile, clock: Any,
                 rate: float, m: dict, streams: dict[str, Stream],
                 findings: list[Finding]) -> None:
        """Joint positions from the simulator state: ``qpos`` starts with the robot's joints in
        the profile's order, so they are ``states[:, 1:1+n]``. ``qpos`` is at least half of
        the state after the time (``nq >= nv``), so ``n`` columns are known to be ``qpos``
        only when ``2n`` fit; otherwise nothing is recovered."""
        n = len(arm)
        if 1 + 2 * n > states.shape[1] or len(states) == 0:
            return
        name = "joint_position"
        while name in streams:
            name += "_"
        streams[name] = Stream(name, "joint_position", clock(len(states)),
                               np.ascontiguousarray(states[:, 1:1 + n]),
                               rename([j.name for j in arm], m), "rad", rate)
        findings.append(inferred(
            "joint positions", f"states[:, 1:{1 + n}] as {', '.join(j.name for j in arm)}",
            f"the simulator state, whose qpos begins with robot profile '{prof.id}''s joints",
            stream=name))


ADAPTER = RobomimicAdapter()
