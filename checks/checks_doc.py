"""``docs/checks.md``, generated: the catalogue from the registry and a quality profile.

What a check does is written once, in its code: its registration's summary, its function's
docstring (how it measures, what its thresholds mean) and its module's docstring (what the
family shares). This module wraps those in the page's fixed prose, so the page cannot drift
from the checks that run; a test compares ``docs/checks.md`` with :func:`checks_markdown`.
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterable
from typing import Any

from checks.registry import CheckSpec, all_checks
from schemas.quality_profile import QualityProfile

#: Everything above the catalogue: findings, grading, the structural rules.
CHECKS_DOC_HEADER = """\
# Quality checks

<!-- Generated from the check registry (each check's summary and docstring), its module
     docstrings and the default quality profile by `embodiq checks --doc checks >
     docs/checks.md`; the prose around the catalogue is in checks/checks_doc.py. A test keeps it
     current. -->

Every recording is judged by the checks below. Each check has a stable id (filter, suppress and
graph by it), a default severity and thresholds that a **quality profile** can override. A check
emits zero or more **findings**:

| field | meaning |
|---|---|
| `check_id` | the check, e.g. `time.gap` |
| `severity` | `error` (fails the gate), `warning` (lowers the grade), `info` (for people) |
| `stream` | the stream or camera (or root attribute) concerned; null for the whole episode |
| `value` / `threshold` | the measured figure and what it was held against |
| `t_start_ns` / `t_end_ns` | where, on the recording's own clock (subtract `t0_ns` from `episodes.parquet` to place it on the frames table) |
| `message` | one sentence naming the figure and the limit |

A clean recording produces no error and no warning: a false alarm is treated as a defect of the
check, just like a miss. Every check is tested against a planted defect at a known place and
against clean recordings of many lengths, rates, robots and camera kinds.

## Grade, gate and score

- **F** — any error: fails the gate; the recording is quarantined with its findings.
- **A** — no error and no warning.
- **B** — warnings from at most two distinct checks.
- **C** — warnings from more checks.

`quality_score` (0–100) starts at 100 and loses 40 per error, 8 per warning and 1 per info
finding (at most 5 for info), floored at 0. Adding a finding never raises it; an A scores 95–100
and any error leaves at most 60.

## Structural checks (the data-collection schema)

All `error`: `schema.unreadable` (not HDF5, truncated, undecodable), `schema.format`,
`schema.metadata` (one finding per root attribute), `schema.stream`, `schema.camera`,
`schema.robot` (joint names not in the robot's profile), `schema.uid` (robot uid invalid or
disagreeing with the registry), `schema.unsafe` (links, virtual or external datasets, oversize
declarations). `schema.inferred` is `info`: a value the source lacked was filled from a mapping
file or a default. See [the recording format](recording-format.md).

A `robot_model` with **no robot profile** is `schema.robot` at the profile's `unknown_model`
severity: a `warning` in `default`, an `error` in `strict` (see below).

### A robot without a profile

Most checks need no robot profile and run on every recording. Those that judge against the
profile — `value.joint_limit`, `value.velocity_limit`, `value.effort_limit` — cannot; when the
recording's `robot_model` names no profile (or is empty), they are not run, and the episode gets
**one** `schema.robot` finding saying so and listing them (`value` is their count):

```
root attribute robot_model 'acme-arm' has no robot profile; add robots/profiles/acme-arm.toml or a
file in $EMBODIQ_ROBOTS; skipped for lack of a profile: value.effort_limit, value.joint_limit,
value.velocity_limit
```

Its severity is `unknown_model` of `[checks."schema.robot"]`: `warning` in the `default`
profile, so a recording of an unprofiled robot is still checked by everything else and can pass
(grade B at best), and `error` in `strict`, where a recording not held to its robot's limits is
not training-ready. A quality profile may set it per model
(`[robots."acme-arm".checks."schema.robot"] unknown_model = "info"`). Joint names missing from a
**known** profile stay at the check's `severity` (`error`): the recording contradicts its robot.
With `schema.robot` turned off, or left out of the checks asked for, the same sentence is still
given as `info` when a check was skipped. `value.spike` needs no profile: without one it scales
by each channel's own percentile span. Adding a profile is described in
[robot profiles](robot-profiles.md).

Ingest also stamps each robot's [unique code](robot-uid.md), which is issued from the profile:
a recording of an unprofiled robot that carries no `robot_uid`, of a robot the registry does not
know yet, is still quarantined there with a `schema.uid` error. `embodiq check` and the report
issue no codes and are not affected.
"""  # noqa: E501

#: Everything below the catalogue: tuning by profile, speed.
CHECKS_DOC_FOOTER = """\
## Profiles: tuning without code

Profiles are TOML files. `default` and `strict` ship with embodiq (`schemas/profiles/`); use
`--profile NAME` (a name found in `$EMBODIQ_QUALITY_PROFILES` folders or the shipped ones) or
`--profile path/to/mine.toml`. A profile extends `default` unless it says otherwise, and may
override any check per robot model:

```toml
name = "lab-7"
extends = "strict"

[checks."video.blur"]
enabled = false                 # our wrist cameras are always soft

[checks."time.sync"]
severity = "warning"
warn_offset_s = 0.040

[robots."aloha".checks."value.spike"]
min_range_fraction = 0.10       # grippers jump by design
```

An unknown check id, an unknown threshold name, a wrong type or severity is refused with the
file and key named (exit status 2 for `embodiq check`), so a typo never silently turns a check
off. So is a threshold no check can use: `nan` or `inf` (turn a check off with
`enabled = false`), a negative number (`min_correlation` may go down to −1), zero for
`analysis_rate_hz`, and a fraction where the catalogue counts (`tolerance_frames`, `block_px`,
`min_episodes`). A search window longer than the episode, or a block larger than the frame,
is taken as the whole episode or frame. The manifest of a published version records the
profile's name and digest.

`strict` (training-ready) makes these errors: `time.gap`, `time.sync` (10 ms), `time.rate`,
`value.stale`, `value.spike`, `value.velocity_limit` (at 1.2x), `action.tracking`,
`video.frozen`, `video.dark`, a robot model without a profile (`schema.robot`'s
`unknown_model`); and warns on unlabelled or unsuccessful episodes.

## Speed

Numeric checks are numba kernels (`checks/kernels/`), compiled once and cached on disk, each a
single pass over contiguous arrays with no per-sample Python and no copies of the data. Passes
are shared where it pays: one pass per clock serves all timing checks; one summary pass per
stream counts non-finite values and takes every column's bounds — and, for joint positions and
joint-space actions, the smallest change (the spike check's quantisation floor) and the spread
of changes (which channels `action.tracking` follows) — so on a clean stream
`value.joint_limit` and `value.effort_limit` need no pass of their own, and the static,
saturation, spike and tracking checks start from those figures. `value.spike` passes over whole
blocks of rows on their bounds (a smooth motion, even a fast ramp, cannot hold a spike), counts
samples instead of sorting where a block is busy, and takes a median (by selection) only where
the count allows one to lie beyond the threshold; the result is the same as a median at every
sample. `action.tracking` searches lags coarse to fine, and correlates all candidate lags of a
tile of rows at once over zero-filled copies of the tile, so each lag is a vectorised dot
product. Each kernel has a plain-numpy reference (`benchmarks/numpy_reference.py`) that the
tests hold it to on random and adversarial inputs. Work and memory are bounded by the samples
present: window lengths derived from a declared `rate_hz` (`motion.idle`'s speed baseline,
`value.stale`'s run length, `value.spike`'s window) are clipped to the stream's length, so even a
rate of 1e300 Hz, which the reader refuses but another layout could produce, only ever yields a
window no longer than the data.

`python benchmarks/bench_checks.py` times the numeric checks on a one-hour, 50 Hz, 32-joint
recording (about 160 MiB of stream arrays) against the numpy references and against reading the
same arrays from the HDF5 file with h5py; `make bench` prints all figures; see the README.
"""

_WIDTH = 100


def _value(v: Any) -> str:
    return repr(v) if isinstance(v, float) else str(v)


def _markdown(doc: str) -> str:
    """A docstring's reStructuredText literals as Markdown code."""
    return re.sub(r"``([^`]+)``", r"`\1`", doc)


def _paragraphs(doc: str) -> list[str]:
    return [" ".join(p.split()) for p in _markdown(doc).split("\n\n") if p.strip()]


def _fill(text: str, first: str = "", rest: str = "") -> str:
    return textwrap.fill(text, _WIDTH, initial_indent=first, subsequent_indent=rest,
                         break_long_words=False, break_on_hyphens=False)


def _family_doc(specs: Iterable[CheckSpec]) -> list[str]:
    """The docstrings of the modules that register a family's checks, once each."""
    out: list[str] = []
    for spec in specs:
        for para in _paragraphs(sys.modules[spec.fn.__module__].__doc__ or ""):
            if para not in out:
                out.append(para)
    return out


def checks_markdown(profile: QualityProfile) -> str:
    """``docs/checks.md`` with ``profile``'s severities and thresholds."""
    specs = all_checks()
    families: dict[str, list[CheckSpec]] = {}
    for cid, spec in specs.items():
        families.setdefault(cid.split(".", 1)[0], []).append(spec)
    lines = [CHECKS_DOC_HEADER, "## The catalogue", ""]
    for family, members in families.items():
        lines += [f"### {family}", ""]
        lines += [_fill(p) + "\n" for p in _family_doc(members)]
        lines += [f"| id | what it measures | severity | thresholds ({profile.name} profile) |",
                  "|---|---|---|---|"]
        for spec in members:
            if spec.check_id in profile.checks:
                st = profile.settings(spec.check_id)
                sev = st.severity.value if st.enabled else f"{st.severity.value} (off)"
                th = ", ".join(f"`{k}` = {_value(v)}" for k, v in st.params.items()) or "—"
            else:
                sev, th = "— (not configured)", "—"
            lines.append(f"| `{spec.check_id}` | {spec.summary} | {sev} | {th} |")
        notes = [(spec.check_id, _paragraphs(spec.doc)) for spec in members if spec.doc]
        if notes:
            lines.append("")
        for cid, paras in notes:
            lines.append(_fill(f"**`{cid}`**: {paras[0]}", "- ", "  "))
            lines += ["", *(_fill(p, "  ", "  ") for p in paras[1:])] if paras[1:] else []
        lines.append("")
    lines.append(CHECKS_DOC_FOOTER)
    return "\n".join(lines)
