"""Write the report: one HTML file with inline CSS and inline PNG figures, no script, no network.

Every finding with a place in time appears three times: as a bar in the episode's "findings in
time" lane, as a shaded span over the trajectories, and as a row of the findings table whose
``data-check`` / ``data-t-start`` / ``data-t-end`` attributes give the check id and the span in
seconds from the episode's first frame (what tools and tests read).
"""

from __future__ import annotations

import html
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines.processing.pool import REPORT_MODULES, TaskResult, preload_also, start_tasks
from pipelines.report import figures
from pipelines.report.figures import GRADE_COLOURS, FigureTask, Marker
from pipelines.report.model import (
    EpisodeView,
    Progress,
    ReportData,
    from_published,
    from_recordings,
)
from pipelines.store import Store, atomic_write_bytes

#: Video findings per episode that get camera frames, and the offsets around a span.
MAX_THUMB_FINDINGS = 3
THUMB_MARGIN_S = 0.5

#: Seconds one figure may take on a worker before it is drawn in this process instead.
FIGURE_TIMEOUT_S = 120.0

log = logging.getLogger(__name__)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem auto;
color:#212121;max-width:1180px;padding:0 1rem;line-height:1.35}
h1{margin:0 0 .2rem} h2{margin-top:2rem;border-bottom:2px solid #eee;padding-bottom:.2rem}
.muted{color:#666} table{border-collapse:collapse;margin:.5rem 0 1rem}
td,th{border:1px solid #ddd;padding:.2rem .5rem;font-size:.88rem;text-align:left;vertical-align:top}
th{background:#f5f5f5} td.num{text-align:right;font-variant-numeric:tabular-nums}
.grade{font-weight:bold;color:#fff;padding:.05rem .45rem;border-radius:.3rem}
.episode{border:1px solid #ddd;border-radius:.5rem;padding:.8rem 1rem;margin:1.2rem 0}
.episode h3{margin:.2rem 0 .5rem}
.sev-error{color:#c62828;font-weight:bold} .sev-warning{color:#ef6c00;font-weight:bold}
.sev-info{color:#1565c0} img.plot{max-width:100%;display:block;margin:.4rem 0}
.thumbs{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0}
.thumbs figure{margin:0;font-size:.75rem;color:#555;text-align:center}
.thumbs img{display:block;height:110px;border:1px solid #ccc}
.cards{display:flex;gap:.8rem;flex-wrap:wrap;align-items:flex-start}
.card{border:1px solid #ddd;border-radius:.5rem;padding:.4rem .9rem}
.card b{font-size:1.5rem;display:block} .note{color:#666;font-style:italic}
a{color:#1565c0} td.where{white-space:nowrap}
td.spark{font-size:1.1rem;letter-spacing:.1rem;white-space:nowrap;color:#1565c0}
"""


def _e(x: object) -> str:
    return html.escape("" if x is None else str(x))


def _grade(g: str) -> str:
    return f'<span class="grade" style="background:{GRADE_COLOURS.get(g, "#666")}">{_e(g)}</span>'


def _img(src: str, alt: str, cls: str = "plot") -> str:
    return f'<img class="{cls}" alt="{_e(alt)}" src="{src}">'


def _where(m: Marker | None) -> str:
    if m is None:
        return ""
    if m.end - m.start < 5e-4:
        return f"{m.start:.2f} s"
    return f"{m.start:.2f}–{m.end:.2f} s"


def _counts_table(label: str, counter: Counter) -> str:
    rows = "".join(f'<tr><td>{_e(k)}</td><td class="num">{v}</td></tr>'
                   for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))))
    return f"<table><tr><th>{_e(label)}</th><th>episodes</th></tr>{rows}</table>"


def _checks_table(episodes: list[EpisodeView]) -> str:
    by_sev: dict[str, Counter] = {}
    eps: dict[str, set[str]] = {}
    for e in episodes:
        for f in e.findings:
            by_sev.setdefault(f.check_id, Counter())[f.severity.value] += 1
            eps.setdefault(f.check_id, set()).add(e.uid or e.name)
    order = sorted(by_sev, key=lambda c: (-by_sev[c]["error"], -by_sev[c]["warning"],
                                          -len(eps[c]), c))
    rows = "".join(
        f"<tr><td>{_e(c)}</td><td class=\"num sev-error\">{by_sev[c]['error'] or ''}</td>"
        f"<td class=\"num sev-warning\">{by_sev[c]['warning'] or ''}</td>"
        f"<td class=\"num sev-info\">{by_sev[c]['info'] or ''}</td>"
        f'<td class="num">{len(eps[c])}</td></tr>' for c in order)
    return ("<table id=\"checks\"><tr><th>check</th><th>errors</th><th>warnings</th><th>info</th>"
            f"<th>episodes</th></tr>{rows}</table>")


def _index_table(episodes: list[EpisodeView]) -> str:
    rows = []
    for i, e in enumerate(episodes):
        sev = Counter(f.severity.value for f in e.findings)
        first = next((f.check_id for f in e.findings if f.severity.value == "error"), "")
        rows.append(
            f'<tr><td>{_grade(e.grade)}</td><td><a href="#ep-{i}">{_e(e.name)}</a></td>'
            f'<td class="num">{e.score:.0f}</td><td class="num">{e.duration_s:.1f}</td>'
            f"<td>{_e(e.task)}</td><td>{_e(e.robot)}</td><td>{_e(e.operator)}</td>"
            f'<td class="num sev-error">{sev["error"] or ""}</td>'
            f'<td class="num sev-warning">{sev["warning"] or ""}</td><td>{_e(first)}</td></tr>')
    return ("<table id=\"episodes\"><tr><th>grade</th><th>episode</th><th>score</th>"
            "<th>s</th><th>task</th><th>robot</th><th>operator</th><th>errors</th>"
            f"<th>warnings</th><th>first error</th></tr>{''.join(rows)}</table>")


def _findings_table(rows: str, with_where: bool = True) -> str:
    where = "<th>where</th>" if with_where else ""
    return (f"<table><tr><th>severity</th><th>check</th><th>stream</th>{where}"
            f"<th>message</th></tr>{rows}</table>")


@dataclass
class Drawn:
    """A figure of the page: its ``data:`` URI (None: nothing to plot), or why it could not
    be drawn."""

    uri: str | None = None
    failed: str = ""

    def html(self, alt: str) -> str:
        if self.failed:
            return f'<p class="note">this figure could not be drawn ({_e(self.failed)})</p>'
        return _img(self.uri, alt) if self.uri else ""


def _summary(data: ReportData, grades_fig: Drawn, dist_fig: Drawn) -> str:
    eps = data.episodes
    n_pass = sum(e.passed for e in eps)
    grades = Counter(e.grade for e in eps)
    cards = "".join(f'<div class="card">{k}<b>{v}</b></div>' for k, v in (
        ("episodes", len(eps)), ("passed", n_pass), ("rejected", len(eps) - n_pass),
        ("pass rate", f"{n_pass / max(len(eps), 1):.0%}"),
        ("grades A/B/C/F", "/".join(str(grades.get(g, 0)) for g in "ABCF"))))
    counts = "".join(_counts_table(label, Counter(getattr(e, key) or "?" for e in eps))
                     for label, key in (("task", "task"), ("robot", "robot"),
                                        ("operator", "operator"), ("site", "site")))
    ds_rows = "".join(
        f'<tr><td class="sev-{f.severity.value}">{f.severity.value}</td><td>{_e(f.check_id)}</td>'
        f"<td>{_e(f.stream)}</td><td>{_e(f.message)}</td></tr>" for f in data.dataset_findings)
    ds = (f"<h3>Dataset findings</h3>{_findings_table(ds_rows, with_where=False)}"
          if ds_rows else "")
    return (f'<section id="summary"><h2>Summary</h2><div class="cards">{cards}</div>'
            f'{grades_fig.html("episodes by grade; checks that fail most")}'
            f'{dist_fig.html("durations, scores and jerk")}'
            f'<div class="cards">{counts}</div>'
            f"<h3>Checks</h3>{_checks_table(eps)}{ds}"
            f"<h3>Episodes</h3>{_index_table(eps)}</section>")


def _thumbs(e: EpisodeView, marks: list[Marker]) -> str:
    """Camera frames before, at, inside and after each video finding's span."""
    out = []
    video = [m for m in marks if m.finding.stream in e.frame_at
             and (m.finding.check_id.startswith("video.") or m.finding.severity.value != "info")]
    for m in video[:MAX_THUMB_FINDINGS]:
        cam = m.finding.stream or ""
        times = [max(m.start - THUMB_MARGIN_S, 0.0), m.start]
        if m.end - m.start > 0.2:
            times.append((m.start + m.end) / 2)
        times.append(m.end + THUMB_MARGIN_S)
        frames = []
        for t in times:
            frame = e.frame_at[cam](t)
            if frame is None:
                continue
            img = _img(figures.frame_png(frame), f"{cam} at {t:.2f} s", "thumb")
            frames.append(f"<figure>{img}<figcaption>{_e(cam)} · {t:.2f} s</figcaption></figure>")
        if frames:
            out.append(f'<p class="muted">{_e(cam)} around {_e(m.finding.check_id)} '
                       f"({_where(m)})</p><div class=\"thumbs\">{''.join(frames)}</div>")
    return "".join(out)


def _marks(e: EpisodeView) -> dict[int, Marker]:
    return {id(m.finding): m for m in figures.markers(e)}


def _episode(e: EpisodeView, index: int, plot: Drawn, thumbs: str) -> str:
    """An episode's section: ``plot`` is its figure (drawn on a worker), ``thumbs`` its camera
    frames."""
    marks = _marks(e)
    rows = []
    for k, f in enumerate(e.findings):
        m = marks.get(id(f))
        rows.append(
            f'<tr class="finding" id="f-{index}-{k}" data-check="{_e(f.check_id)}" '
            f'data-severity="{f.severity.value}" '
            f'data-t-start="{"" if m is None else f"{m.start:.3f}"}" '
            f'data-t-end="{"" if m is None else f"{m.end:.3f}"}">'
            f'<td class="sev-{f.severity.value}">{f.severity.value}</td><td>{_e(f.check_id)}</td>'
            f'<td>{_e(f.stream)}</td><td class="where">{_where(m)}</td>'
            f"<td>{_e(f.message)}</td></tr>")
    body = plot.html(f"trajectories of {e.name} with findings marked")
    if e.note:
        body += f'<p class="note">{_e(e.note)}</p>'
    body += thumbs
    body += _findings_table("".join(rows)) if rows else '<p class="muted">no findings</p>'
    meta = " · ".join(x for x in (
        e.uid, f"score {e.score:.0f}", f"{e.duration_s:.1f} s", e.task, e.robot, e.operator,
        "passed" if e.passed else "rejected") if x)
    return (f'<section class="episode" id="ep-{index}" data-uid="{_e(e.uid)}">'
            f'<h3>{_grade(e.grade)} {_e(e.name)} <span class="muted">{_e(meta)}</span></h3>'
            f"{body}</section>")


_SPARK = "▁▂▃▄▅▆▇█"


def _spark(values: list[float | None]) -> str:
    """A text sparkline over [0, 1]: one block per version, a gap where a value is missing."""
    return "".join(" " if v is None else _SPARK[min(int(v * (len(_SPARK) - 1) + 0.5),
                                                    len(_SPARK) - 1)] for v in values)


def _quality(data: ReportData) -> str:
    """The version's quality measures (ISO/IEC 5259-2), each with its history over versions."""
    if not data.quality:
        return ""
    versions = [v for v, _ in data.quality]
    now = data.quality[-1][1]
    rows = []
    for m, entry in now.items():
        if not isinstance(entry, dict):
            continue
        hist = [q.get(m, {}).get("value") if isinstance(q.get(m), dict) else None
                for _, q in data.quality]
        v = entry.get("value")
        rows.append(f"<tr><td>{_e(m)}</td><td class=\"num\">"
                    f"{'—' if v is None else f'{v:.3f}'}</td>"
                    f"<td class=\"spark\" title=\"v{versions[0]:04d} … v{versions[-1]:04d}\">"
                    f"{_e(_spark(hist))}</td><td class=\"muted\">"
                    f"{_e(entry.get('definition', ''))}</td></tr>")
    span = (f"versions v{versions[0]:04d}–v{versions[-1]:04d}" if len(versions) > 1
            else f"version v{versions[0]:04d}")
    return ("<section id=\"quality\"><h2>Quality measures</h2><p class=\"muted\">"
            f"In the terms of {_e(str(now.get('standard', 'ISO/IEC 5259-2')))}; each from 0 to "
            f"1, with its history over {span} (oldest first).</p><table><thead><tr>"
            "<th>measure</th><th>value</th><th>by version</th><th>definition</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></section>")


def _redraw(task: FigureTask, why: str) -> Drawn:
    """A figure its worker did not draw (it raised, timed out or died), drawn here instead;
    when it fails here too, a note takes its place and the page goes on."""
    log.warning("the %s figure of the report was not drawn on its worker (%s); drawing it here",
                task.kind, why)
    try:
        return Drawn(figures.draw(task))
    except Exception as exc:
        log.warning("the %s figure could not be drawn: %s: %s", task.kind,
                    type(exc).__name__, exc)
        return Drawn(failed=f"{type(exc).__name__}: {exc}")


def _collect(tasks: list[FigureTask], pending: Iterator[tuple[int, TaskResult]],
             on_progress: Progress | None) -> list[Drawn]:
    out = [Drawn() for _ in tasks]
    for n, (i, res) in enumerate(pending, 1):
        out[i] = Drawn(res.value) if res.status == "ok" else _redraw(tasks[i], res.why)
        if on_progress:
            on_progress("drawing figures", n, len(tasks))
    return out


def render(data: ReportData, on_progress: Progress | None = None, *,
           workers: int | None = None, timeout: float | None = FIGURE_TIMEOUT_S) -> str:
    """The whole page as one string.

    The figures (the two summaries, one per plotted episode) are drawn in parallel on the
    worker pool (``workers`` processes, default one per core) while this process reads the
    camera frames and writes the tables.
    """
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    eps = data.episodes
    plotted = [i for i, e in enumerate(eps) if e.series]
    tasks = [FigureTask.of("summary", eps), FigureTask.of("distributions", eps),
             *(FigureTask.of("episode", [eps[i]]) for i in plotted)]
    preload_also(REPORT_MODULES)  # counts when no pool runs in this process yet
    try:
        pending = start_tasks(figures.draw, tasks, workers=workers, timeout=timeout)
    except Exception as exc:  # no worker can be started here (a daemonic process): all here
        why = f"no worker could be started: {type(exc).__name__}: {exc}"
        pending = iter([(i, TaskResult("error", exc, why)) for i in range(len(tasks))])
    thumbs = []  # meanwhile, the camera frames (their readers live in this process)
    for i, e in enumerate(eps):
        if on_progress:
            on_progress(f"drawing {e.name}", i, len(eps))
        thumbs.append(_thumbs(e, list(_marks(e).values())) if e.frame_at else "")
    drawn = _collect(tasks, pending, on_progress)
    plots = dict(zip(plotted, drawn[2:], strict=True))
    parts = [_summary(data, drawn[0], drawn[1]), _quality(data), "<h2>Episodes</h2>",
             *(_episode(e, i, plots.get(i, Drawn()), thumbs[i]) for i, e in enumerate(eps))]
    source = f" from {_e(data.source)}" if data.source else ""
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>embodiq quality report — {_e(data.title)}</title>"
            f"<style>{CSS}</style></head><body><h1>Quality report — {_e(data.title)}</h1>"
            f"<p class=\"muted\">made by embodiq on {made}{source}; failing and lowest-scoring "
            "episodes first; times are seconds from each episode's first frame</p>"
            f"{''.join(parts)}</body></html>")


def build_report(out: Path, *, store: Store | None = None, name: str | None = None,
                 version: int | None = None, paths: list[Path] | None = None,
                 max_episodes: int = 20, on_progress: Progress | None = None,
                 workers: int | None = None) -> Path:
    """Write the report of a published dataset (``name``) or of loose recordings (``paths``).

    ``max_episodes`` episodes (failing and lowest-scoring first) are plotted in detail; the
    others are listed with their findings. The figures are drawn on ``workers`` processes
    (default one per core). Raises ``StoreError`` when the dataset or version is not in the
    store. Returns the path written (atomically).
    """
    if name is not None:
        store = store or Store()
        data = from_published(store.version(name, version), store.quarantine_dir,
                              max_episodes, on_progress)
    else:
        data = from_recordings(paths or [], max_episodes, on_progress)
    return atomic_write_bytes(Path(out),
                              render(data, on_progress, workers=workers).encode("utf-8"))
