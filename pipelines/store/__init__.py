"""The store: one root that holds everything embodiq keeps.

:class:`Store` is the only place that knows the store's layout: every folder and file name
below is built here, and every other module asks the store for what it needs (a staged report,
a version's manifest, its episodes table). Every write is atomic (temp file, then rename), so a
crash at any moment leaves either the old file or the new one.

``Store(root)`` is the local folder; ``Store("s3://bucket/prefix")`` (any fsspec URL, or
``EMBODIQ_STORE_URL``) is :class:`pipelines.store.remote.FsspecStore`, the same layout through
an fsspec filesystem. ``EMBODIQ_STORE_BACKEND=fsspec`` makes even a local path go through
fsspec (the test suite runs both ways).

Layout under the root::

    inbox/<dataset>/...                recordings dropped here are picked up by the sensor
    sources/<key>.json                 registered recordings (what a partition key points at)
    staging/<dataset>/dataset.json     the dataset's clock, fixed by its first curated episode
    staging/<dataset>/<episode_uid>/   per-episode results: report.json, and curated/ with
                                       curated.json, frames.parquet and videos/<camera>.mp4
    quarantine/<content_uid>/          rejected recordings, byte for byte, with one
                                       findings-<dataset>.json per dataset that rejected them
    datasets/<name>/v<NNNN>/           immutable published versions; LATEST names the current one
    registry/robots.sqlite             the robot uid registry
    robots/                            user robot profiles (optional)
    dagster/                           the orchestrator's own state (DAGSTER_HOME)

A store in object storage keeps ``datasets/`` at its URL and the rest (the work area) on local
disk, see :attr:`Store.local_root`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pipelines.store.files import (
    atomic_copy,
    atomic_output,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    current_umask,
    file_lock,
    shared_mode,
    staged_dir,
)
from schemas.names import name_problem

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "BACKEND_ENV", "STORE_ENV", "STORE_URL_ENV", "PublishedVersion", "Store", "StoreError",
    "VersionWriter", "atomic_copy", "atomic_output", "atomic_path", "atomic_write_bytes",
    "atomic_write_json", "check_name", "current_umask", "default_store_root", "file_lock",
    "is_url", "shared_mode", "staged_dir",
]

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
STORE_ENV = "EMBODIQ_STORE"
#: An fsspec URL of the store (``s3://bucket/prefix``, ``file:///srv/store``); wins over
#: ``EMBODIQ_STORE`` when no root is given.
STORE_URL_ENV = "EMBODIQ_STORE_URL"
#: ``fsspec`` makes every store go through fsspec, a local path included (``local``: default).
BACKEND_ENV = "EMBODIQ_STORE_BACKEND"
#: The per-user data folder (XDG base directories) and embodiq's store under it, used when
#: embodiq runs from an installed wheel rather than a source checkout.
DATA_HOME_ENV = "XDG_DATA_HOME"
USER_STORE = Path("embodiq") / "store"
_VERSION_RE = re.compile(r"^v(\d{4,})$")
#: ``scheme://...``; also ``scheme:/...``, which is how a URL prints once made a Path (two
#: letters at least, so a Windows drive is never taken for one)
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")

# The file names of the layout: nothing outside this package spells them.
REPORT = "report.json"
CURATED_DIR = "curated"
CURATED = "curated.json"
FRAMES = "frames.parquet"
VIDEOS = "videos"
DATASET_SETTINGS = "dataset.json"
MANIFEST = "manifest.json"
EPISODES = "episodes.parquet"
FINDINGS = "findings.parquet"
FRAMES_DIR = "frames"
LATEST = "LATEST"
QUARANTINE_FILES = "files"
PUBLISH_LOCK = ".publish.lock"
INSTANCE_LOCK = ".instance.lock"


class StoreError(RuntimeError):
    """Something in the store is missing or inconsistent; the message names the path."""


def text_path(root: Path | str) -> None:
    """Refuse a store whose path is not UTF-8 text: the store's path is written into its
    manifests, its Dagster instance and its reports, which hold text only (a recording's own
    name may be any bytes; the store's is chosen once)."""
    try:
        str(root).encode("utf-8")
    except UnicodeEncodeError:
        shown = str(root).encode("utf-8", "backslashreplace").decode()
        raise StoreError(f"{shown}: the store's path must be UTF-8 text; choose another "
                         "folder") from None


def default_store_root() -> Path:
    """``$EMBODIQ_STORE`` when set; else ``datasets/store`` in a source checkout (git-ignored);
    else, installed as a package, ``$XDG_DATA_HOME/embodiq/store`` (``~/.local/share/...``).

    A checkout is recognised by embodiq's ``pyproject.toml`` above the ``pipelines`` package;
    an installed package sits in ``site-packages``, where a store must never be written.
    """
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env).expanduser()
    pyproject = REPO_ROOT / "pyproject.toml"
    with contextlib.suppress(OSError):
        if pyproject.is_file() and 'name = "embodiq"' in pyproject.read_text(encoding="utf-8"):
            return REPO_ROOT / "datasets" / "store"
    data_home = os.environ.get(DATA_HOME_ENV, "")
    if not Path(data_home).is_absolute():  # unset, empty or relative: ignored, as XDG says
        data_home = str(Path.home() / ".local" / "share")
    return Path(data_home) / USER_STORE


