"""``embodiq uid``: issue, validate, resolve and list robot unique identification codes."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from pipelines.cli.common import StoreOpt, err, fail, open_store, out, shown

uid_app = typer.Typer(help="Robot unique identification codes: issue, validate, resolve, list.",
                      no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _open_registry(path, read_only: bool = False):
    from robots.registry import RegistryError
    from robots.registry_backends import store_registry

    try:
        return store_registry(path, read_only=read_only)
    except RegistryError as exc:
        raise fail(str(exc), 1) from None


def _registry(store_opt, read_only: bool = False):
    """The store and its registry; reading commands open it read-only and create nothing."""
    store = open_store(store_opt)
    return store, _open_registry(store.registry_path, read_only)


@contextlib.contextmanager
def _registry_errors():
    """A registry that cannot be read or written (read-only store, full disk) is one sentence."""
    from robots.registry import RegistryError

    try:
        yield
    except RegistryError as exc:
        raise fail(str(exc), 1) from None


@uid_app.command("issue")
def issue(model: Annotated[str, typer.Option(help="Robot profile id, e.g. unitree-h1.")],
          serial: Annotated[str, typer.Option(help="The serial printed on the robot.")],
          store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Issue (or return the already issued) code of one robot; the code is the last line."""
    from robots.profile import ProfileCatalog
    from robots.registry import RegistryConflict
    from robots.uid import UidError, parse

    st, reg = _registry(store)
    profile = ProfileCatalog([st.robots_dir]).get(model)
    if profile is None:
        raise fail(f"no robot profile '{model}' (known: "
                   f"{', '.join(ProfileCatalog([st.robots_dir]).ids())})", 1)
    try:
        with _registry_errors():
            b = reg.issue(profile, serial)
    except (UidError, RegistryConflict) as exc:
        raise fail(str(exc), 1) from None
    uid = parse(b.code)
    if as_json:
        sys.stdout.write(json.dumps({"code": b.code, "label": uid.label, "pretty": uid.pretty,
                                     "robot_model": b.robot_model,
                                     "robot_serial": b.robot_serial,
                                     "created_at": b.created_at}) + "\n")
        return
    err.print(f"{shown(b.robot_model)} serial {shown(b.robot_serial)}: label {uid.label}  "
              f"({uid.pretty})",
              highlight=False, soft_wrap=True)
    out.print(b.code, highlight=False, soft_wrap=True)


@uid_app.command("validate")
def validate(codes: Annotated[list[str], typer.Argument(help="Codes or labels to check.")],
             store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Check codes (and a label's check character); say whether and to what each is
    registered. Exit 0 when all are valid, 1 otherwise."""
    from robots.registry_backends import registry_url
    from robots.uid import UidError, is_label, parse

    st = open_store(store)
    reg = None
    if registry_url() or st.registry_path.is_file():
        reg = _open_registry(st.registry_path, read_only=True)
    results, ok = [], True
    for text in codes:
        entry: dict = {"input": text}
        try:
            uid = parse(text)
            entry.update(valid=True, code=uid.code, label=uid.label, form="label" if
                         is_label(text) else "code")
            with _registry_errors():
                b = reg.lookup(uid.code) if reg else None
            entry["registered"] = None if reg is None else b is not None
            if b:
                entry.update(robot_model=b.robot_model, robot_serial=b.robot_serial)
        except UidError as exc:
            ok = False
            entry.update(valid=False, reason=str(exc))
        results.append(entry)
    if as_json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
    else:
        for e in results:
            if not e["valid"]:
                out.print(f"[red]invalid[/] {shown(e['input'])}: {shown(e['reason'])}",
                          highlight=False, soft_wrap=True)
                continue
            reg_txt = ("; no registry in this store" if e["registered"] is None else
                       f"; registered to {e['robot_model']} serial {e['robot_serial']}"
                       if e["registered"] else "; not registered in this store")
            out.print(f"[green]valid[/] {e['code']} ({e['form']}){shown(reg_txt)}",
                      highlight=False, soft_wrap=True)
    raise typer.Exit(0 if ok else 1)


@uid_app.command("resolve")
def resolve(model: Annotated[str, typer.Option(help="Robot profile id.")],
            serial: Annotated[str, typer.Option(help="The robot's serial.")],
            store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """The code registered for one robot; exit 1 when it has none yet."""
    _st, reg = _registry(store, read_only=True)
    with _registry_errors():
        b = reg.resolve(model, serial)
    if b is None:
        raise fail(f"robot {model} serial {serial} has no code yet (issue one with "
                   "'embodiq uid issue')", 1)
    if as_json:
        sys.stdout.write(json.dumps(b.__dict__) + "\n")
    else:
        out.print(b.code, highlight=False, soft_wrap=True)


@uid_app.command("list")
def list_(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Every registered robot, with the check character its label carries. Needs no write
    access; a store without a registry lists nothing (an empty JSON list with --json)."""
    from robots.uid import parse

    _st, reg = _registry(store, read_only=True)
    with _registry_errors():
        rows = reg.list()
    if not rows and not as_json:
        return
    if as_json:
        sys.stdout.write(json.dumps([b.__dict__ for b in rows], indent=2) + "\n")
        return
    table = Table(title=f"{len(rows)} registered robot(s)", box=box.SIMPLE_HEAD)
    for col in ("code", "label", "model", "serial", "registered (UTC)", "run"):
        table.add_column(col, no_wrap=True)
    for b in rows:
        table.add_row(b.code, parse(b.code).check, shown(b.robot_model), shown(b.robot_serial),
                      b.created_at.removesuffix("+00:00"), shown(b.run_id or ""))
    # codes are never cut to fit a narrow terminal: a truncated code is a wrong code
    wide = Console(file=sys.stdout, width=max(out.width, 160), highlight=False,
                   force_terminal=out.is_terminal, no_color=out.no_color)
    wide.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(uid_app, name="uid")
