"""Render the report: matplotlib figures as inline PNG, inline CSS, no script, no network.

matplotlib because the page must open offline and stay static: figures are plain images that
any browser (or a PDF printer) shows, with no JavaScript runtime to load or trust.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pipelines.report.model import EpisodeView, ReportData, from_published, from_recordings
from pipelines.store import Store, atomic_write_bytes

GRADE_COLOURS = {"A": "#2e7d32", "B": "#f9a825", "C": "#ef6c00", "F": "#c62828"}
SEV_COLOURS = {"error": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#212121;
max-width:1200px}
h1{margin-bottom:.2rem} .muted{color:#666} table{border-collapse:collapse;margin:.5rem 0 1rem}
td,th{border:1px solid #ddd;padding:.25rem .5rem;font-size:.9rem;text-align:left;vertical-align:top}
th{background:#f5f5f5} .grade{font-weight:bold;color:#fff;padding:.1rem .5rem;border-radius:.3rem}
.episode{border:1px solid #ddd;border-radius:.5rem;padding:1rem;margin:1.5rem 0}
.sev-error{color:#c62828;font-weight:bold} .sev-warning{color:#ef6c00;font-weight:bold}
.sev-info{color:#1565c0} img{max-width:100%} .thumbs img{height:120px;margin-right:.5rem}
.cards{display:flex;gap:1rem;flex-wrap:wrap} .card{border:1px solid #ddd;border-radius:.5rem;
padding:.5rem 1rem} .card b{font-size:1.5rem;display:block}
"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _img(src: str, alt: str, cls: str = "plot") -> str:
    return f'<img class="{cls}" alt="{html.escape(alt)}" src="{src}">'


def _frame_png(frame: np.ndarray) -> str:
    import cv2

    h, w = frame.shape[:2]
    scale = 160 / max(w, 1)
    small = cv2.resize(frame, (160, max(int(h * scale), 1)), interpolation=cv2.INTER_AREA)
    _ok, buf = cv2.imencode(".png", cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode()


def _rel(t_ns: int | None, t0: int | None) -> float | None:
    if t_ns is None or t0 is None:
        return None
    return (t_ns - t0) / 1e9


def _summary(data: ReportData) -> str:
    eps = data.episodes
    grades = Counter(e.grade for e in eps)
    n_pass = sum(e.passed for e in eps)
    cards = "".join(f'<div class="card">{k}<b>{v}</b></div>' for k, v in (
        ("episodes", len(eps)), ("passed", n_pass), ("quarantined", len(eps) - n_pass),
        ("pass rate", f"{n_pass / max(len(eps), 1):.0%}")))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3))
    ks = ["A", "B", "C", "F"]
    axes[0].bar(ks, [grades.get(k, 0) for k in ks], color=[GRADE_COLOURS[k] for k in ks])
    axes[0].set_title("episodes by grade")
    failing = Counter(f.check_id for e in eps for f in e.findings
                      if f.severity.value in ("error", "warning"))
    top = failing.most_common(8)
    axes[1].barh([k for k, _ in top][::-1], [v for _, v in top][::-1], color="#c62828")
    axes[1].set_title("checks that fail most (errors and warnings)")
    axes[2].hist([e.score for e in eps], bins=20, range=(0, 100), color="#455a64")
    axes[2].set_title("quality scores")
    fig.tight_layout()
    counts = ""
    for label, key in (("task", "task"), ("robot", "robot"), ("operator", "operator"),
                       ("site", "site")):
        c = Counter(getattr(e, key) or "?" for e in eps)
        rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{v}</td></tr>"
                       for k, v in c.most_common())
        counts += f"<table><tr><th>{label}</th><th>episodes</th></tr>{rows}</table>"
    fig2, ax = plt.subplots(1, 2, figsize=(10, 2.6))
    ax[0].hist([e.duration_s for e in eps], bins=20, color="#455a64")
    ax[0].set_title("durations (s)")
    jerks = [f.value for e in eps for f in e.findings if f.check_id == "motion.jerk" and f.value]
    ax[1].hist(jerks or [0], bins=20, color="#455a64")
    ax[1].set_title("RMS jerk (motion.jerk)")
    fig2.tight_layout()
    ds = "".join(f'<tr><td class="sev-{f.severity.value}">{f.severity.value}</td>'
                 f"<td>{f.check_id}</td><td>{html.escape(f.message)}</td></tr>"
                 for f in data.dataset_findings)
    ds_table = (f"<h3>Dataset findings</h3><table><tr><th>severity</th><th>check</th>"
                f"<th>message</th></tr>{ds}</table>") if ds else ""
    return (f'<section id="summary"><div class="cards">{cards}</div>'
            f'{_img(_png(fig), "summary plots")}{_img(_png(fig2), "distributions")}'
            f'<div class="cards">{counts}</div>{ds_table}</section>')


def _episode(e: EpisodeView, index: int) -> str:
    colour = GRADE_COLOURS.get(e.grade, "#666")
    rows = []
    spans = []
    for k, f in enumerate(e.findings):
        a, b = _rel(f.t_start_ns, e.t0_ns), _rel(f.t_end_ns, e.t0_ns)
        where = "" if a is None else f"{a:.2f}–{b:.2f} s" if b is not None and b != a \
            else f"{a:.2f} s"
        if (a is not None and f.severity.value != "info") or (a is not None and
                                                            f.check_id == "motion.idle"):
            spans.append((a, b if b is not None else a, f))
        rows.append(
            f'<tr class="finding" id="f-{index}-{k}" data-check="{f.check_id}" '
            f'data-t-start="{"" if a is None else f"{a:.3f}"}" '
            f'data-t-end="{"" if b is None else f"{b:.3f}"}">'
            f'<td class="sev-{f.severity.value}">{f.severity.value}</td><td>{f.check_id}</td>'
            f'<td>{html.escape(f.stream or "")}</td><td>{where}</td>'
            f"<td>{html.escape(f.message)}</td></tr>")
    plot = ""
    if e.series:
        fig, axes = plt.subplots(len(e.series), 1, figsize=(12, 2.4 * len(e.series)),
                                 sharex=True, squeeze=False)
        for ax, s in zip(axes[:, 0], e.series, strict=True):
            n = min(s.values.shape[1], 8)
            for j in range(n):
                ax.plot(s.t_s, s.values[:, j], lw=0.8,
                        label=s.channels[j] if j < len(s.channels) else str(j))
            ax.set_ylabel(s.name)
            for a, b, f in spans:
                c = SEV_COLOURS.get(f.severity.value, "#666")
                if f.check_id == "motion.idle":
                    ax.axvspan(a, b, color="#1565c0", alpha=0.06)
                elif b - a > 1e-3:
                    ax.axvspan(a, b, color=c, alpha=0.25)
                else:
                    ax.axvline(a, color=c, lw=1.5)
                ax.annotate(f.check_id, (a, 1.0), xycoords=("data", "axes fraction"),
                            fontsize=7, color=c, rotation=90, va="top")
        axes[0, 0].legend(fontsize=6, ncol=4, loc="upper right")
        axes[-1, 0].set_xlabel("seconds from the episode's first frame")
        fig.tight_layout()
        plot = _img(_png(fig), f"trajectories of {e.name}")
    thumbs = []
    for a, _b, f in spans:
        if f.check_id.startswith("video.") and f.stream in e.frame_at:
            for t in (max(a - 0.5, 0), a, a + 0.5):
                frame = e.frame_at[f.stream](t)
                if frame is not None:
                    thumbs.append(_img(_frame_png(frame), f"{f.stream} at {t:.2f} s "
                                                           f"({f.check_id})", "thumb"))
            break
    thumbs_html = (f'<div class="thumbs"><p class="muted">camera frames around the first video '
                   f"finding</p>{''.join(thumbs)}</div>") if thumbs else ""
    table = ("<table><tr><th>severity</th><th>check</th><th>stream</th><th>where</th>"
             f"<th>message</th></tr>{''.join(rows)}</table>") if rows else \
        '<p class="muted">no findings</p>'
    return (f'<section class="episode" id="ep-{index}" data-uid="{e.uid}">'
            f'<h3><span class="grade" style="background:{colour}">{e.grade}</span> '
            f"{html.escape(e.name)} <span class=\"muted\">{e.uid} · score {e.score:.0f} · "
            f"{e.duration_s:.1f} s · {html.escape(e.task)}</span></h3>"
            f"{plot}{thumbs_html}{table}</section>")


def render(data: ReportData) -> str:
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = _summary(data) + "".join(_episode(e, i) for i, e in enumerate(data.episodes))
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>embodiq quality report — {html.escape(data.title)}</title>"
            f"<style>{CSS}</style></head><body><h1>Quality report — "
            f"{html.escape(data.title)}</h1><p class=\"muted\">made by embodiq on {made}; "
            "failing and lowest-scoring episodes first</p>"
            f"{body}</body></html>")


def build_report(out: Path, *, store: Store | None = None, name: str | None = None,
                 version: int | None = None, paths: list[Path] | None = None,
                 max_episodes: int = 20,
                 on_progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Write the report of a published dataset (``name``) or of loose recordings (``paths``)."""
    if name is not None:
        store = store or Store()
        data = from_published(store.version_dir(name, version), store.quarantine_dir,
                              max_episodes, on_progress)
    else:
        data = from_recordings(paths or [], max_episodes, on_progress)
    return atomic_write_bytes(Path(out), render(data).encode("utf-8"))
