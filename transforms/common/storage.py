"""Reading, writing and listing local paths and gs:// URIs, with the fewest requests to a bucket.

Writes are all-or-nothing: a local file is written under a temporary name and
published with a rename; a GCS object appears only when its upload completes.
A retried bundle therefore never leaves a partial file behind.

On GCS every call is one request of one `google.cloud.storage.Client` per
process (thread-safe: its HTTP session is urllib3's pool): a read is one
download, a write (up to 8 MiB) one upload, a listing one request per 1,000
objects. Beam's FileSystems, which this module used before, looks the bucket
up on every call and checks an object's metadata before reading it: about
three requests where one does, which at 10,000 videos and a 30 ms round trip
is most of a re-run.

A listing (`list_objects`) gives, per object, what decides whether it changed
(`ObjectInfo`): size, update time, CRC32C and generation on GCS; size, mtime
and mtime_ns locally. Re-runs plan from listings instead of asking about
each file (transforms/store/plan.py).

This is the pipeline's only storage layer: every stage reads, writes, lists and
deletes through it, so a gs:// path costs the same requests everywhere and
needs no Beam import (pipeline.report and the launcher's checks run without it).
"""
from __future__ import annotations

import base64
import calendar
import concurrent.futures
import contextlib
import io
import os
import posixpath
import re
import shutil
import tempfile
import threading
import uuid
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

import numpy as np

# google-cloud-storage 3.x looks up a bucket's metadata on a background thread, per client and
# bucket, to label tracing spans that are off unless asked for: a request that does nothing here.
os.environ.setdefault("DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA", "true")

_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")  # write_bytes' temporary names
_SCHEME = re.compile(r"^(?P<scheme>[a-zA-Z][-a-zA-Z0-9+.]*)://")  # as Beam's FileSystems reads a URI
GCS = "gs://"
# Parallel readers (record look-ups, listings of several prefixes) share the client's pool.
POOL_SIZE = 32


class ObjectInfo(NamedTuple):
    """What a listing says about one file or object."""

    size: int
    updated: float            # seconds since the epoch, as Beam's FileSystems reports it
    checksum: Optional[str]   # GCS: CRC32C, base64 (as Beam's FileSystems.checksum); local: None
    version: str              # GCS: the generation; local: mtime in ns. Changes whenever it is rewritten.


def identity(info: Optional[ObjectInfo]) -> Optional[Dict[str, object]]:
    """What a listing says of a file that changes whenever the file is rewritten: size, version (GCS
    generation, local mtime in ns) and, on GCS, CRC32C. Kept by records and release manifests, so a
    later listing tells whether a file is still the one they vouch for without reading it."""
    if info is None:
        return None
    return {"size": info.size, "version": info.version, "checksum": info.checksum}


def same_identity(info: Optional[ObjectInfo], kept: Optional[Dict[str, object]]) -> bool:
    """The listed file is, by its identity, the one kept: same size, and the same version or (a copied
    bucket keeps its objects' CRC32C, not their generations) the same CRC32C."""
    if info is None or not isinstance(kept, dict) or info.size != kept.get("size"):
        return False
    return info.version == kept.get("version") or (info.checksum is not None and info.checksum == kept.get("checksum"))


def is_local(path: str) -> bool:
    found = _SCHEME.match(path.strip())
    if found is None:
        return True
    if found.group("scheme") != "gs":
        raise ValueError(f"{path}: only local paths and gs:// URIs are supported")
    return False


def join(base: str, *parts: str) -> str:
    """Beam's FileSystems.join, without importing Beam: os.path.join locally, '/' between parts on GCS."""
    if is_local(base):
        return os.path.join(base, *parts)
    path = base
    for part in parts:
        path = path.rstrip("/") + "/" + part.lstrip("/")
    return path


def parent(path: str) -> str:
    """The folder holding `path` (local: absolute)."""
    if is_local(path):
        return os.path.dirname(os.path.abspath(path))
    head = path.rstrip("/")
    cut = head.rfind("/")
    return head[:cut] if cut >= len(GCS) else head


# --- the client --------------------------------------------------------------------------------

_clients: Dict[int, object] = {}
_clients_lock = threading.Lock()


def gcs_client():
    """This process's storage client (made on first use, again after a fork)."""
    pid = os.getpid()
    client = _clients.get(pid)
    if client is None:
        with _clients_lock:
            client = _clients.get(pid)
            if client is None:
                client = _clients[pid] = _new_client()
    return client


