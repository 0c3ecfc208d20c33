"""Registration: a recording's files hashed and recorded under a stable partition key, so a
worker (or a later run) finds the very bytes that were registered, or learns they changed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipelines.sources import SourceRef, digest_source
from pipelines.store import Store, atomic_write_json, check_name
from schemas.assessment import utc_now


@dataclass
class SourceRecord:
    """A registered recording: what a ``recordings`` partition key points at."""

    key: str
    dataset: str
    path: str
    layout: str
    episode_key: str | None
    display_name: str
    files: dict[str, str]  # absolute path -> sha256
    primary_sha256: str
    size: int
    episode_uid: str
    registered_at: str
    #: The mapping file the source is read with (non-native layouts), if any.
    mapping: str | None = None

    @property
    def ref(self) -> SourceRef:
        return SourceRef(Path(self.path), self.layout, self.episode_key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SourceRecord:
        return cls(**d)


def registry_problem(store: Store) -> str | None:
    """Why the store's robot registry cannot be used (broken, or its server out of reach),
    or None. Asked once before recordings are read: that is the store's fault, to be said
    once, not every recording's (each would be quarantined as if it were corrupt)."""
    from robots.registry import RegistryError
    from robots.registry_backends import store_registry

    try:
        store_registry(store.registry_path)
    except RegistryError as exc:
        return str(exc)
    return None


def register_source(store: Store, ref: SourceRef, dataset: str,
                    mapping: Path | None = None) -> SourceRecord:
    """Hash the episode's files and record them under a stable partition key (idempotent)."""
    check_name(dataset)
    dig = digest_source(ref)
    shown = ref.display_name
    if not shown.isprintable() or "..." in shown:  # characters a partition key may not hold
        shown = f"source-{hashlib.sha256(shown.encode()).hexdigest()[:12]}"
    key = f"{dataset}/{shown}@{dig.episode_uid.removeprefix('ep-')[:10]}"
    path = store.source_record(key)
    if path.is_file():
        old = SourceRecord.from_dict(json.loads(path.read_text()))
        mapping_s = str(mapping.resolve()) if mapping else None
        if old.files == dig.files and old.path == str(ref.path) and old.mapping == mapping_s:
            return old
    rec = SourceRecord(
        key=key, dataset=dataset, path=str(ref.path), layout=ref.layout,
        episode_key=ref.episode_key, display_name=ref.display_name, files=dig.files,
        primary_sha256=dig.primary_sha256, size=dig.size, episode_uid=dig.episode_uid,
        registered_at=utc_now(), mapping=str(mapping.resolve()) if mapping else None,
    )
    atomic_write_json(path, rec.to_dict())
    return rec


def load_source_record(store: Store, key: str) -> SourceRecord:
    path = store.source_record(key)
    if not path.is_file():
        raise FileNotFoundError(
            f"recording '{key}' is not registered in {store.sources_dir}; "
            "ingest it with 'embodiq ingest' or drop it into the inbox")
    return SourceRecord.from_dict(json.loads(path.read_text()))


def verify_unchanged(rec: SourceRecord) -> list[str]:
    """Problems with the registered files now: missing, or bytes changed since registration."""
    from schemas.recording import sha256_file

    problems = []
    for p, sha in rec.files.items():
        fp = Path(p)
        if not fp.is_file():
            problems.append(f"{p} is missing")
        elif sha256_file(fp) != sha:
            problems.append(f"{p} changed since it was registered")
    return problems
