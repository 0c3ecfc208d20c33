"""The store through an fsspec filesystem: the same layout as the local folder, anywhere fsspec
reaches (``file://``, ``s3://``, ``gs://``, ``az://``, ``memory://`` …).

Only the file-system methods of :class:`~pipelines.store.Store` are overridden; the layout,
reading manifests and claiming a version are the base class's. What must be on local disk
stays there, under :attr:`FsspecStore.local_root`: the orchestrator's instance and the locks
(an OS lock has no meaning in an object store), the robot registry's SQLite file, and the work
area that readers of recordings write with ordinary file calls (inbox, sources, staging,
quarantine, reports). For a ``file://`` URL the local root is the store's root itself, so the
whole store is one folder, as with the local store. For object storage, published datasets
(``datasets/``) live at the URL and the work area under ``$EMBODIQ_STORE`` (or the default
store folder).

Writes stay atomic: a file is written under a temporary name and moved into place; a version
folder is claimed by a move that never replaces one already there (on a local disk by the
same no-replace rename as the local store; in an object store, where a move is a copy, the
publish lock makes publishers of one dataset take turns and the claim checks first).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipelines.store import STORE_URL_ENV, Store, StoreError, default_store_root, text_path
from pipelines.store.files import _rename_noreplace, atomic_path


class FsspecStore(Store):
    """A :class:`~pipelines.store.Store` whose files are reached through fsspec."""

    def __init__(self, root: Path | str | None = None) -> None:
        url = str(root) if root else (os.environ.get(STORE_URL_ENV) or
                                      str(default_store_root()))
        text_path(url)
        url = _as_url(url)
        self.fs, path = fsspec.core.url_to_fs(url)
        self._local_fs = LocalFileSystem()
        self.remote = not isinstance(self.fs, LocalFileSystem)
        if self.remote:
            # the root keeps its scheme ("s3:/bucket/prefix" as a Path), so that str(root)
            # opens this very store again, as it does for a local one
            self._scheme, rest = url.split("://", 1)
            self._url = f"{self._scheme}://{rest.strip('/')}"
            self.root = Path(f"{self._scheme}:/{rest.strip('/')}")
            self._work = default_store_root().expanduser().resolve()
        else:
            self.root = Path(path).resolve()
            self._url = self.root.as_uri()
            self._work = self.root

    @property
    def url(self) -> str:
        return self._url

    @property
    def local_root(self) -> Path:
        return self._work

    def _on_local_disk(self, path: Path) -> bool:
        return not self.remote or Path(path).is_relative_to(self._work)

    def _k(self, path: Path) -> str:
        """The filesystem's own name of a store path (``s3:/b/p/x`` is ``b/p/x`` to s3fs)."""
        text = str(path)
        if not self.remote or self._on_local_disk(path):
            return text
        rest = text.split(":/", 1)[1] if text.startswith(f"{self._scheme}:/") else text
        return self.fs._strip_protocol(f"{self._scheme}://{rest.lstrip('/')}")

    def _path(self, key: str) -> Path:
        """The store path of a name the filesystem gave back (the inverse of :meth:`_k`)."""
        if not self.remote:
            return Path(key)
        return Path(f"{self._scheme}:/{posixpath.normpath(key).lstrip('/')}")

    def _fs(self, path: Path) -> Any:
        """The filesystem ``path`` lives on (the work area is always local)."""
        return self._local_fs if self.remote and self._on_local_disk(path) else self.fs

    def contained(self, path: Path) -> Path:
        if self._on_local_disk(path):
            return super().contained(path) if not self.remote else self._contained_local(path)
        norm = Path(posixpath.normpath(str(path)))
        if not norm.is_relative_to(self.root):
            raise StoreError(f"refusing to write {path}: it lies outside the store {self.url}")
        return path

    def _contained_local(self, path: Path) -> Path:
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(self._work):
            raise StoreError(f"refusing to write {path}: it resolves to {resolved}, outside the "
                             f"store's work area {self._work}")
        return path

    # file system -------------------------------------------------------------------------
    def is_file(self, path: Path) -> bool:
        return self._fs(path).isfile(self._k(path))

    def is_dir(self, path: Path) -> bool:
        return self._fs(path).isdir(self._k(path))

    def list_dir(self, path: Path) -> list[Path]:
        try:
            names = self._fs(path).ls(self._k(path), detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        here = posixpath.normpath(self._k(path))
        fs = self._fs(path)
        keys = [posixpath.normpath(str(n)) for n in names]
        return sorted((self._path(k) if fs is self.fs else Path(k)) for k in keys if k != here)

    def makedirs(self, path: Path) -> None:
        self._fs(path).makedirs(self._k(path), exist_ok=True)

    def modified_ns(self, path: Path) -> int:
        info = self._fs(path).info(self._k(path))
        if isinstance(info.get("mtime"), (int, float)):
            return int(info["mtime"] * 1e9)
        return int(self._fs(path).modified(self._k(path)).timestamp() * 1e9)

    def read_bytes(self, path: Path) -> bytes:
        return self._fs(path).cat_file(self._k(path))

    def _tmp(self, path: Path) -> Path:
        return Path(path).with_name(f".{Path(path).name}.{uuid.uuid4().hex[:8]}.tmp")

    @contextlib.contextmanager
    def _atomic_key(self, path: Path) -> Iterator[tuple[Any, str]]:
        """The filesystem of ``path`` and a temp name beside it for the block to write; moved
        to ``path`` when the block ends without error, removed otherwise."""
        fs, tmp = self._fs(path), self._k(self._tmp(path))
        fs.makedirs(self._k(Path(path).parent), exist_ok=True)
        try:
            yield fs, tmp
            fs.mv(tmp, self._k(path))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(tmp)
            raise

    def write_bytes(self, path: Path, data: bytes) -> Path:
        with self._atomic_key(path) as (fs, tmp):
            fs.pipe_file(tmp, data)
        return Path(path)

    def open_input(self, path: Path) -> contextlib.AbstractContextManager[BinaryIO]:
        return self._fs(path).open(self._k(path), "rb")

    @contextlib.contextmanager
    def open_output(self, path: Path) -> Iterator[BinaryIO]:
        with self._atomic_key(path) as (fs, tmp), fs.open(tmp, "wb") as fh:
            yield fh

    def put_file(self, src: Path, dst: Path) -> Path:
        with self._atomic_key(dst) as (fs, tmp):
            fs.put_file(str(src), tmp)
        return Path(dst)

    def link_or_copy(self, src: Path, dst: Path) -> None:
        src_fs, dst_fs = self._fs(src), self._fs(dst)
        dst_fs.makedirs(self._k(Path(dst).parent), exist_ok=True)
        if src_fs is dst_fs:
            src_fs.cp_file(self._k(src), self._k(dst))
        else:  # from the local work area into object storage
            self.put_file(Path(src), Path(dst))

    def files_under(self, folder: Path) -> list[tuple[str, int]]:
        fs = self._fs(folder)
        top = posixpath.normpath(self._k(folder))
        found = fs.find(self._k(folder), detail=True)
        files = [(posixpath.relpath(posixpath.normpath(p), top), int(info["size"]))
                 for p, info in found.items() if info.get("type") == "file"]
        return sorted(files, key=lambda f: f[0].split("/"))

    @contextlib.contextmanager
    def new_folder(self, final: Path, *, replace: bool = True) -> Iterator[Path]:
        fs = self._fs(final)
        final = Path(final)
        tmp = self._tmp(final)
        fs.makedirs(self._k(tmp), exist_ok=False)
        try:
            yield tmp
            if not replace:
                self._claim(fs, tmp, final)
            elif fs.exists(self._k(final)):
                old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
                fs.mv(self._k(final), self._k(old), recursive=True)
                fs.mv(self._k(tmp), self._k(final), recursive=True)
                with contextlib.suppress(FileNotFoundError):
                    fs.rm(self._k(old), recursive=True)
            else:
                fs.mv(self._k(tmp), self._k(final), recursive=True)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                fs.rm(self._k(tmp), recursive=True)
            raise

    def _claim(self, fs: Any, tmp: Path, final: Path) -> None:
        """Move ``tmp`` to ``final``, never replacing (or moving into) a folder there."""
        if isinstance(fs, LocalFileSystem):
            _rename_noreplace(tmp, final)
            return
        if fs.exists(self._k(final)):
            raise FileExistsError(f"{final} already exists; it is never replaced")
        fs.mv(self._k(tmp), self._k(final), recursive=True)

    @property
    def arrow_filesystem(self) -> Any:
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        return PyFileSystem(FSSpecHandler(self.fs))

    def arrow_path(self, path: Path) -> str:
        return self._k(path)

    def local_file(self, path: Path) -> Path:
        if self._on_local_disk(path):
            return Path(path)
        rel = Path(posixpath.normpath(str(path))).relative_to(self.root)
        dst = self._work / "cache" / rel
        if not dst.is_file():
            with atomic_path(dst) as tmp:
                self.fs.get_file(self._k(path), str(tmp))
        return dst


_LOOSE_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+(.*)$")


def _as_url(text: str) -> str:
    """An fsspec URL from a URL, a store root printed as a path (``s3:/bucket/p``) or a local
    path."""
    m = _LOOSE_URL.match(text)
    if m is None:
        return Path(text).expanduser().resolve().as_uri()
    scheme, rest = m.group(1), m.group(2)
    if scheme in ("file", "local"):
        return Path("/" + rest).resolve().as_uri()
    return f"{scheme}://{rest}"
