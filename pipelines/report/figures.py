"""The report's figures, drawn with matplotlib and embedded as base64 PNG.

matplotlib because the page must open offline and stay static: a figure is a plain image that
any browser (or a PDF printer) shows, with no JavaScript runtime to load or trust, and the library
is well kept and already part of every scientific Python install.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipelines.report.model import EpisodeView
from schemas.findings import Finding

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 90
GRADE_COLOURS = {"A": "#2e7d32", "B": "#f9a825", "C": "#ef6c00", "F": "#c62828"}
SEV_COLOURS = {"error": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}
IDLE_COLOUR = "#9e9e9e"
#: Channels drawn per stream; channels a finding names are always among them.
MAX_CHANNELS = 10
#: Findings drawn in an episode's marker lane (the table lists them all).
MAX_LANE = 12


@dataclass(frozen=True)
class Marker:
    """A finding placed on the episode's time axis (seconds from its first frame)."""

    start: float
    end: float
    finding: Finding

    @property
    def label(self) -> str:
        if self.end - self.start < 5e-4:
            return f"{self.finding.check_id} @ {self.start:.2f} s"
        return f"{self.finding.check_id} {self.start:.2f}–{self.end:.2f} s"


def markers(view: EpisodeView) -> list[Marker]:
    """The episode's findings that have a place in time, in time order."""
    out = []
    for f in view.findings:
        a = view.seconds(f.t_start_ns)
        if a is None:
            continue
        b = view.seconds(f.t_end_ns)
        out.append(Marker(a, max(a, b if b is not None else a), f))
    return sorted(out, key=lambda m: (m.start, m.finding.check_id))


def _plt():
    """pyplot, imported at the first figure drawn: a process that only writes the page, its
    figures drawn on workers, never loads matplotlib (about a second)."""
    from pipelines.report.pyplot import plt

    return plt


