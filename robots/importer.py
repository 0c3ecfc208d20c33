"""Robot profiles from the robot's own description: URDF or MuJoCo MJCF.

A profile's limits must be the manufacturer's, not numbers typed by hand, so the shipped
profiles are generated here from the description files and a test re-reads those files. The
importer keeps every actuated joint in the file's order: URDF ``revolute``, ``continuous`` and
``prismatic`` joints that do not mimic another joint; MJCF ``hinge`` and ``slide`` joints (free
and ball joints are not joint-space channels). Limits the file does not give stay unset
(infinite) rather than invented; the velocity and effort checks then skip that joint.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from robots.profile import ROBOT_KINDS, JointSpec, ProfileError, parse_profile


@dataclass(frozen=True)
class Description:
    """What a URDF or MJCF says about a robot's joints."""

    name: str
    format: str  # "urdf" or "mjcf"
    joints: tuple[JointSpec, ...]
    #: What the reader left out and why (e.g. an include file that is not there).
    notes: tuple[str, ...] = ()
    path: Path | None = None


def _float(text: str | None, where: str) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        v = float(text)
    except ValueError:
        raise ProfileError(f"{where}: '{text}' is not a number") from None
    if math.isnan(v):
        raise ProfileError(f"{where}: NaN is not a limit")
    return v


#: The most bytes of XML a description may hold, its includes counted: robot descriptions
#: are tens of kilobytes (meshes are files of their own), and parsing takes memory and time
#: in proportion (a 33 MB URDF took 12 s and 570 MB).
MAX_DESCRIPTION_BYTES = 8 * 2**20


@dataclass
class _Budget:
    """What reading one description may still parse: its bytes and its includes."""

    bytes_left: int = MAX_DESCRIPTION_BYTES
    includes_left: int = 0

    def take(self, path: Path) -> None:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ProfileError(f"{path}: cannot be read ({exc.strerror})") from None
        self.bytes_left -= size
        if self.bytes_left < 0:
            raise ProfileError(f"{path}: the description holds more than "
                               f"{MAX_DESCRIPTION_BYTES // 2**20} MiB of XML with its includes "
                               "(a robot's description holds tens of kilobytes)")


def _parse_xml(path: Path, budget: _Budget | None = None) -> ET.Element:
    (budget or _Budget()).take(path)
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ProfileError(f"{path}: not well-formed XML ({exc})") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read ({exc.strerror})") from None


# ----------------------------------------------------------------------------------- URDF
def read_urdf(path: Path) -> Description:
    """Joints of a URDF: the ``<joint>`` children of ``<robot>`` (transmissions are ignored)."""
    root = _parse_xml(path)
    if root.tag != "robot":
        raise ProfileError(f"{path}: the root element is <{root.tag}>, not <robot>")
    joints: list[JointSpec] = []
    for el in root.findall("joint"):
        kind = el.get("type")
        name = el.get("name")
        if kind not in ("revolute", "continuous", "prismatic") or not name:
            continue
        if el.find("mimic") is not None:
            continue  # follows another joint: not a channel of its own
        where = f"{path}: joint '{name}'"
        lim = el.find("limit")
        attrs = lim.attrib if lim is not None else {}
        lower = _float(attrs.get("lower"), f"{where} lower")
        upper = _float(attrs.get("upper"), f"{where} upper")
        if kind == "continuous":
            lower = upper = None  # URDF ignores limits on continuous joints
        velocity = _float(attrs.get("velocity"), f"{where} velocity")
        effort = _float(attrs.get("effort"), f"{where} effort")
        joints.append(JointSpec(
            name=name,
            lower=-math.inf if lower is None else lower,
            upper=math.inf if upper is None else upper,
            velocity=velocity or math.inf,  # 0 means "not given" in URDF
            effort=effort or math.inf,
            unit="m" if kind == "prismatic" else "rad"))
    return Description(root.get("name") or path.stem, "urdf", tuple(joints), (), path)


# ----------------------------------------------------------------------------------- MJCF
def _mjcf_defaults(root: ET.Element) -> dict[str, dict[str, str]]:
    """Joint attributes per default class, each class inheriting from its parent class."""
    out: dict[str, dict[str, str]] = {}

    def walk(el: ET.Element, inherited: dict[str, str], cls: str) -> None:
        own = dict(inherited)
        j = el.find("joint")
        if j is not None:
            own.update(j.attrib)
        out[cls] = own
        for child in el.findall("default"):
            walk(child, own, child.get("class", cls))

    for top in root.findall("default"):
        walk(top, {}, top.get("class", "main"))
    return out


