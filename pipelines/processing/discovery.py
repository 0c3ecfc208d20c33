"""Guarded discovery and registration: detecting a layout and listing an episode's files open
the file, so both run in workers under the watchdog too."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from pipelines.processing.pool import DEFAULT_TIMEOUT_S, run_tasks
from pipelines.processing.registration import SourceRecord, register_source
from pipelines.sources import SourceRef, Unrecognised
from pipelines.store import Store


def _discover_task(item: tuple[str, str | None, bool]) -> tuple[list[SourceRef],
                                                                   list[Unrecognised]]:
    from pipelines.sources import _DATA_SUFFIXES, discover

    path, layout, top = item
    refs, bad = discover([path], layout=layout)
    if not top:  # inside a walked folder, only data-like files are worth a report
        bad = [b for b in bad if b.path.suffix.lower() in _DATA_SUFFIXES]
    return refs, bad


def discover_guarded(paths: Iterable[Path | str], layout: str | None = None, *,
                     workers: int | None = None, timeout: float | None = DEFAULT_TIMEOUT_S
                     ) -> tuple[list[SourceRef], list[Unrecognised]]:
    """:func:`pipelines.sources.discover` with layout detection in workers under the watchdog.

    Detecting a layout opens the file, and a corrupt file can hang the HDF5 library there. A
    folder whose detection is stopped is detected again file by file; a file whose detection
    is stopped comes back as unrecognised, saying so.
    """
    from pipelines.sources import adapters

    if layout is not None and layout not in adapters():
        raise ValueError(f"unknown layout '{layout}' (known: {', '.join(adapters())})")
    return _discover_all([(Path(p), True) for p in paths], layout, workers, timeout)


def _discover_all(entries: list[tuple[Path, bool]], layout: str | None, workers: int | None,
                  timeout: float | None) -> tuple[list[SourceRef], list[Unrecognised]]:
    results = run_tasks(_discover_task, [(str(p), layout, top) for p, top in entries],
                        workers=workers, timeout=timeout)
    refs: list[SourceRef] = []
    bad: list[Unrecognised] = []
    for (path, _top), res in zip(entries, results, strict=True):
        if res.status == "ok":
            refs += res.value[0]
            bad += res.value[1]
        elif res.status == "error":
            raise res.value
        elif path.is_dir():
            children = [(c, False) for c in sorted(path.iterdir()) if not c.name.startswith(".")]
            more_refs, more_bad = _discover_all(children, layout, workers, timeout)
            refs += more_refs
            bad += more_bad
        else:
            bad.append(Unrecognised(path, res.why.replace("reading it", "detecting its layout")
                                    + "; the file is probably corrupt"))
    return refs, bad


def _register_task(item: tuple[str, SourceRef, str, str | None]) -> SourceRecord:
    store_root, ref, dataset, mapping = item
    return register_source(Store(store_root), ref, dataset, Path(mapping) if mapping else None)


def register_guarded(store: Store, refs: Sequence[SourceRef], dataset: str,
                     mapping: Path | None = None, *, workers: int | None = None,
                     timeout: float | None = DEFAULT_TIMEOUT_S
                     ) -> tuple[list[SourceRecord], list[Unrecognised]]:
    """:func:`register_source` for many recordings in parallel, under the watchdog (listing an
    episode's files opens it too)."""
    items = [(str(store.root), ref, dataset, str(mapping) if mapping else None) for ref in refs]
    records: list[SourceRecord] = []
    bad: list[Unrecognised] = []
    for ref, res in zip(refs, run_tasks(_register_task, items, workers=workers,
                                        timeout=timeout), strict=True):
        if res.status == "ok":
            records.append(res.value)
        elif res.status == "error":
            raise res.value
        else:
            bad.append(Unrecognised(ref.path, res.why + "; the file is probably corrupt"))
    return records, bad