def check_name(name: str, what: str = "dataset name") -> str:
    """``name`` when it is safe as one path component (the rule of :mod:`schemas.names`)."""
    problem = name_problem(name, what)
    if problem is not None:
        raise StoreError(problem)
    return name


def is_url(root: object) -> bool:
    """True for an fsspec URL (``scheme://...``), False for a plain path."""
    return isinstance(root, (str, Path)) and bool(_URL_RE.match(str(root)))


def _backend() -> str:
    return os.environ.get(BACKEND_ENV, "").strip().lower() or "local"


class Store:
    """The layout of one store root, and the reads and atomic writes the pipeline does in it.

    The methods in the "file system" section are the only ones that touch files;
    :class:`~pipelines.store.remote.FsspecStore` overrides just those. Everything else (the
    layout, reading a manifest, publishing's claim of a version) is written once, here.
    """

    def __new__(cls, root: Path | str | None = None) -> Store:
        """``Store(...)`` picks its implementation: an fsspec URL (given, or in
        ``EMBODIQ_STORE_URL``) or ``EMBODIQ_STORE_BACKEND=fsspec`` gives an
        :class:`~pipelines.store.remote.FsspecStore`, anything else the local folder."""
        if cls is Store:
            url = root if root else os.environ.get(STORE_URL_ENV) or None
            if is_url(url) or _backend() == "fsspec":
                from pipelines.store.remote import FsspecStore

                return super().__new__(FsspecStore)
        return super().__new__(cls)

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).expanduser().resolve() if root else default_store_root().resolve()
        text_path(self.root)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @property
    def url(self) -> str:
        """What ``Store(...)`` takes to open this very store again (in a worker, say)."""
        return str(self.root)

    # folders -----------------------------------------------------------------------------
    @property
    def inbox_dir(self) -> Path:
        return self.local_root / "inbox"

    @property
    def sources_dir(self) -> Path:
        return self.local_root / "sources"

    @property
    def staging_dir(self) -> Path:
        return self.local_root / "staging"

    @property
    def quarantine_dir(self) -> Path:
        return self.local_root / "quarantine"

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def local_root(self) -> Path:
        """The work area, on local disk: the inbox, registered sources, staging, quarantine,
        the orchestrator's instance, the robot registry, user robot profiles, reports and locks.
        The root itself here; a store in object storage keeps only its published datasets
        there (:class:`~pipelines.store.remote.FsspecStore`)."""
        return self.root

    @property
    def registry_path(self) -> Path:
        return self.local_root / "registry" / "robots.sqlite"

    @property
    def robots_dir(self) -> Path:
        return self.local_root / "robots"

    def robot_profile(self, profile_id: str) -> Path:
        """Where the store keeps the robot profile ``profile_id`` (a safe name)."""
        return self.contained(self.robots_dir / f"{check_name(profile_id, 'profile id')}.toml")

    @property
    def dagster_home(self) -> Path:
        return self.local_root / "dagster"

    @property
    def instance_lock(self) -> Path:
        """The lock under which the Dagster instance is first created."""
        return self.dagster_home / INSTANCE_LOCK

    @property
    def reports_dir(self) -> Path:
        return self.local_root / "reports"

    def report_html(self, name: str, version: int) -> Path:
        """Where the HTML quality report of a published version is written."""
        return self.reports_dir / check_name(name) / f"{self.version_name(version)}.html"

    def contained(self, path: Path) -> Path:
        """``path`` itself, once proven to lie under the root after resolving links and ``..``.

        Every path the store hands out for writing goes through here, so a name that slipped
        past validation still cannot make a write land outside the store.
        """
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(self.root):
            raise StoreError(f"refusing to write {path}: it resolves to {resolved}, outside the "
                             f"store {self.root}")
        return path

    def ensure(self) -> Store:
        for d in (self.inbox_dir, self.sources_dir, self.staging_dir, self.quarantine_dir,
                  self.datasets_dir):
            self.makedirs(d)
        for d in (self.registry_path.parent, self.dagster_home):
            d.mkdir(parents=True, exist_ok=True)
        return self

    # staging -----------------------------------------------------------------------------
    def staging_episode_dir(self, dataset: str, episode_uid: str) -> Path:
        return self.contained(self.staging_dir / check_name(dataset)
                              / check_name(episode_uid, "episode uid"))

    def staged_report(self, dataset: str, episode_uid: str) -> Path:
        """The quality report (``Assessment``) of a staged episode."""
        return self.staging_episode_dir(dataset, episode_uid) / REPORT

    def curated_dir(self, dataset: str, episode_uid: str) -> Path:
        """The folder of a staged episode's frames table and re-timed videos."""
        return self.staging_episode_dir(dataset, episode_uid) / CURATED_DIR

    def curated_record(self, dataset: str, episode_uid: str) -> Path:
        """What curation made of a staged episode (frames, clock, cameras)."""
        return self.curated_dir(dataset, episode_uid) / CURATED

    def curated_frames(self, dataset: str, episode_uid: str) -> Path:
        return self.curated_dir(dataset, episode_uid) / FRAMES

    def curated_video(self, dataset: str, episode_uid: str, camera: str) -> Path:
        return self.contained(self.curated_dir(dataset, episode_uid) / VIDEOS
                              / f"{check_name(camera, 'camera name')}.mp4")

    def staged_datasets(self) -> list[str]:
        """Datasets with a staging folder (episodes staged, maybe not all finished)."""
        return sorted(p.name for p in self.list_dir(self.staging_dir)
                      if not p.name.startswith(".") and self.is_dir(p))

    def staged_episodes(self, dataset: str) -> list[Path]:
        """Staged episode folders of ``dataset`` that hold a finished quality report."""
        d = self.staging_dir / check_name(dataset)
        return sorted(p for p in self.list_dir(d)
                      if not p.name.startswith(".") and self.is_file(p / REPORT))

    def read_staged_report(self, dataset: str, episode_uid: str) -> dict[str, Any] | None:
        """A staged episode's quality report as written, or None when there is none yet."""
        path = self.staged_report(dataset, episode_uid)
        return self.read_json(path) if self.is_file(path) else None

    def read_curated_record(self, dataset: str, episode_uid: str) -> dict[str, Any] | None:
        """A staged episode's curation record, or None while curation has not finished."""
        path = self.curated_record(dataset, episode_uid)
        return self.read_json(path) if self.is_file(path) else None

    def newest_staged_report_ns(self, dataset: str) -> int | None:
        """When the newest finished report of ``dataset`` was written (None: none yet)."""
        times = [self.modified_ns(p / REPORT) for p in self.staged_episodes(dataset)]
        return max(times) if times else None

    def dataset_settings(self, dataset: str) -> Path:
        """The settings a dataset keeps from its first curated episode on (its clock)."""
        return self.staging_dir / check_name(dataset) / DATASET_SETTINGS

    def dataset_clock(self, dataset: str) -> float | None:
        """The dataset's fixed frame rate, or None before its first episode was curated."""
        path = self.dataset_settings(dataset)
        return float(self.read_json(path)["fps"]) if self.is_file(path) else None

    def fix_dataset_clock(self, dataset: str, fps: float) -> None:
        """Fix the dataset's frame rate, unless it is fixed already (it never changes)."""
        path = self.dataset_settings(dataset)
        if not self.is_file(path):
            self.write_json(path, {"fps": fps})

    # registered sources ------------------------------------------------------------------
    def source_record(self, key: str) -> Path:
        """The registration record of the source with partition key ``key`` (named by the
        key's hash: a key holds characters no file name should)."""
        return self.sources_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def registered_source_records(self) -> list[dict[str, Any]]:
        """Every readable record under ``sources/`` (a damaged one is skipped)."""
        out = []
        for f in self.list_dir(self.sources_dir):
            if f.suffix != ".json":
                continue
            try:
                rec = self.read_json(f)
            except (OSError, ValueError):
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out

    # quarantine --------------------------------------------------------------------------
    def quarantine_path(self, content_uid: str) -> Path:
        """The quarantine folder of a source whose files have the content uid ``content_uid``
        (see :func:`pipelines.processing.quarantine_dir_for`)."""
        return self.contained(self.quarantine_dir / check_name(content_uid, "content uid"))

    def quarantine_record(self, qdir: Path, dataset: str, episode_key: str | None) -> Path:
        """The findings record a dataset keeps in a quarantine folder: one per dataset (and
        per episode of a multi-episode source), so the same recording rejected by two datasets
        keeps both records. ``@`` never occurs in a dataset name: the parts cannot be confused.
        """
        name = (f"findings-{check_name(dataset)}@{episode_key}.json" if episode_key
                else f"findings-{check_name(dataset)}.json")
        return self.contained(Path(qdir) / name)

    @staticmethod
    def quarantined_files_dir(qdir: Path) -> Path:
        """Where a quarantine folder keeps the files of a multi-episode source (a LeRobot
        dataset), in the source's own layout."""
        return Path(qdir) / QUARANTINE_FILES

    # published datasets ------------------------------------------------------------------
    def dataset_dir(self, name: str) -> Path:
        return self.contained(self.datasets_dir / check_name(name))

    def dataset_names(self) -> list[str]:
        return sorted(p.name for p in self.list_dir(self.datasets_dir)
                      if self.is_file(p / LATEST))

    def publish_lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        """The lock held from choosing a version number to moving LATEST, so two publishers of
        one dataset (two ingests, a sensor run) take turns instead of claiming the same number.
        An OS lock on local disk: inside the dataset's folder here, under :attr:`local_root`
        for a store elsewhere."""
        d = self.local_root / "datasets" / check_name(name)
        d.mkdir(parents=True, exist_ok=True)
        return file_lock(d / PUBLISH_LOCK)

    def versions(self, name: str) -> list[int]:
        return sorted(int(m.group(1)) for p in self.list_dir(self.dataset_dir(name))
                      if (m := _VERSION_RE.match(p.name)) and self.is_dir(p))

    def latest_file(self, name: str) -> Path:
        return self.dataset_dir(name) / LATEST

    def latest_version(self, name: str) -> int | None:
        """The version ``LATEST`` names, or None when the dataset was never published."""
        latest = self.latest_file(name)
        if not self.is_file(latest):
            return None
        text = self.read_bytes(latest).decode().strip()
        m = _VERSION_RE.match(text)
        if not m:
            raise StoreError(f"{latest}: expected a version like v0001, found '{text}'")
        return int(m.group(1))

    def latest_modified_ns(self, name: str) -> int | None:
        """When ``LATEST`` last moved (None: never published)."""
        latest = self.latest_file(name)
        return self.modified_ns(latest) if self.is_file(latest) else None

    @staticmethod
    def version_name(version: int) -> str:
        return f"v{version:04d}"

    def version_path(self, name: str, version: int) -> Path:
        """The folder version ``version`` of ``name`` has or would have (it need not exist)."""
        return self.dataset_dir(name) / self.version_name(version)

    def version_dir(self, name: str, version: int | None = None) -> Path:
        """The folder of ``version`` (default: LATEST) of dataset ``name``; raises when absent."""
        return self.version(name, version).dir

    def version(self, name: str, version: int | None = None) -> PublishedVersion:
        """Version ``version`` (default: LATEST) of dataset ``name``; raises when absent."""
        if version is None:
            version = self.latest_version(name)
            if version is None:
                known = ", ".join(self.dataset_names()) or "none"
                raise StoreError(
                    f"dataset '{name}' has no published version in {self.datasets_dir} "
                    f"(published datasets: {known})")
        pv = PublishedVersion(self, name, version, self.version_path(name, version))
        if not self.is_file(pv.manifest_path):
            raise StoreError(f"{pv.dir}: version {version} of dataset '{name}' does not exist")
        return pv

    def manifest(self, name: str, version: int | None = None) -> dict[str, Any]:
        """The manifest of ``version`` (default: LATEST) of dataset ``name``."""
        return self.version(name, version).manifest()

    def finished_manifest(self, name: str, version: int) -> dict[str, Any] | None:
        """The manifest of a version folder, or None when it has none (never finished)."""
        path = self.version_path(name, version) / MANIFEST
        return self.read_json(path) if self.is_file(path) else None

    def read_episodes_table(self, name: str, version: int | None = None,
                            columns: list[str] | None = None) -> pa.Table:
        return self.version(name, version).episodes(columns)

    def read_findings_table(self, name: str, version: int | None = None,
                            columns: list[str] | None = None) -> pa.Table:
        return self.version(name, version).findings(columns)

    def set_latest(self, name: str, version: int) -> None:
        self.write_bytes(self.latest_file(name), f"{self.version_name(version)}\n".encode())

    @contextlib.contextmanager
    def new_version(self, name: str, version: int) -> Iterator[VersionWriter]:
        """A version folder written under a temporary name and claimed by its rename, which
        never replaces a folder already there (:class:`FileExistsError` then)."""
        final = self.version_path(name, version)
        with self.new_folder(final, replace=False) as tmp:
            yield VersionWriter(self, tmp)

    # file system -------------------------------------------------------------------------
    # The only methods that touch files; FsspecStore overrides them.
    def is_file(self, path: Path) -> bool:
        return Path(path).is_file()

    def is_dir(self, path: Path) -> bool:
        return Path(path).is_dir()

    def list_dir(self, path: Path) -> list[Path]:
        """The entries of a folder ([] when it does not exist)."""
        try:
            return sorted(Path(path).iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return []

    def makedirs(self, path: Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)

    def modified_ns(self, path: Path) -> int:
        return Path(path).stat().st_mtime_ns

    def read_bytes(self, path: Path) -> bytes:
        return Path(path).read_bytes()

    def read_json(self, path: Path) -> Any:
        return json.loads(self.read_bytes(path))

    def write_bytes(self, path: Path, data: bytes) -> Path:
        """Write ``data`` atomically (a reader sees the old file or the new one)."""
        return atomic_write_bytes(Path(path), data)

    def write_json(self, path: Path, obj: Any) -> Path:
        return self.write_bytes(
            path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())

    def open_input(self, path: Path) -> contextlib.AbstractContextManager[BinaryIO]:
        return open(path, "rb")

    def open_output(self, path: Path) -> contextlib.AbstractContextManager[BinaryIO]:
        """A binary file written under a temp name and renamed to ``path`` when the block
        ends without error (removed otherwise)."""
        return atomic_output(Path(path))

    def put_file(self, src: Path, dst: Path) -> Path:
        """Copy a local file into the store byte for byte, atomically."""
        return atomic_copy(Path(src), Path(dst))

    def link_or_copy(self, src: Path, dst: Path) -> None:
        """Give the store file ``src`` a second name ``dst`` (a hard link where possible)."""
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            atomic_copy(Path(src), Path(dst))

    def files_under(self, folder: Path) -> list[tuple[str, int]]:
        """Every file below ``folder``: its path relative to it (posix) and its size."""
        folder = Path(folder)
        return [(p.relative_to(folder).as_posix(), p.stat().st_size)
                for p in sorted(folder.rglob("*")) if p.is_file()]

    def new_folder(self, final: Path, *,
                   replace: bool = True) -> contextlib.AbstractContextManager[Path]:
        """A temp folder renamed to ``final`` on success (see :func:`staged_dir`)."""
        return staged_dir(Path(final), replace=replace)

    @property
    def arrow_filesystem(self) -> Any:
        """The pyarrow filesystem to read the store's Parquet with (None: the local disk)."""
        return None

    def arrow_path(self, path: Path) -> str:
        """``path`` as :attr:`arrow_filesystem` names it."""
        return str(path)

    def local_file(self, path: Path) -> Path:
        """A path on local disk with the bytes of store file ``path`` (decoders need one)."""
        return Path(path)


class _VersionFiles:
    """Where the files of a version folder are: the same names in a published version and in
    one being written."""

    dir: Path

    @property
    def manifest_path(self) -> Path:
        return self.dir / MANIFEST

    @property
    def episodes_path(self) -> Path:
        return self.dir / EPISODES

    @property
    def findings_path(self) -> Path:
        return self.dir / FINDINGS

    @property
    def frames_dir(self) -> Path:
        return self.dir / FRAMES_DIR

    def video(self, episode_uid: str, camera: str) -> Path:
        return self.dir / VIDEOS / episode_uid / f"{camera}.mp4"


@dataclasses.dataclass(frozen=True)
class PublishedVersion(_VersionFiles):
    """One published (immutable) version: where its files are and how to read them."""

    store: Store
    name: str
    number: int
    dir: Path

    def manifest(self) -> dict[str, Any]:
        return self.store.read_json(self.manifest_path)

    def _table(self, path: Path, columns: list[str] | None) -> pa.Table:
        import pyarrow.parquet as pq

        with self.store.open_input(path) as fh:
            return pq.read_table(fh, columns=columns)

    def episodes(self, columns: list[str] | None = None) -> pa.Table:
        """The episodes table (one row per episode, passed or not)."""
        return self._table(self.episodes_path, columns)

    def findings(self, columns: list[str] | None = None) -> pa.Table:
        """The findings table (episode findings, and dataset findings with a null uid)."""
        return self._table(self.findings_path, columns)

    def read_frame(self, path: Path, columns: list[str] | None = None) -> Any:
        """A table of this version as a polars DataFrame (polars' own Parquet reader)."""
        import polars as pl

        with self.store.open_input(path) as fh:
            return pl.read_parquet(fh, columns=columns)

    def has_frames(self) -> bool:
        return any(p.suffix == ".parquet" for p in self.store.list_dir(self.frames_dir))

    def frames_dataset(self) -> Any:
        """The frames table as a pyarrow dataset (read lazily, episode by episode)."""
        import pyarrow.dataset as pads

        fs = self.store.arrow_filesystem
        if fs is None:
            return pads.dataset(self.frames_dir, format="parquet")
        return pads.dataset(self.store.arrow_path(self.frames_dir), format="parquet",
                            filesystem=fs)

    def siblings(self) -> list[PublishedVersion]:
        """Every finished version of the dataset, this one included, oldest first."""
        out = []
        for v in self.store.versions(self.name):
            pv = PublishedVersion(self.store, self.name, v, self.store.version_path(self.name, v))
            if self.store.is_file(pv.manifest_path):
                out.append(pv)
        return out


@dataclasses.dataclass(frozen=True)
class VersionWriter(_VersionFiles):
    """The temporary folder of a version being written; it knows the version's file names."""

    store: Store
    dir: Path

    def frames_part(self, part: int) -> Path:
        return self.frames_dir / f"part-{part:05d}.parquet"

    def write_table(self, path: Path, table: pa.Table, metadata: dict[str, str]) -> None:
        """A Parquet file with embodiq's key-value metadata (zstd)."""
        import pyarrow.parquet as pq

        meta = dict(table.schema.metadata or {})
        meta.update({k.encode(): v.encode() for k, v in metadata.items()})
        with self.store.open_output(path) as fh:
            pq.write_table(table.replace_schema_metadata(meta), fh, compression="zstd")

    def files(self) -> list[tuple[str, int]]:
        return self.store.files_under(self.dir)

    def sha256(self, rel: str) -> str:
        with self.store.open_input(self.dir / rel) as fh:  # hashed as sha256_file does
            # both backends' files read into a buffer (readinto), which BinaryIO does not name
            return hashlib.file_digest(fh, "sha256").hexdigest()  # type: ignore[arg-type]

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        self.store.write_json(self.manifest_path, manifest)
