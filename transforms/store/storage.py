"""Reading and writing through Beam's FileSystems, so local paths and gs:// URIs both work.

Writes are all-or-nothing: a local file is written under a temporary name and
published with a rename; a GCS object appears only when its upload completes.
A retried bundle therefore never leaves a partial file behind.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
import uuid
from typing import Iterator, List, Set

import numpy as np
from apache_beam.io.filesystems import FileSystems

_CHUNK = 8 * 1024 * 1024
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")  # write_bytes' temporary names


def is_local(path: str) -> bool:
    return FileSystems.get_scheme(path) is None


def join(base: str, *parts: str) -> str:
    return FileSystems.join(base, *parts)


def exists(path: str) -> bool:
    return FileSystems.exists(path)


@contextlib.contextmanager
def local_copy(path: str) -> Iterator[str]:
    """A local file path holding the object at `path`, deleted afterwards if it was copied.

    OpenCV needs a file name; remote objects are streamed to disk in chunks so
    a long video never sits whole in memory.
    """
    if is_local(path):
        yield path
        return
    suffix = os.path.splitext(path)[1]
    fd, local = tempfile.mkstemp(prefix="ghsl-video-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out, FileSystems.open(path) as src:
            shutil.copyfileobj(src, out, _CHUNK)
        yield local
    finally:
        os.unlink(local)


def write_bytes(path: str, data: bytes) -> None:
    """Publish `data` at `path` in one step (see module docstring)."""
    if is_local(path):
        directory = os.path.dirname(path) or "."
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return
    with FileSystems.create(path, mime_type="application/octet-stream") as out:
        out.write(data)


def remove_temporary_files(folder: str) -> int:
    """Deletes write_bytes' temporary files under a local `folder`; returns how many.

    Only a killed process leaves one behind (none is ever read as a result), and
    only a run holding the folder's lease (transforms/store/lease.py) may call
    this, since nobody else can be writing there. GCS uploads leave none.
    """
    if not is_local(folder) or not os.path.isdir(folder):
        return 0
    removed = 0
    for directory, _, names in os.walk(folder):
        for name in names:
            if _TEMPORARY.match(name):
                os.unlink(os.path.join(directory, name))
                removed += 1
    return removed


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def list_files(folder: str) -> List[str]:
    """Every file under `folder`, recursively; empty when the folder does not exist."""
    [match] = FileSystems.match([join(folder, "**")])
    return [m.path for m in match.metadata_list]


def folder_exists(folder: str) -> bool:
    """A local directory, or a bucket prefix holding at least one object."""
    if is_local(folder):
        return os.path.isdir(folder)
    [match] = FileSystems.match([join(folder, "**")], limits=[1])
    return bool(match.metadata_list)


def delete(path: str) -> None:
    FileSystems.delete([path])


def delete_if_present(path: str) -> None:
    if exists(path):
        delete(path)


def list_relative(folder: str) -> Set[str]:
    """Paths of every file under `folder`, relative to it with '/' separators."""
    if is_local(folder):
        found = set()
        for parent, _, names in os.walk(folder):
            for name in names:
                found.add(os.path.relpath(os.path.join(parent, name), folder).replace(os.sep, "/"))
        return found
    root = folder.rstrip("/") + "/"
    return {path[len(root):] for path in list_files(folder) if path.startswith(root)}


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path) as handle:
        return handle.read()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def load_npy(path: str) -> np.ndarray:
    return np.load(io.BytesIO(read_bytes(path)), allow_pickle=False)
