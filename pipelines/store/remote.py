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
import posixpath
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipelines.store import (
    STORE_URL_ENV,
    Store,
    StoreError,
    _rename_noreplace,
    default_store_root,
    is_url,
)


class FsspecStore(Store):
    """A :class:`~pipelines.store.Store` whose files are reached through fsspec."""

    def __init__(self, root: Path | str | None = None) -> None:
        import os

        url = str(root) if root else (os.environ.get(STORE_URL_ENV) or
                                      str(default_store_root()))
        if not is_url(url):
            url = Path(url).expanduser().resolve().as_uri()
        self.fs, path = fsspec.core.url_to_fs(url)
        self._local_fs = LocalFileSystem()
        self.remote = not isinstance(self.fs, LocalFileSystem)
        if self.remote:
            self.root = Path(posixpath.normpath(path.rstrip("/") or "/"))
            self._url = url.rstrip("/")
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
        return self._fs(path).isfile(str(path))

    def is_dir(self, path: Path) -> bool:
        return self._fs(path).isdir(str(path))

    def list_dir(self, path: Path) -> list[Path]:
        try:
            names = self._fs(path).ls(str(path), detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        here = posixpath.normpath(str(path))
        return sorted(Path(n) for n in (posixpath.normpath(str(n)) for n in names) if n != here)

    def makedirs(self, path: Path) -> None:
        self._fs(path).makedirs(str(path), exist_ok=True)

    def modified_ns(self, path: Path) -> int:
        info = self._fs(path).info(str(path))
        if isinstance(info.get("mtime"), (int, float)):
            return int(info["mtime"] * 1e9)
        return int(self._fs(path).modified(str(path)).timestamp() * 1e9)

    def read_bytes(self, path: Path) -> bytes:
        return self._fs(path).cat_file(str(path))

    def _tmp(self, path: Path) -> Path:
        return Path(path).with_name(f".{Path(path).name}.{uuid.uuid4().hex[:8]}.tmp")

    def _move_into_place(self, fs: Any, tmp: Path, path: Path) -> None:
        try:
            fs.mv(str(tmp), str(path))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(str(tmp))
            raise

    def write_bytes(self, path: Path, data: bytes) -> Path:
        fs, tmp = self._fs(path), self._tmp(path)
        fs.makedirs(str(Path(path).parent), exist_ok=True)
        try:
            fs.pipe_file(str(tmp), data)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(str(tmp))
            raise
        self._move_into_place(fs, tmp, path)
        return Path(path)

    def open_input(self, path: Path) -> contextlib.AbstractContextManager[BinaryIO]:
        return self._fs(path).open(str(path), "rb")

    @contextlib.contextmanager
    def open_output(self, path: Path) -> Iterator[BinaryIO]:
        fs, tmp = self._fs(path), self._tmp(path)
        fs.makedirs(str(Path(path).parent), exist_ok=True)
        try:
            with fs.open(str(tmp), "wb") as fh:
                yield fh
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(str(tmp))
            raise
        self._move_into_place(fs, tmp, path)

    def put_file(self, src: Path, dst: Path) -> Path:
        fs, tmp = self._fs(dst), self._tmp(dst)
        fs.makedirs(str(Path(dst).parent), exist_ok=True)
        try:
            fs.put_file(str(src), str(tmp))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(str(tmp))
            raise
        self._move_into_place(fs, tmp, dst)
        return Path(dst)

    def link_or_copy(self, src: Path, dst: Path) -> None:
        src_fs, dst_fs = self._fs(src), self._fs(dst)
        dst_fs.makedirs(str(Path(dst).parent), exist_ok=True)
        if src_fs is dst_fs:
            src_fs.cp_file(str(src), str(dst))
        else:  # from the local work area into object storage
            self.put_file(Path(src), Path(dst))

    def files_under(self, folder: Path) -> list[tuple[str, int]]:
        fs = self._fs(folder)
        top = posixpath.normpath(str(folder))
        found = fs.find(str(folder), detail=True)
        files = [(posixpath.relpath(posixpath.normpath(p), top), int(info["size"]))
                 for p, info in found.items() if info.get("type") == "file"]
        return sorted(files, key=lambda f: f[0].split("/"))

    @contextlib.contextmanager
    def new_folder(self, final: Path, *, replace: bool = True) -> Iterator[Path]:
        fs = self._fs(final)
        final = Path(final)
        tmp = self._tmp(final)
        fs.makedirs(str(tmp), exist_ok=False)
        try:
            yield tmp
            if not replace:
                self._claim(fs, tmp, final)
            elif fs.exists(str(final)):
                old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
                fs.mv(str(final), str(old), recursive=True)
                fs.mv(str(tmp), str(final), recursive=True)
                with contextlib.suppress(FileNotFoundError):
                    fs.rm(str(old), recursive=True)
            else:
                fs.mv(str(tmp), str(final), recursive=True)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                fs.rm(str(tmp), recursive=True)
            raise

    def _claim(self, fs: Any, tmp: Path, final: Path) -> None:
        """Move ``tmp`` to ``final``, never replacing (or moving into) a folder there."""
        if isinstance(fs, LocalFileSystem):
            _rename_noreplace(tmp, final)
            return
        if fs.exists(str(final)):
            raise FileExistsError(f"{final} already exists; it is never replaced")
        fs.mv(str(tmp), str(final), recursive=True)

    @property
    def arrow_filesystem(self) -> Any:
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        return PyFileSystem(FSSpecHandler(self.fs))

    def local_file(self, path: Path) -> Path:
        if self._on_local_disk(path):
            return Path(path)
        rel = Path(posixpath.normpath(str(path))).relative_to(self.root)
        dst = self._work / "cache" / rel
        if not dst.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._tmp(dst)
            self.fs.get_file(str(path), str(tmp))
            tmp.replace(dst)
        return dst
