"""``embodiq checks``: the catalogue of rules, with the active profile's settings."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from pipelines.cli.common import fail, print_listing


def checks(
    profile: Annotated[str, typer.Option(help="Quality profile: a name or a .toml path.")] =
    "default",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="The standards trace as Markdown (docs/standards.md).")] = False,
    doc: Annotated[str | None, typer.Option(
        "--doc", help="A generated page as Markdown: 'checks' (docs/checks.md) or 'standards' "
        "(docs/standards.md).")] = None,
) -> None:
    """Every structural rule and quality check: scope, severity, the quality characteristic it
    measures and the thresholds of the active profile."""
    from checks.catalogue import catalogue, standards_markdown
    from checks.checks_doc import checks_markdown
    from schemas.quality_profile import QualityProfileError, load_quality_profile

    pages = {"checks": checks_markdown, "standards": standards_markdown}
    if doc is not None and doc not in pages:
        raise fail(f"--doc {doc}: no such page (known: {', '.join(pages)})", 2)
    try:
        prof = load_quality_profile(profile)
    except QualityProfileError as exc:
        raise fail(str(exc), 2) from None
    if markdown or doc is not None:
        sys.stdout.write(pages[doc or "standards"](prof))
        return
    rows = catalogue(prof)
    if as_json:
        sys.stdout.write(json.dumps({"profile": prof.name, "profile_digest": prof.digest,
                                     "checks": [r.to_dict() for r in rows]}, indent=2) + "\n")
        return
    print_listing(f"{len(rows)} rules — profile '{prof.name}'", "id",
                  ("scope", "severity", "characteristic", "thresholds"),
                  ((r.check_id, r.scope, r.severity if r.enabled else f"{r.severity} (off)",
                    r.characteristic, _thresholds(r.thresholds)) for r in rows))


def _thresholds(values: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in sorted(values.items()))


def register(app: typer.Typer) -> None:
    app.command("checks")(checks)