def _new_client():
    import requests.adapters
    from google.cloud import storage as gcs

    client = gcs.Client()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    for scheme in ("https://", "http://"):
        client._http.mount(scheme, adapter)
    return client


def _split(path: str) -> Tuple[str, str]:
    bucket, _, name = path[len(GCS):].partition("/")
    return bucket, name


def _blob(path: str):
    bucket, name = _split(path)
    return gcs_client().bucket(bucket).blob(name)


def _retry():
    # Our writes are idempotent (the same bytes again, or a newer result): retried like reads.
    from google.cloud.storage.retry import DEFAULT_RETRY

    return DEFAULT_RETRY


def _info_of_blob(blob) -> ObjectInfo:
    return ObjectInfo(int(blob.size), updated_seconds(blob.updated), blob.crc32c, str(blob.generation))


def updated_seconds(updated) -> float:
    """An object's update time in seconds, as Beam's GcsIO._updated_to_seconds gives it on a UTC machine.

    Records made by earlier versions hold that value (computed on Dataflow's UTC
    workers), so it must be the same to the bit. Beam's own function goes through
    time.mktime, which depends on the local time zone and its daylight saving:
    planned on a launcher in such a zone, every video would look changed.
    """
    return calendar.timegm(updated.timetuple()) + updated.microsecond / 1000000.0


def _info_of_stat(stat: os.stat_result) -> ObjectInfo:
    return ObjectInfo(stat.st_size, stat.st_mtime, None, str(stat.st_mtime_ns))


def _not_found():
    from google.api_core.exceptions import NotFound

    return NotFound


# --- reads ---------------------------------------------------------------------------------------

def read_bytes(path: str) -> bytes:
    """The file's bytes; FileNotFoundError when it does not exist (other errors propagate)."""
    if is_local(path):
        with open(path, "rb") as handle:
            return handle.read()
    try:
        return _blob(path).download_as_bytes(raw_download=True, retry=_retry())
    except _not_found() as exc:
        raise FileNotFoundError(path) from exc