#: How deep ``<include>`` may nest before the model counts as malformed (a cycle).
MAX_INCLUDE_DEPTH = 8
#: How many ``<include>`` a model may expand in all: a robot's model includes a handful of
#: files; 20 includes of a file that includes 20 more, 8 deep, would be 2.6·10^10 parses.
MAX_INCLUDES = 256


def _expand_includes(el: ET.Element, base: Path, depth: int, where: Path,
                     skipped: list[str], budget: _Budget) -> None:
    """Replace every ``<include file=...>`` by the children of the file it names, in place.

    Included files must lie in the model's folder or below it: a description never makes the
    importer read a file elsewhere. ``budget`` bounds the includes expanded in all
    (:data:`MAX_INCLUDES`) and the bytes they hold (:data:`MAX_DESCRIPTION_BYTES`)."""
    for i, child in enumerate(list(el)):
        if child.tag != "include":
            _expand_includes(child, base, depth, where, skipped, budget)
            continue
        if depth >= MAX_INCLUDE_DEPTH:
            raise ProfileError(f"{where}: <include> nested deeper than {MAX_INCLUDE_DEPTH}")
        if budget.includes_left <= 0:
            raise ProfileError(f"{where}: more than {MAX_INCLUDES} <include> to expand in all "
                               "(a robot's model includes a handful of files)")
        name = child.get("file", "")
        target = (base / name).resolve()
        if not name or not target.is_relative_to(base.resolve()):
            raise ProfileError(f"{where}: <include file='{name}'> leaves the model's folder")
        if not target.is_file():
            el.remove(child)  # scenes and assets are often left out of a shared description
            skipped.append(name)
            continue
        budget.includes_left -= 1
        inc = _parse_xml(target, budget)
        _expand_includes(inc, base, depth + 1, target, skipped, budget)
        el.remove(child)
        for k, sub in enumerate(list(inc)):
            el.insert(i + k, sub)


#: The angle units an MJCF ``<compiler angle=...>`` may declare.
ANGLE_UNITS = ("radian", "degree")


def read_mjcf(path: Path, angle: str | None = None) -> Description:
    """Joints of an MJCF model: hinge and slide joints in body order, with default classes and
    the compiler's angle unit applied (MuJoCo's default unit for ranges is the degree).
    ``<include>`` files are read from the model's folder; a file that is itself an include
    (root ``<mujocoinclude>``) is read as if it were the whole model.

    ``angle`` overrides the file's unit: robot models written to be merged into a larger
    scene (robosuite's ``robot.xml``) give radians without declaring it, because the scene's
    compiler does."""
    if angle is not None and angle not in ANGLE_UNITS:
        raise ProfileError(f"{path}: angle must be one of {', '.join(ANGLE_UNITS)}, "
                           f"not '{angle}'")
    budget = _Budget(includes_left=MAX_INCLUDES)
    root = _parse_xml(path, budget)
    if root.tag not in ("mujoco", "mujocoinclude"):
        raise ProfileError(f"{path}: the root element is <{root.tag}>, not <mujoco>")
    skipped: list[str] = []
    _expand_includes(root, path.parent, 0, path, skipped, budget)
    if root.find("worldbody") is None:  # an include file: its bodies are the world
        world = ET.Element("worldbody")
        world.extend(b for b in root if b.tag == "body")
        root.append(world)
    compiler = root.find("compiler")
    # an include file is written for a model whose compiler it cannot see; such files (like
    # most published arm models) give ranges in radians, which is what they are read as
    default_angle = "degree" if root.tag == "mujoco" else "radian"
    declared = compiler.get("angle", default_angle) if compiler is not None else default_angle
    degrees = (angle or declared) == "degree"
    defaults = _mjcf_defaults(root)
    joints: list[JointSpec] = []

    def walk(body: ET.Element, childclass: str) -> None:
        for el in body:
            if el.tag == "body":
                walk(el, el.get("childclass", childclass))
            elif el.tag == "joint":
                attrs = {**defaults.get(el.get("class", childclass), {}), **el.attrib}
                kind = attrs.get("type", "hinge")
                name = attrs.get("name")
                if kind not in ("hinge", "slide") or not name:
                    continue
                where = f"{path}: joint '{name}'"
                lower = upper = None
                limited = attrs.get("limited", "auto")
                if "range" in attrs and limited != "false":
                    parts = attrs["range"].split()
                    if len(parts) != 2:
                        raise ProfileError(f"{where}: range '{attrs['range']}' needs two numbers")
                    lower, upper = (_float(p, f"{where} range") for p in parts)
                    if kind == "hinge" and degrees and lower is not None and upper is not None:
                        lower, upper = math.radians(lower), math.radians(upper)
                effort = None
                if "actuatorfrcrange" in attrs:
                    lo_hi = [_float(p, f"{where} actuatorfrcrange")
                             for p in attrs["actuatorfrcrange"].split()]
                    if len(lo_hi) == 2 and None not in lo_hi:
                        effort = max(abs(lo_hi[0] or 0.0), abs(lo_hi[1] or 0.0)) or None
                joints.append(JointSpec(
                    name=name,
                    lower=-math.inf if lower is None else lower,
                    upper=math.inf if upper is None else upper,
                    velocity=math.inf, effort=math.inf if effort is None else effort,
                    unit="m" if kind == "slide" else "rad"))

    found = root.find("worldbody")
    if found is not None:
        walk(found, "main")
    return Description(root.get("model") or path.stem, "mjcf", tuple(joints),
                       tuple(f"<include file='{n}'> not found: skipped" for n in skipped), path)


