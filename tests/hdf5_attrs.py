"""Hostile attribute values written into real HDF5 files, for the reader's and the pipeline's
tests: what a broken or malicious recorder could leave behind."""

from __future__ import annotations

from typing import Any

import h5py

#: h5py's variable-length UTF-8 string type: the bytes are stored as given, valid or not.
UTF8 = h5py.string_dtype("utf-8")


def set_attr(obj: h5py.HLObject, key: str, value: Any, dtype: Any = None) -> None:
    """Replace the attribute ``key`` of ``obj`` with ``value`` (stored as ``dtype``)."""
    if key in obj.attrs:
        del obj.attrs[key]
    obj.attrs.create(key, value, dtype=dtype)


def names_with(group: h5py.Group, index: int, raw: bytes) -> list[bytes]:
    """The group's ``names`` attribute as bytes, with entry ``index`` replaced by ``raw``."""
    names = [n.encode() if isinstance(n, str) else bytes(n) for n in group.attrs["names"]]
    names[index] = raw
    return names