def read_if_present(path: str) -> Optional[bytes]:
    try:
        return read_bytes(path)
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def local_copy(path: str) -> Iterator[str]:
    """A local file path holding the object at `path`, deleted afterwards if it was copied.

    OpenCV needs a file name; remote objects are streamed to disk (one download) so
    a long video never sits whole in memory.
    """
    if is_local(path):
        if not os.path.isfile(path):
            raise FileNotFoundError(path)
        yield path
        return
    suffix = os.path.splitext(path)[1]
    fd, local = tempfile.mkstemp(prefix="ghsl-video-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                _blob(path).download_to_file(out, raw_download=True, retry=_retry())
            except _not_found() as exc:
                raise FileNotFoundError(path) from exc
        yield local
    finally:
        os.unlink(local)


def object_info(path: str) -> Optional[ObjectInfo]:
    """What a listing would say of this one file (one request on GCS); None when it does not exist."""
    if is_local(path):
        try:
            return _info_of_stat(os.stat(path))
        except FileNotFoundError:
            return None
    bucket, name = _split(path)
    blob = gcs_client().bucket(bucket).get_blob(name, retry=_retry())
    return None if blob is None else _info_of_blob(blob)


def exists(path: str) -> bool:
    if is_local(path):
        return os.path.exists(path)
    return _blob(path).exists(retry=_retry())


# --- writes --------------------------------------------------------------------------------------

def write_bytes(path: str, data: bytes, unless: Optional[ObjectInfo] = None) -> Optional[ObjectInfo]:
    """Publish `data` at `path` in one step (see module docstring); returns what a listing would now say.

    unless: what a listing said of the object before. On GCS, when its CRC32C and size
    are those of `data`, nothing is sent: the object already holds these bytes.
    """
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
        return _info_of_stat(os.stat(path))
    if unless is not None and unless.size == len(data) and unless.checksum == crc32c(data):
        return unless
    blob = _blob(path)
    blob.upload_from_string(data, content_type="application/octet-stream", retry=_retry())
    return _info_of_blob(blob)


def write_text(path: str, text: str, unless: Optional[ObjectInfo] = None) -> Optional[ObjectInfo]:
    return write_bytes(path, text.encode("utf-8"), unless)


def write_file(path: str, local_file: str) -> ObjectInfo:
    """Publish the local file `local_file` at `path` in one step, as write_bytes does with bytes; the local
    file is moved (locally) or uploaded and deleted (GCS). For outputs too big to hold in memory twice."""
    try:
        if is_local(path):
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            os.replace(local_file, path)
            return _info_of_stat(os.stat(path))
        blob = _blob(path)
        blob.upload_from_filename(local_file, content_type="application/octet-stream", retry=_retry())
        return _info_of_blob(blob)
    finally:
        if os.path.exists(local_file):
            os.unlink(local_file)


def temporary_file(path: str) -> str:
    """A new local file name for building what will be published at `path` with write_file: beside it
    locally (so publishing is a rename on the same disk; a killed run's leftover is cleaned up like
    write_bytes' temporary files), in the temp folder for GCS."""
    name = f".{posixpath.basename(path)}.{uuid.uuid4().hex}.tmp"
    if is_local(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return os.path.join(os.path.dirname(path), name)
    return os.path.join(tempfile.gettempdir(), name)


def crc32c(data: bytes) -> str:
    """The CRC32C GCS keeps for an object with these bytes (base64 of the big-endian value)."""
    import google_crc32c

    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode("ascii")


def delete(path: str) -> None:
    if is_local(path):
        os.unlink(path)
        return
    try:
        _blob(path).delete(retry=_retry())
    except _not_found() as exc:
        raise FileNotFoundError(path) from exc


def delete_if_present(path: str) -> None:
    """One request on GCS: a delete that finds nothing is not an error."""
    try:
        delete(path)
    except FileNotFoundError:
        pass


def delete_folder(folder: str) -> None:
    """Every file under `folder` (GCS: one delete per object, several at once); nothing when it is absent."""
    if is_local(folder):
        shutil.rmtree(folder, ignore_errors=True)
        return
    paths = [join(folder, name) for name in sorted(list_objects(folder))]
    if paths:
        with concurrent.futures.ThreadPoolExecutor(min(len(paths), 8)) as pool:
            list(pool.map(delete_if_present, paths))


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


# --- listings ------------------------------------------------------------------------------------

def list_objects(folder: str) -> Dict[str, ObjectInfo]:
    """Every file under `folder`, recursively, by its path relative to it ('/' separators).

    Empty when the folder does not exist. Locally, write_bytes' temporary files are left out, and
    a symlinked folder is listed as a folder (_walk_local).
    """
    if is_local(folder):
        found = {}
        for parent, names in _walk_local(folder):
            for name in names:
                if _TEMPORARY.match(name):
                    continue
                full = os.path.join(parent, name)
                try:
                    found[os.path.relpath(full, folder).replace(os.sep, "/")] = _info_of_stat(os.stat(full))
                except FileNotFoundError:  # removed while we listed, or a link to nothing
                    continue
        return found
    bucket, prefix = _split(folder.rstrip("/") + "/")
    blobs = gcs_client().list_blobs(bucket, prefix=prefix, retry=_retry(),
                                    fields="items(name,size,updated,crc32c,generation),nextPageToken")
    return {blob.name[len(prefix):]: _info_of_blob(blob) for blob in blobs}


def _walk_local(folder: str) -> Iterator[Tuple[str, List[str]]]:
    """(folder, its file names) for `folder` and every folder under it, symlinked folders included.

    A dataset is often assembled from links (a signer's day linked in from another disk); on
    GCS the same tree is plain objects, so a link is followed to list the files a reader
    sees through it. A link back to a folder it sits in would be walked forever: a folder
    whose real path is already on the way down from `folder` is not entered again.
    """
    folder = os.path.normpath(folder)
    real = {folder: os.path.realpath(folder)}
    for parent, dirs, names in os.walk(folder, followlinks=True):
        above = set()
        step = parent
        while step in real:
            above.add(real[step])
            if step == folder:
                break
            step = os.path.dirname(step)
        entered = []
        for name in dirs:
            path = os.path.join(parent, name)
            real[path] = os.path.realpath(path)
            if real[path] not in above:
                entered.append(name)
        dirs[:] = entered
        yield parent, names


def list_files(folder: str) -> List[str]:
    """Full paths of every file under `folder`, recursively; empty when the folder does not exist."""
    return [join(folder, name) for name in sorted(list_objects(folder))]


# --- arrays --------------------------------------------------------------------------------------

def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def load_npy(path: str) -> np.ndarray:
    return npy_from_bytes(read_bytes(path))


def npy_from_bytes(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)
