"""Choosing the episodes of an export, their splits, their order and (optionally) their active span.

Selection is a SQL boolean expression over ``episodes.parquet`` evaluated by polars. Only episodes
that passed the gate have frames, so a selection that includes a failed episode is refused rather
than silently shrunk: the researcher learns that the filter does not mean what they thought.

The expression is bounded (length, operators, nesting) and its quotes and parentheses checked
here, before polars sees it: polars' SQL parser and planner recurse over the expression, so a
long chain of terms takes minutes or overflows the stack and kills the process.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import polars as pl

from pipelines.export.model import EpisodeSlice, ExportError
from pipelines.export.splits import SplitError, assign, parse_splits

DEFAULT_WHERE = "passed"
#: Bounds of a ``--where`` expression, far above any filter a person writes.
MAX_WHERE_CHARS = 2000
MAX_WHERE_OPERATORS = 100
MAX_WHERE_DEPTH = 16
#: Fewer frames than this left after trimming means the active span is not usable; keep all.
MIN_TRIMMED_FRAMES = 2


# a quoted string ('it''s'), a quoted name ("a b"), a word, a two-character operator, or any
# other single character
_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_]*|<=|>=|<>|!=|\|\||\S""")
_WORD_OPERATORS = {"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "BETWEEN", "IS"}
_SYMBOL_OPERATORS = {*"=<>+-*/%^&|~", "<=", ">=", "<>", "!=", "||"}
# polars reports some unsupported SQL by printing its parse tree: not for people
_PARSE_TREE = re.compile(r"\b(Ident|Identifier|Span|Location|ObjectName|Value)\(|\{ \w+: ")


def _shown(expr: str) -> str:
    """The expression quoted for a message, cut when long."""
    return f'"{expr}"' if len(expr) <= 120 else f'"{expr[:60]}…" ({len(expr):,} characters)'


def check_where(where: str, source: Path | None = None) -> None:
    """Refuse an expression too long, too complex or visibly malformed, in plain words.

    Bounds: at most :data:`MAX_WHERE_CHARS` characters, :data:`MAX_WHERE_OPERATORS` operators
    (``AND``, ``OR``, ``NOT``, ``IN``, ``LIKE``, ``BETWEEN``, ``IS``, comparisons, arithmetic)
    and :data:`MAX_WHERE_DEPTH` nested parentheses; quotes and parentheses must pair up.
    """
    over = f" over the columns of {source}" if source is not None else ""

    def refuse(reason: str) -> ExportError:
        return ExportError(f"--where {_shown(where)} is not a valid filter{over}: {reason}")

    if len(where) > MAX_WHERE_CHARS:
        raise refuse(f"it is {len(where):,} characters long, a filter may have at most "
                     f"{MAX_WHERE_CHARS:,}")
    opened: list[int] = []
    operators = 0
    for m in _TOKEN.finditer(where):
        tok, pos = m.group(), m.start() + 1
        if tok[0] in "'\"" and (len(tok) < 2 or tok[-1] != tok[0]):
            raise refuse(f"the quote {tok[0]} at character {pos} is never closed")
        if tok == "(":
            opened.append(pos)
            if len(opened) > MAX_WHERE_DEPTH:
                raise refuse(f"parentheses are nested more than {MAX_WHERE_DEPTH} deep (at "
                             f"character {pos})")
        elif tok == ")":
            if not opened:
                raise refuse(f"the ')' at character {pos} closes no '('")
            opened.pop()
        elif tok.upper() in _WORD_OPERATORS or tok in _SYMBOL_OPERATORS:
            operators += 1
    if operators > MAX_WHERE_OPERATORS:
        raise refuse(f"it has {operators:,} operators, a filter may have at most "
                     f"{MAX_WHERE_OPERATORS} (AND, OR, NOT, IN, LIKE, comparisons, arithmetic)")
    if opened:
        raise refuse(f"the '(' at character {opened[-1]} is never closed")


def _polars_reason(exc: Exception) -> str:
    """The first line of a polars complaint, without its echo of the expression or parse tree."""
    text = str(exc).strip()
    first = text.splitlines()[0].strip() if text else ""
    if not first or first.startswith("unable to parse"):
        return "it is not a valid SQL expression"
    if _PARSE_TREE.search(first):
        return "it uses SQL that filters do not support"
    return first


def select_episodes(episodes: pl.DataFrame, where: str | None, source: Path) -> pl.DataFrame:
    """Rows of ``episodes`` matching ``where`` (default ``passed``); all must have passed."""
    expr = where if where and where.strip() else DEFAULT_WHERE
    check_where(expr, source)
    try:
        chosen = episodes.filter(pl.sql_expr(expr))
    except Exception as exc:  # polars raises several types for bad SQL, unknown columns, types
        raise ExportError(f"--where \"{expr}\" is not a valid filter over the columns of "
                          f"{source} ({_polars_reason(exc)})") from None
    failed = chosen.filter(~pl.col("passed").fill_null(False))
    if failed.height:
        names = [r["source_name"] or r["episode_uid"] for r in failed.head(3).iter_rows(named=True)]
        more = f" and {failed.height - 3} more" if failed.height > 3 else ""
        raise ExportError(
            f"--where \"{expr}\" selects {failed.height} episode(s) of {source} that failed the "
            f"quality gate ({', '.join(names)}{more}); failed episodes have no frames to export, "
            f"add \"AND passed\" to the filter")
    if chosen.height == 0:
        raise ExportError(f"--where \"{expr}\" selects no episode of {source}")
    return chosen


SPAN_COLUMNS = ["episode_uid", "check_id", "t_start_ns", "t_end_ns"]


def active_spans(findings: Path | pl.DataFrame) -> dict[str, tuple[int, int]]:
    """episode_uid -> the active span (recording clock, ns) of its ``motion.idle`` finding,
    from a version's findings table (or its file)."""
    if isinstance(findings, pl.DataFrame):
        f = findings.select(SPAN_COLUMNS)
    elif not findings.is_file():
        return {}
    else:
        f = pl.read_parquet(findings, columns=SPAN_COLUMNS)
    idle = f.filter((pl.col("check_id") == "motion.idle") & pl.col("episode_uid").is_not_null()
                    & pl.col("t_start_ns").is_not_null() & pl.col("t_end_ns").is_not_null())
    return {r["episode_uid"]: (int(r["t_start_ns"]), int(r["t_end_ns"]))
            for r in idle.iter_rows(named=True)}


def trimmed_range(n_frames: int, fps: float, t0_ns: int | None,
                  span: tuple[int, int] | None) -> tuple[int, int]:
    """Published frame range ``[start, stop)`` covering the active span (whole episode if none).

    The span is on the recording's clock; ``t0_ns`` (the time of frame 0) brings it onto the
    frames table. The range is rounded outwards so the active motion is never cut.
    """
    if span is None or t0_ns is None or n_frames <= 0:
        return 0, n_frames
    a, b = span
    start = max(math.floor((a - t0_ns) * fps / 1e9 + 1e-9), 0)
    stop = min(math.ceil((b - t0_ns) * fps / 1e9 - 1e-9) + 1, n_frames)
    if stop - start < MIN_TRIMMED_FRAMES:
        return 0, n_frames
    return start, stop


def plan_slices(episodes: pl.DataFrame, source: Path, *, where: str | None, split: str,
                seed: int, group_by: str | None,
                spans: dict[str, tuple[int, int]] | None = None) -> list[EpisodeSlice]:
    """The selected episodes with their split and kept range, ordered split by split.

    Within a split, episodes are ordered by start time then uid, so an export is reproducible
    and, in LeRobot, each split is one contiguous range of episode indices.
    """
    if group_by and group_by not in episodes.columns:
        raise ExportError(f"--group-by '{group_by}' is not a column of {source} "
                          f"(columns: {', '.join(episodes.columns)})")
    try:
        fractions = parse_splits(split)
    except SplitError as exc:
        raise ExportError(f"--split: {exc}") from None
    chosen = select_episodes(episodes, where, source)
    slices = []
    for row in chosen.iter_rows(named=True):
        key = row["episode_uid"] if not group_by else \
            ("" if row[group_by] is None else str(row[group_by]))
        start, stop = trimmed_range(int(row["n_frames"]), float(row["fps"]), row["t0_ns"],
                                    (spans or {}).get(row["episode_uid"]))
        slices.append(EpisodeSlice(row, assign(key, fractions, seed), start, stop))
    order = {name: i for i, (name, _) in enumerate(fractions)}
    slices.sort(key=lambda s: (order[s.split], str(s.row.get("started_at") or ""), s.uid))
    empty = [s for s in slices if s.stop <= s.start]
    if empty:
        raise ExportError(f"episode {empty[0].uid} of {source} passed but has no frames in the "
                          "published frames table")
    return slices
