"""Robot profiles: the joint names, limits and cameras a recording is judged against.

Profiles are TOML data files. The shipped ones live in ``robots/profiles/``; users add their own
by dropping ``<id>.toml`` into a folder named in ``EMBODIQ_ROBOTS`` (``os.pathsep``-separated) or
into ``<store>/robots/`` — no code changes. A user file with the id of a shipped profile wins.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BUILTIN_DIR = Path(__file__).parent / "profiles"
ROBOT_KINDS = ("humanoid", "arm", "bimanual", "mobile_manipulator")
#: The most joints a profile may list: a humanoid with two dexterous hands has about 70, and
#: every stream check of an episode goes over its profile's joints.
MAX_JOINTS = 4096


class ProfileError(ValueError):
    """A robot profile file is missing or malformed; the message names the file and key."""


@dataclass(frozen=True)
class JointSpec:
    name: str
    lower: float
    upper: float
    velocity: float  # rad/s or m/s; inf when the source gives none
    effort: float  # N*m or N; inf when the source gives none
    unit: str = "rad"  # "rad" (revolute) or "m" (prismatic) or "1" (normalised)


@dataclass(frozen=True)
class CameraSpec:
    name: str
    mount: str | None = None
    encoding: str | None = None


@dataclass(frozen=True)
class UidSegments:
    country: str
    enterprise: str
    product_model: str


@dataclass(frozen=True)
class RobotProfile:
    id: str
    manufacturer: str
    model_name: str
    kind: str
    joints: tuple[JointSpec, ...]
    cameras: tuple[CameraSpec, ...] = ()
    uid: UidSegments | None = None
    source: str = ""
    #: Other names recordings use for this model (LeRobot ``robot_type`` strings, spellings).
    aliases: tuple[str, ...] = ()
    licence: str = ""
    path: Path | None = field(default=None, compare=False)

    @property
    def joint_names(self) -> list[str]:
        return [j.name for j in self.joints]

    def joint(self, name: str) -> JointSpec | None:
        return self._index().get(name)

    def _index(self) -> dict[str, JointSpec]:
        cache = self.__dict__.get("_joint_index")
        if cache is None:
            cache = {j.name: j for j in self.joints}
            object.__setattr__(self, "_joint_index", cache)
        return cache

    def limits_for(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lower, upper and velocity limits (float64) for ``names``; NaN for unknown joints."""
        lo = np.full(len(names), np.nan)
        hi = np.full(len(names), np.nan)
        vel = np.full(len(names), np.nan)
        for i, n in enumerate(names):
            j = self.joint(n)
            if j is not None:
                lo[i], hi[i], vel[i] = j.lower, j.upper, j.velocity
        return lo, hi, vel

    def efforts_for(self, names: Sequence[str]) -> np.ndarray:
        out = np.full(len(names), np.nan)
        for i, n in enumerate(names):
            j = self.joint(n)
            if j is not None:
                out[i] = j.effort
        return out


