"""Finding recordings on disk, whatever their layout, and naming them stably.

A :class:`SourceRef` is one episode in one source (a file, or an episode inside a multi-episode
file or folder). Its identity — and so the ``episode_uid`` — comes from the bytes of the files it
is read from, so the same recording always gets the same uid wherever it lies.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipelines.adapters.base import Adapter
from robots.stamping import episode_uid_for
from schemas.findings import Finding, Severity, encodable
from schemas.limits import beyond_float32, rate_problem
from schemas.names import contained_problem
from schemas.read_result import ReadResult
from schemas.recording import sha256_file

#: Layouts tried in this order when sniffing a path; the native format first.
_PREFERRED_ORDER = ("embodiq", "aloha", "robomimic", "lerobot", "mcap")


def adapters() -> dict[str, Adapter]:
    """Every adapter module in ``pipelines.adapters`` that exposes ``ADAPTER``, by layout name."""
    return dict(_adapters())


@lru_cache(maxsize=1)
def _adapters() -> dict[str, Adapter]:
    # found once per process: every episode of every source asks for its adapter
    import pipelines.adapters as pkg

    found: dict[str, Adapter] = {}
    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name == "base" or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"pipelines.adapters.{mod.name}")
        adapter = getattr(module, "ADAPTER", None)
        if adapter is not None:
            found[adapter.name] = adapter
    order = {n: i for i, n in enumerate(_PREFERRED_ORDER)}
    return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))


@dataclass(frozen=True)
class SourceRef:
    path: Path
    layout: str
    episode_key: str | None = None

    @property
    def display_name(self) -> str:
        """The name people, tables and reports see: text UTF-8 can hold, whatever bytes the
        file system gave (undecodable bytes are shown as escapes; ``path`` keeps them)."""
        return encodable(self.path.name + (f"#{self.episode_key}" if self.episode_key else ""))

    @property
    def adapter(self) -> Adapter:
        return adapters()[self.layout]

    @property
    def root(self) -> Path:
        """The folder every file of the source must lie in: the source folder itself (a LeRobot
        dataset), else the folder of the source file."""
        return self.path if self.path.is_dir() else self.path.parent

    def files(self) -> list[Path]:
        """The adapter's files for this episode, less any outside :attr:`root` or reached
        through a symbolic link: those are never hashed or copied (the reader reports them)."""
        root = self.root
        return [f for f in self.adapter.source_files(self.path, self.episode_key)
                if f == self.path or contained_problem(root, f) is None]

    def read(self, mapping: dict | None = None) -> ReadResult:
        return read_source(self, mapping)


@dataclass
class Unrecognised:
    """A path no adapter claims: reported as an unreadable entry, never silently skipped."""

    path: Path
    reason: str

    def finding(self) -> Finding:
        return Finding(check_id="schema.unreadable", severity=Severity.ERROR,
                       message=f"{self.path}: {self.reason}")


#: Inside a walked folder, only files that look like recordings and match no layout are
#: reported; sidecar videos, licences and notes are not sources of their own.
_DATA_SUFFIXES = {".h5", ".hdf5", ".hdf", ".mcap", ".bag", ".db3"}


_HDF5_SUFFIXES = {".h5", ".hdf5", ".hdf"}


def _has_hdf5_magic(p: Path) -> bool:
    try:
        with open(p, "rb") as fh:
            return fh.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False


def discover(paths: Iterable[Path | str], layout: str | None = None
             ) -> tuple[list[SourceRef], list[Unrecognised]]:
    """Expand files and folders into episodes; folders are walked in sorted order.

    A folder that is itself a source (a LeRobot dataset) is one source; otherwise each file in it
    is sniffed. Sidecar-like files (videos, metadata) inside a walked folder are not sources of
    their own. Files that no layout claims come back as :class:`Unrecognised`.
    """
    registry = adapters()
    if layout is not None and layout not in registry:
        raise ValueError(f"unknown layout '{layout}' (known: {', '.join(registry)})")
    refs: list[SourceRef] = []
    bad: list[Unrecognised] = []

    def claim(p: Path) -> str | None:
        if layout is not None:
            # a forced layout claims every file, so its adapter reports what is wrong
            return layout if p.is_file() or registry[layout].detect(p) else None
        for name, adapter in registry.items():
            if adapter.detect(p):
                return name
        if p.is_file() and (p.suffix.lower() in _HDF5_SUFFIXES or _has_hdf5_magic(p)):
            return "embodiq"  # a broken or foreign HDF5 file: the reader says what is wrong
        return None

    # (st_dev, st_ino) of every real folder walked and file reported: a symbolic link back up
    # the tree (or two links to one file) never makes a folder walked twice or a file reported
    # twice, so a link loop ends and no duplicate is invented
    seen: set[tuple[int, int]] = set()

    def first_visit(p: Path) -> bool:
        try:
            st = p.stat()
        except OSError:
            return True  # unreadable: reported below, once per path given
        ident = (st.st_dev, st.st_ino)
        if ident in seen:
            return False
        seen.add(ident)
        return True

    def add(p: Path, name: str) -> None:
        for key in registry[name].episode_keys(p):
            refs.append(SourceRef(p.resolve(), name, key))

    def walk(p: Path, top: bool) -> None:
        if not top and p.is_symlink():
            # inside a folder, a link is never followed: its target may be anywhere (a key, a
            # password file, another store); the path given on the command line is the user's.
            # Links that look like recordings (or folders) are reported; sidecar-like ones are
            # left to the recording that names them, whose reader refuses them.
            suffix = p.suffix.lower()
            if not suffix or suffix in _DATA_SUFFIXES or suffix in _HDF5_SUFFIXES:
                bad.append(Unrecognised(p, "a symbolic link inside the folder; embodiq never "
                                           "reads through one (give the real file or folder)"))
            return
        if p.is_dir():
            if not first_visit(p):
                return
            name = claim(p)
            if name:
                add(p, name)
                return
            try:
                children = sorted(p.iterdir())
            except OSError as exc:
                bad.append(Unrecognised(p, f"the folder cannot be listed ({exc.strerror})"))
                return
            for child in children:
                if child.name.startswith("."):
                    continue
                walk(child, False)
            return
        if not p.exists():
            bad.append(Unrecognised(p, "no such file or folder" if not p.is_symlink() else
                                    "a symbolic link to nothing (or a link loop)"))
            return
        if not first_visit(p):
            return
        name = claim(p)
        if name:
            add(p, name)
        elif top or p.suffix.lower() in _DATA_SUFFIXES:
            why = (f"not a recording of layout '{layout}'" if layout else
                   "not a recording in any known layout (embodiq HDF5, ALOHA, robomimic, "
                   "LeRobot, MCAP)")
            bad.append(Unrecognised(p, why))

    for raw in paths:
        walk(Path(raw), True)
    return refs, bad


def read_source(ref: SourceRef, mapping: dict | None = None) -> ReadResult:
    """Read one episode through its adapter; an adapter crash becomes ``schema.unreadable``."""
    try:
        rr = ref.adapter.read(ref.path, ref.episode_key, mapping)
    except Exception as exc:  # adapters should not raise; if one does, report it, do not crash
        return ReadResult(None, [Finding(
            check_id="schema.unreadable", severity=Severity.ERROR,
            message=f"{ref.display_name}: could not be read as {ref.layout} "
                    f"({type(exc).__name__}: {exc})")])
    return _usable(ref, rr)


def _usable(ref: SourceRef, rr: ReadResult) -> ReadResult:
    """``rr``, or no episode when a stream or camera has a rate no recording has, or a stream
    has no column: what the recording format's reader refuses itself, for every layout; and an
    error on each stream holding a finite value no published table can hold.

    Other layouts take their rates from the file (LeRobot's ``fps``, robomimic's control
    frequency), a mapping or the samples, and a rate of 1e308 Hz would turn every gap count and
    the dataset clock into nonsense. A slow rate is left to the timing checks: a topic published
    only on change is sparse, not wrong.
    """
    ep = rr.episode
    if ep is None:
        return rr
    bad = [Finding(check_id, Severity.ERROR, f"{ref.display_name}: {what} '{name}': {why}",
                   stream=name)
           for check_id, what, items in (("schema.stream", "stream", ep.streams.values()),
                                         ("schema.camera", "camera", ep.cameras.values()))
           for name, rate in ((x.name, x.rate_hz) for x in items)
           if (why := rate_problem(rate, min_hz=0.0)) is not None]
    bad += [Finding("schema.stream", Severity.ERROR,
                    f"{ref.display_name}: stream '{s.name}' has values of shape "
                    f"{tuple(s.values.shape)}: one row per sample and at least one column are "
                    "required", stream=s.name)
            for s in ep.streams.values() if s.values.ndim != 2 or s.values.shape[1] == 0]
    if bad:
        return ReadResult(None, [*rr.findings, *bad])
    huge = [(s, where) for s in ep.streams.values()
            if (where := beyond_float32(s.values)) is not None]
    if not huge:
        return rr
    # the episode stays checkable (every check copes), but it cannot be published: the gate
    # says so at once, for `check` as for `ingest`
    return ReadResult(ep, [*rr.findings, *(Finding(
        "schema.stream", Severity.ERROR,
        f"{ref.display_name}: stream '{s.name}' holds {value:.4g} (sample {row}, column {col}),"
        " beyond ±3.4e38: no sensor reads that, and the published frames table's float32 "
        "columns cannot hold it", stream=s.name, value=value,
        t_start_ns=int(s.timestamps[row]), t_end_ns=int(s.timestamps[row]))
        for s, (row, col, value) in huge)])


@dataclass
class SourceDigest:
    """The bytes identity of one episode's source files."""

    files: dict[str, str] = field(default_factory=dict)  # absolute path -> sha256
    primary_sha256: str = ""
    size: int = 0
    episode_uid: str = ""


def digest_source(ref: SourceRef) -> SourceDigest:
    files = ref.files()
    shas = {str(p): sha256_file(p) for p in files if p.is_file()}
    primary = str(files[0]) if files else str(ref.path)
    primary_sha = (shas.get(primary)  # gone since it was found: named by its path's bytes
                   or hashlib.sha256(primary.encode("utf-8", "surrogateescape")).hexdigest())
    size = sum(Path(p).stat().st_size for p in shas)
    uid = episode_uid_for(sorted(shas.values()), ref.episode_key)
    return SourceDigest(files=shas, primary_sha256=primary_sha, size=size, episode_uid=uid)