def png(fig: Figure, tight: bool = False) -> str:
    """A figure as a ``data:`` URI (and the figure closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight" if tight else None)
    _plt().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def frame_png(frame: np.ndarray, width: int = 200) -> str:
    """A camera frame (RGB, or 16-bit depth) as a small PNG ``data:`` URI."""
    import cv2

    img = np.asarray(frame)
    if img.dtype != np.uint8:  # depth: stretch to 8 bits for viewing
        hi = float(np.nanmax(img)) or 1.0
        img = np.clip(img.astype(np.float32) * (255.0 / hi), 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    h, w = img.shape[:2]
    scale = width / max(w, 1)
    small = cv2.resize(img, (width, max(int(round(h * scale)), 1)),
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST)
    _ok, buf = cv2.imencode(".png", cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode()


def summary_figure(episodes: list[EpisodeView]) -> str:
    """Episodes by grade, and the checks that fail most (errors and warnings)."""
    fig, axes = _plt().subplots(1, 2, figsize=(12, 3.0), gridspec_kw={"width_ratios": [1, 2.2]})
    grades = Counter(e.grade for e in episodes)
    ks = ["A", "B", "C", "F"]
    bars = axes[0].bar(ks, [grades.get(k, 0) for k in ks], color=[GRADE_COLOURS[k] for k in ks])
    axes[0].bar_label(bars, fontsize=8)
    axes[0].set_title("episodes by grade", fontsize=10)
    failing = Counter(f.check_id for e in episodes for f in e.findings
                      if f.severity.value in ("error", "warning"))
    top = failing.most_common(8)[::-1]
    if top:
        hb = axes[1].barh([k for k, _ in top], [v for _, v in top], color="#c62828")
        axes[1].bar_label(hb, fontsize=8)
    else:
        axes[1].text(0.5, 0.5, "no errors or warnings", ha="center", va="center",
                     transform=axes[1].transAxes)
    axes[1].set_title("checks that fail most (findings with severity error or warning)",
                      fontsize=10)
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return png(fig)


def distributions_figure(episodes: list[EpisodeView]) -> str:
    """Durations, quality scores and RMS jerk (the ``motion.jerk`` findings' value)."""
    fig, axes = _plt().subplots(1, 3, figsize=(12, 2.6))
    durations = [e.duration_s for e in episodes if e.duration_s > 0]
    jerks = [f.value for e in episodes for f in e.findings
             if f.check_id == "motion.jerk" and f.value is not None and np.isfinite(f.value)]
    panels: tuple[tuple[list[float], str, tuple[float, float] | None], ...] = (
        (durations, "episode duration (s)", None),
        ([e.score for e in episodes], "quality score", (0, 100)),
        (jerks, "RMS jerk (motion.jerk)", None))
    for ax, (values, title, rng) in zip(axes, panels, strict=True):
        if values:
            lo, hi = min(values), max(values)
            if rng is None and hi - lo <= 0.01 * abs(hi):  # (nearly) all equal: one clear bar
                pad = max(abs(hi) * 0.1, 1e-3)
                rng = (lo - pad, hi + pad)
            ax.hist(values, bins=20, range=rng, color="#455a64")
            ax.ticklabel_format(axis="x", useOffset=False, style="plain")
        else:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title, fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return png(fig)


def _channels(values: np.ndarray, names: list[str], findings: list[Finding]) -> list[int]:
    """The channels worth drawing: those a finding names, then the ones that move most."""
    n = values.shape[1]
    text = " ".join(f.message for f in findings)
    named = [j for j in range(n)
             if j < len(names) and re.search(rf"\b{re.escape(names[j])}\b", text)]
    with np.errstate(all="ignore"):
        spread = np.nan_to_num(np.nanmax(values, axis=0) - np.nanmin(values, axis=0)) \
            if len(values) else np.zeros(n)
    rest = [j for j in np.argsort(-spread) if j not in named]
    return sorted((named + rest)[:MAX_CHANNELS])


def _lanes(ax, marks: list[Marker], x0: float, x1: float) -> None:
    """One row per finding: a bar over its span and its label, like a Gantt chart."""
    width = max(x1 - x0, 1e-9)
    for row, m in enumerate(marks):
        colour = SEV_COLOURS.get(m.finding.severity.value, "#666")
        y = len(marks) - 1 - row
        if m.finding.check_id == "motion.idle":  # the span is the active part
            for a, b in ((x0, m.start), (m.end, x1)):
                if b > a:
                    ax.barh(y, b - a, left=a, height=0.6, color=IDLE_COLOUR, alpha=0.5)
            label = f"motion.idle: active {m.start:.2f}–{m.end:.2f} s"
        else:
            ax.barh(y, max(m.end - m.start, width * 0.004), left=m.start, height=0.6,
                    color=colour)
            label = m.label
        right = m.end < x0 + 0.62 * width
        ax.text(m.end + width * 0.01 if right else m.start - width * 0.01, y, label,
                ha="left" if right else "right", va="center", fontsize=8, color=colour,
                fontweight="bold" if m.finding.severity.value == "error" else "normal")
    ax.set_ylim(-0.6, len(marks) - 0.4)
    ax.set_yticks([])
    ax.set_title("findings in time", fontsize=9, loc="left")
    ax.spines[["top", "right", "left"]].set_visible(False)


def _shade(ax, marks: list[Marker], x0: float, x1: float) -> None:
    from matplotlib.transforms import blended_transform_factory

    trans = blended_transform_factory(ax.transData, ax.transAxes)
    width = max(x1 - x0, 1e-9)
    for m in marks:
        colour = SEV_COLOURS.get(m.finding.severity.value, "#666")
        if m.finding.check_id == "motion.idle":
            for a, b in ((x0, m.start), (m.end, x1)):
                if b > a:
                    ax.axvspan(a, b, color=IDLE_COLOUR, alpha=0.15, lw=0)
        elif m.end - m.start < width * 0.004:
            ax.axvline(m.start, color=colour, lw=1.5, alpha=0.9)
        else:
            ax.axvspan(m.start, m.end, color=colour, alpha=0.22, lw=0)
            ax.plot([m.start, m.end], [1, 1], color=colour, lw=4, transform=trans,
                    clip_on=False, solid_capstyle="butt")


def episode_figure(view: EpisodeView) -> str | None:
    """Trajectories and actions over time with every timed finding marked where it happens."""
    if not view.series:
        return None
    marks = markers(view)
    lane = marks[:MAX_LANE]
    t_all = np.concatenate([s.t_s for s in view.series])
    x0 = min(float(np.nanmin(t_all)), *(m.start for m in marks)) if marks else \
        float(np.nanmin(t_all))
    x1 = max(float(np.nanmax(t_all)), *(m.end for m in marks)) if marks else \
        float(np.nanmax(t_all))
    pad = (x1 - x0) * 0.01 or 0.05
    heights = ([0.3 + 0.28 * len(lane)] if lane else []) + [1.9] * len(view.series)
    plt = _plt()
    fig = plt.figure(figsize=(12.5, sum(heights) + 0.8))
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights, hspace=0.35,
                            left=0.06, right=0.83, top=1 - 0.3 / (sum(heights) + 0.8),
                            bottom=0.5 / (sum(heights) + 0.8))
    axes = [fig.add_subplot(grid[i, 0]) for i in range(len(heights))]
    for ax in axes[1:]:
        ax.sharex(axes[0])
    if lane:
        _lanes(axes[0], lane, x0, x1)
        plt.setp(axes[0].get_xticklabels(), visible=False)
    for ax, s in zip(axes[1:] if lane else axes, view.series, strict=True):
        shown = _channels(s.values, s.channels, view.findings)
        for j in shown:
            ax.plot(s.t_s, s.values[:, j], lw=0.9,
                    label=s.channels[j] if j < len(s.channels) else f"{s.name}[{j}]")
        _shade(ax, marks, x0, x1)
        ax.set_ylabel(s.name, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                  title=f"{s.name}: {len(shown)} of {s.values.shape[1]} channels",
                  title_fontsize=7)
        if ax is not axes[-1]:
            plt.setp(ax.get_xticklabels(), visible=False)
    axes[0].set_xlim(x0 - pad, x1 + pad)
    axes[-1].set_xlabel("seconds from the episode's first frame", fontsize=9)
    return png(fig)


@dataclass(frozen=True)
class FigureTask:
    """One figure of a report, as a worker draws it: what it shows, and only the data it needs
    (the episodes without their frame readers, which are functions of this process), so it
    pickles to a worker process."""

    kind: str  # "summary", "distributions" or "episode"
    episodes: tuple[EpisodeView, ...]

    @classmethod
    def of(cls, kind: str, episodes: list[EpisodeView]) -> FigureTask:
        keep_series = kind == "episode"  # the summaries need no trajectories
        return cls(kind, tuple(dataclasses.replace(
            e, frame_at={}, series=e.series if keep_series else []) for e in episodes))


#: What each kind of figure task draws.
_DRAW = {"summary": summary_figure, "distributions": distributions_figure,
         "episode": lambda episodes: episode_figure(episodes[0])}


def draw(task: FigureTask) -> str | None:
    """A figure task's ``data:`` URI (None for an episode with nothing to plot)."""
    plt = _plt()
    before = set(plt.get_fignums())
    try:
        return _DRAW[task.kind](list(task.episodes))
    except Exception:  # a figure half drawn is not left open
        for n in set(plt.get_fignums()) - before:
            plt.close(n)
        raise