def _root_tag(path: Path) -> str:
    """The tag of the file's root element, read without parsing the rest of the file."""
    _Budget().take(path)
    try:
        with path.open("rb") as fh:
            for _event, el in ET.iterparse(fh, events=("start",)):
                return str(el.tag)
    except ET.ParseError as exc:
        raise ProfileError(f"{path}: not well-formed XML ({exc})") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read ({exc.strerror})") from None
    raise ProfileError(f"{path}: not well-formed XML (no element)")


def read_description(path: Path | str, angle: str | None = None) -> Description:
    """A URDF (``.urdf``) or MJCF (``.xml``, root ``<mujoco>``) file's joints. ``angle``
    (``radian`` or ``degree``) overrides an MJCF's angle unit; a URDF is always in radians."""
    path = Path(path)
    root_tag = _root_tag(path)
    if root_tag == "robot":
        if angle is not None and angle != "radian":
            raise ProfileError(f"{path}: a URDF gives angles in radians; --angle {angle} "
                               "applies to MJCF files only")
        return read_urdf(path)
    if root_tag in ("mujoco", "mujocoinclude"):
        return read_mjcf(path, angle)
    raise ProfileError(f"{path}: neither a URDF (<robot>) nor an MJCF (<mujoco>) file")


# --------------------------------------------------------------------------------- output
def _toml_str(s: str) -> str:
    """``s`` as a TOML basic string. Names come from files and command lines: a line break or
    an escape character in a joint name or a model name is escaped, never written raw (which
    would leave a profile no TOML reader accepts). JSON's escapes are TOML's, DEL aside."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise ProfileError(f"{s.encode('utf-8', 'backslashreplace').decode()!r} is not "
                           "valid UTF-8 text; a profile holds text only") from None
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_float(v: float) -> str:
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))


def profile_toml(desc: Description, profile_id: str, *, kind: str, source: str,
                 manufacturer: str = "", model_name: str = "", licence: str = "",
                 joints: Iterable[str] | None = None, aliases: Iterable[str] = ()) -> str:
    """The TOML text of a robot profile for ``desc``; validated by parsing it back."""
    if kind not in ROBOT_KINDS:
        raise ProfileError(f"kind must be one of {', '.join(ROBOT_KINDS)}, not '{kind}'")
    picked = list(desc.joints)
    if joints is not None:
        wanted = list(joints)
        index = {j.name: j for j in desc.joints}
        missing = [n for n in wanted if n not in index]
        if missing:
            raise ProfileError(f"{desc.path or desc.name}: joints not in the description: "
                               f"{', '.join(missing)}")
        picked = [index[n] for n in wanted]
    if not picked:
        raise ProfileError(f"{desc.path or desc.name}: the description has no actuated joint")
    lines = [
        f"# Generated by `embodiq robots import` from a {desc.format.upper()} description:",
        "# joint names and limits are the file's, unchanged (angles in rad, lengths in m);",
        "# a limit the file does not give is left unset (inf) and its check skips the joint.",
        f"id = {_toml_str(profile_id)}",
        f"manufacturer = {_toml_str(manufacturer)}",
        f"model_name = {_toml_str(model_name or desc.name)}",
        f"kind = {_toml_str(kind)}",
        f"source = {_toml_str(source)}",
    ]
    if licence:
        lines.append(f"licence = {_toml_str(licence)}")
    alias_list = list(aliases)
    if alias_list:
        lines.append("aliases = [" + ", ".join(_toml_str(a) for a in alias_list) + "]")
    for j in picked:
        lines += ["", "[[joints]]", f"name = {_toml_str(j.name)}",
                  f"lower = {_toml_float(j.lower)}", f"upper = {_toml_float(j.upper)}",
                  f"velocity = {_toml_float(j.velocity)}", f"effort = {_toml_float(j.effort)}",
                  f"unit = {_toml_str(j.unit)}"]
    text = "\n".join(lines) + "\n"
    import tomllib

    parse_profile(tomllib.loads(text), f"profile '{profile_id}' generated from {desc.name}")
    return text
