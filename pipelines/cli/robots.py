"""``embodiq robots``: list robot profiles, and import one from a URDF or MJCF description."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.common import StoreOpt, err, fail, open_store, out, print_listing, shown
from pipelines.store import Store

robots_app = typer.Typer(help="Robot profiles: list them, import one from a URDF or MJCF.",
                         no_args_is_help=True)


@robots_app.command("import")
def import_(
    description: Annotated[Path, typer.Argument(help="A URDF (.urdf) or MJCF (.xml) file.")],
    profile_id: Annotated[str, typer.Option("--id", help="The new profile's id, e.g. my-arm.")],
    kind: Annotated[str, typer.Option(help="humanoid, arm, bimanual or mobile_manipulator.")] =
    "arm",
    manufacturer: Annotated[str, typer.Option(help="Who makes the robot.")] = "",
    model_name: Annotated[str, typer.Option(help="Human name of the model.")] = "",
    source: Annotated[str | None, typer.Option(
        help="Where the description comes from (repository @ commit, path); default: the "
             "file's path.")] = None,
    licence: Annotated[str, typer.Option(help="The description's licence.")] = "",
    joints: Annotated[str | None, typer.Option(
        help="Comma-separated joint names to keep, in recording order (default: all).")] = None,
    alias: Annotated[list[str] | None, typer.Option(
        help="Another name recordings use for this model (repeatable), e.g. a LeRobot "
             "robot_type.")] = None,
    angle: Annotated[str | None, typer.Option(
        help="radian or degree: the unit of an MJCF's joint ranges when the file does not "
             "declare it (default: the file's <compiler angle>, else MuJoCo's degree).")] = None,
    dest: Annotated[Path | None, typer.Option(
        "--out", help="Where to write the profile (default: <store>/robots/<id>.toml).")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing profile file.")] = False,
    store: StoreOpt = None,
) -> None:
    """Write a robot profile from a robot description: joint names, position, velocity and
    effort limits and units, exactly as the file gives them."""
    from pipelines.store import StoreError, atomic_write_bytes, check_name
    from robots.importer import ANGLE_UNITS, profile_toml, read_description
    from robots.profile import ProfileError

    try:
        check_name(profile_id, "profile id")
    except StoreError as exc:
        raise fail(str(exc), 2) from None
    if angle is not None and angle not in ANGLE_UNITS:
        raise fail(f"--angle must be one of {', '.join(ANGLE_UNITS)}, not '{angle}'", 2)
    if not description.is_file():
        raise fail(f"{description}: no such file", 2)
    try:
        desc = read_description(description, angle)
        text = profile_toml(
            desc, profile_id, kind=kind, manufacturer=manufacturer, model_name=model_name,
            source=source or str(description), licence=licence,
            joints=[j.strip() for j in joints.split(",") if j.strip()] if joints else None,
            aliases=alias or ())
    except ProfileError as exc:
        raise fail(str(exc), 2) from None
    st = open_store(store)
    target = dest if dest is not None else st.robot_profile(profile_id)
    if dest is not None:
        _check_out(dest, st, description)
    if target.exists() and not force:
        raise fail(f"{target} exists; pass --force to replace it", 2)
    atomic_write_bytes(target, text.encode())
    for note in desc.notes:
        err.print(f"note: {shown(note)}", highlight=False)
    err.print(f"wrote profile '{profile_id}' ({len(text.split('[[joints]]')) - 1} joints from "
              f"{desc.format.upper()} '{shown(desc.name)}')", highlight=False)
    out.print(shown(target), highlight=False, soft_wrap=True)


@robots_app.command("list")
def list_(store: StoreOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False
          ) -> None:
    """Every robot profile visible from the store, with its aliases."""
    from robots.profile import ProfileCatalog

    cat = ProfileCatalog([open_store(store).robots_dir])
    cat.validate()
    profs = [p for p in map(cat.get, cat.ids()) if p is not None]
    if as_json:
        sys.stdout.write(json.dumps([{
            "id": p.id, "kind": p.kind, "manufacturer": p.manufacturer,
            "model_name": p.model_name, "joints": len(p.joints), "aliases": list(p.aliases),
            "source": p.source, "licence": p.licence, "path": str(p.path)} for p in profs],
            indent=2) + "\n")
        return
    print_listing(f"{len(profs)} robot profile(s)", "id", ("kind", "joints", "model", "aliases"),
                  ((p.id, p.kind, str(len(p.joints)), p.model_name, ", ".join(p.aliases))
                   for p in profs))


def _check_out(dest: Path, st: Store, description: Path) -> None:
    """Refuse an ``--out`` (replaced with ``--force``) on the description read, on a recording
    the store registered, or in the store outside its robot profiles."""
    from pipelines.out_paths import overlap, real_path, registered_sources

    if real_path(st.robots_dir) in real_path(dest).parents:
        kept = [("the description", description, False)]
    else:
        kept = [("the description", description, False), ("the store", st.root, True)]
    kept += [("the recording", p, False) for p in registered_sources(st)]
    if (where := overlap(dest, kept)) is not None:
        raise fail(f"--out {where}; a profile is never written there (a store keeps its "
                   f"profiles in {st.robots_dir})", 2)


def register(app: typer.Typer) -> None:
    app.add_typer(robots_app, name="robots")