def _req(d: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise ProfileError(f"{where}: missing key '{key}'")
    v = d[key]
    if not isinstance(v, typ):
        raise ProfileError(f"{where}: key '{key}' has the wrong type ({type(v).__name__})")
    return v


def parse_profile(data: dict[str, Any], where: str) -> RobotProfile:
    """Build a profile from parsed TOML; ``where`` (usually the file path) prefixes errors."""
    pid = _req(data, "id", str, where)
    kind = _req(data, "kind", str, where)
    if kind not in ROBOT_KINDS:
        raise ProfileError(f"{where}: key 'kind' must be one of {', '.join(ROBOT_KINDS)}")
    joints_raw = _req(data, "joints", list, where)
    if not joints_raw:
        raise ProfileError(f"{where}: key 'joints' is empty")
    if len(joints_raw) > MAX_JOINTS:
        raise ProfileError(f"{where}: {len(joints_raw)} joints; a profile holds at most "
                           f"{MAX_JOINTS} (the most of any robot is in the tens)")
    joints = []
    seen: set[str] = set()
    for i, j in enumerate(joints_raw):
        w = f"{where}: joints[{i}]"
        name = _req(j, "name", str, w)
        if name in seen:
            raise ProfileError(f"{w}: duplicate joint name '{name}'")
        seen.add(name)
        lower = float(_req(j, "lower", (int, float), w))
        upper = float(_req(j, "upper", (int, float), w))
        if not lower <= upper:
            raise ProfileError(f"{w}: 'lower' ({lower}) is above 'upper' ({upper})")
        joints.append(
            JointSpec(
                name=name,
                lower=lower,
                upper=upper,
                velocity=float(j.get("velocity", float("inf"))),
                effort=float(j.get("effort", float("inf"))),
                unit=str(j.get("unit", "rad")),
            )
        )
    cams = tuple(
        CameraSpec(name=_req(c, "name", str, f"{where}: cameras[{i}]"), mount=c.get("mount"),
                   encoding=c.get("encoding"))
        for i, c in enumerate(data.get("cameras", []))
    )
    uid = None
    if "uid" in data:
        u = data["uid"]
        uid = UidSegments(
            country=_req(u, "country", str, f"{where}: uid"),
            enterprise=_req(u, "enterprise", str, f"{where}: uid"),
            product_model=_req(u, "product_model", str, f"{where}: uid"),
        )
        _check_segments(uid, where)
    return RobotProfile(
        id=pid,
        manufacturer=str(data.get("manufacturer", "")),
        model_name=str(data.get("model_name", pid)),
        kind=kind,
        joints=tuple(joints),
        cameras=cams,
        uid=uid,
        source=str(data.get("source", "")),
        aliases=_aliases(data, where),
        licence=str(data.get("licence", "")),
    )


def alias_key(name: str) -> str:
    """How names are compared with aliases: case, spaces, '-' and '_' do not matter."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _aliases(data: dict[str, Any], where: str) -> tuple[str, ...]:
    raw = data.get("aliases", [])
    if not isinstance(raw, list) or not all(isinstance(a, str) and a.strip() for a in raw):
        raise ProfileError(f"{where}: key 'aliases' must be a list of non-empty strings")
    return tuple(raw)


def _check_segments(uid: UidSegments, where: str) -> None:
    """The ``[uid]`` segments must make valid codes (checked with a placeholder serial)."""
    from robots.uid import UidError, compose

    try:
        compose(uid, "1")
    except UidError as exc:
        raise ProfileError(f"{where}: [uid] {exc}") from None


def model_code(uid: UidSegments) -> str:
    """The 12-character model part of every code issued under these segments."""
    return f"{uid.country}{uid.enterprise}{uid.product_model}".upper()


def load_profile_file(path: Path) -> RobotProfile:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc})") from exc
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read ({exc.strerror})") from exc
    prof = parse_profile(data, str(path))
    object.__setattr__(prof, "path", Path(path))
    return prof


def search_dirs(extra: Iterable[Path] = ()) -> list[Path]:
    """Folders searched for profiles, highest precedence first."""
    dirs = [Path(p) for p in extra]
    env = os.environ.get("EMBODIQ_ROBOTS")
    if env:
        dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs.append(BUILTIN_DIR)
    return dirs


class ProfileCatalog:
    """All profiles visible from a set of folders, loaded on first use."""

    def __init__(self, extra_dirs: Iterable[Path] = ()) -> None:
        self.dirs = search_dirs(extra_dirs)
        self._cache: dict[str, RobotProfile | None] = {}
        self._validated = False
        self._aliases: dict[str, str] = {}

    def resolve(self, name: str) -> RobotProfile | None:
        """The profile whose id or one of whose aliases is ``name`` (e.g. a LeRobot
        ``robot_type`` such as ``so100_follower``); None when no profile claims it."""
        prof = self.get(name)
        if prof is not None:
            return prof
        pid = self._aliases.get(alias_key(name or ""))
        return self._load(pid) if pid else None

    def validate(self) -> None:
        """Refuse a profile set in which two models claim the same model code.

        Codes are the robot's identity: if two profiles shared country, enterprise and product
        model, two different robots with equal serials would get one code. Raises
        :class:`ProfileError` naming both files.
        """
        claimed: dict[str, RobotProfile] = {}
        self._aliases = {}
        for pid in self.ids():
            prof = self._load(pid)
            if prof is None:
                continue
            for alias in prof.aliases:
                key = alias_key(alias)
                other_id = self._aliases.get(key)
                if other_id is not None and other_id != prof.id:
                    raise ProfileError(
                        f"{prof.path}: alias '{alias}' is already an alias of profile "
                        f"'{other_id}' in {self._load(other_id).path}")  # type: ignore[union-attr]
                self._aliases[key] = prof.id
            if prof.uid is None:
                continue
            code = model_code(prof.uid)
            other = claimed.get(code)
            if other is not None:
                raise ProfileError(
                    f"{prof.path}: model code {code} ([uid] country, enterprise, product_model) "
                    f"is already claimed by profile '{other.id}' in {other.path}; give each "
                    "robot model its own product_model")
            claimed[code] = prof
        self._validated = True

    def _load(self, robot_id: str) -> RobotProfile | None:
        if robot_id not in self._cache:
            p = self._find(robot_id) if robot_id and "/" not in robot_id else None
            self._cache[robot_id] = load_profile_file(p) if p else None
        return self._cache[robot_id]

    def _find(self, robot_id: str) -> Path | None:
        for d in self.dirs:
            p = d / f"{robot_id}.toml"
            if p.is_file():
                return p
        return None

    def get(self, robot_id: str) -> RobotProfile | None:
        """The profile for ``robot_id``, or None when no folder has one.

        The first call validates the whole visible set (see :meth:`validate`)."""
        if not self._validated:
            self.validate()
        return self._load(robot_id)

    def ids(self) -> list[str]:
        out: set[str] = set()
        for d in self.dirs:
            if d.is_dir():
                out.update(p.stem for p in d.glob("*.toml"))
        return sorted(out)


def get_profile(robot_id: str, extra_dirs: Iterable[Path] = ()) -> RobotProfile | None:
    return ProfileCatalog(extra_dirs).get(robot_id)
