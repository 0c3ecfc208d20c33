"""Arrow schemas of the published tables (published dataset 1.0)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from schemas.findings import Finding

#: The quality measures published per episode and per version (ISO/IEC 5259-2 terms; their
#: definitions travel in each version's manifest).
QUALITY_MEASURES: tuple[str, ...] = (
    "completeness", "validity", "consistency", "accuracy", "timeliness", "currentness",
    "precision", "effectiveness", "credibility", "traceability", "similarity", "balance")

QUALITY_TYPE = pa.struct([(m, pa.float64()) for m in QUALITY_MEASURES])

EPISODES_SCHEMA = pa.schema([
    ("episode_uid", pa.string()),
    ("robot_uid", pa.string()),
    ("robot_model", pa.string()),
    ("robot_serial", pa.string()),
    ("operator_id", pa.string()),
    ("collection_mode", pa.string()),
    ("task", pa.string()),
    ("task_id", pa.string()),
    ("site", pa.string()),
    ("scene", pa.string()),
    ("started_at", pa.timestamp("us", tz="UTC")),
    ("success", pa.bool_()),
    ("duration_s", pa.float64()),
    ("n_frames", pa.int64()),
    ("fps", pa.float64()),
    ("grade", pa.string()),
    ("quality_score", pa.float64()),
    ("passed", pa.bool_()),
    ("source_sha256", pa.string()),
    ("source_name", pa.string()),
    ("layout", pa.string()),
    ("ingested_at", pa.timestamp("us", tz="UTC")),
    ("profile", pa.string()),
    ("t0_ns", pa.int64()),
    ("cameras", pa.list_(pa.string())),
    ("n_findings_error", pa.int64()),
    ("n_findings_warning", pa.int64()),
    ("n_findings_info", pa.int64()),
    ("quality", QUALITY_TYPE),
])

FINDINGS_SCHEMA = pa.schema([
    ("episode_uid", pa.string()),
    ("check_id", pa.string()),
    ("severity", pa.string()),
    ("stream", pa.string()),
    ("value", pa.float64()),
    ("threshold", pa.float64()),
    ("t_start_ns", pa.int64()),
    ("t_end_ns", pa.int64()),
    ("message", pa.string()),
    ("episode_uids", pa.list_(pa.string())),
])



def findings_rows(episode_uid: str | None, findings: Iterable[Finding]) -> list[dict[str, Any]]:
    rows = []
    for f in findings:
        d = f.to_dict()
        d.setdefault("episode_uids", None)
        d["episode_uid"] = episode_uid
        rows.append(d)
    return rows
