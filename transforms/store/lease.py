"""The lease on an output folder: one run at a time writes under --output_dir.

Two runs writing the same folder would interleave their reports and delete each
other's outputs, so a run first creates `OUT/proc/.lease.json` and a second run
that finds it stops at once, naming the holder. The lease is created
atomically: locally with an exclusive create (O_CREAT|O_EXCL), on GCS with an
`ifGenerationMatch=0` precondition, so of two runs starting together exactly
one wins.

Format (JSON): run_id, host, pid, started_at (ISO 8601, UTC), started_unix
(seconds), local (true when the run works on the machine that holds it, i.e.
the DirectRunner; a Dataflow job outlives the process that launched it).

A lease is taken over, with a warning naming the run it replaces, when
- it is older than MAX_AGE (24 h: a Dataflow run over the whole bucket takes
  hours; a day means it has certainly ended or died), or
- it belongs to a local run on this host whose process no longer exists (a
  killed or crashed run: the next run goes ahead at once), or
- the new run is given --break_lease (after checking that the holder is dead).
Taking over replaces exactly the lease that was judged stale (a rename aside
locally, an `ifGenerationMatch=<its generation>` write on GCS), so two runs
taking over together cannot both win.

The holder releases it at the end, also on failure; a release deletes the lease
only while it still names the releasing run, never another run's. `acquire`
returns a `Taken` naming the exact version of the lease it created; the job's
last step (pipeline/graph.py) gives it back with one conditional delete,
wherever that step runs, and the launcher does the same when the run fails.
"""
from __future__ import annotations

import datetime
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Callable, NamedTuple, Optional, Tuple, Union

from transforms.common import storage

LEASE_PATH = ("proc", ".lease.json")
MAX_AGE_SECONDS = 24 * 3600
LOG = logging.getLogger("ghsl")


class LeaseHeld(Exception):
    """Another run holds the output folder; the message names it and says what to do."""


@dataclass
class Holder:
    run_id: str
    host: str
    pid: int
    started_at: str
    started_unix: float
    local: bool

    @classmethod
    def this_run(cls, run_id: str, local: bool) -> "Holder":
        now = time.time()
        started = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(run_id, socket.gethostname(), os.getpid(), started, now, local)

    def describe(self) -> str:
        minutes = max(0.0, time.time() - self.started_unix) / 60
        return (f"run {self.run_id} on host {self.host} (pid {self.pid}), started {self.started_at} "
                f"({minutes:.0f} min ago)")

    def stale_reason(self) -> Optional[str]:
        """Why this lease may be taken over without being asked, or None while its run may be alive."""
        if time.time() - self.started_unix > MAX_AGE_SECONDS:
            return f"older than {MAX_AGE_SECONDS // 3600} h"
        if self.local and self.host == socket.gethostname() and not _process_exists(self.pid):
            return f"its process {self.pid} no longer exists on this host"
        return None


def lease_path(output_dir: str) -> str:
    return storage.join(output_dir, *LEASE_PATH)


class Taken(NamedTuple):
    """A lease this run holds: the version it created (local: its bytes; GCS: its generation)."""

    output_dir: str
    run_id: str
    version: Union[bytes, int]


def _store(path: str):
    return _LocalLease(path) if storage.is_local(path) else _GcsLease(path)


def acquire(output_dir: str, run_id: str, *, local: bool, break_lease: bool = False) -> Taken:
    """Takes the lease on `output_dir` for `run_id` or raises LeaseHeld (see module docstring)."""
    path = lease_path(output_dir)
    me = Holder.this_run(run_id, local)
    store = _store(path)
    for _ in range(3):  # another run may create or replace the lease between our read and our write
        # Created first, read only when that fails: a free folder costs one request.
        taken = store.create(me)
        if taken is not None:
            return Taken(output_dir, run_id, taken)
        current, version = store.read()
        if current is None:
            continue
        reason = "--break_lease was given" if break_lease else current.stale_reason()
        if reason is None:
            raise LeaseHeld(
                f"--output_dir {output_dir} is in use by {current.describe()}; its lease is {path}. Wait for "
                f"that run to finish. If it is dead, run again with --break_lease (a lease older than "
                f"{MAX_AGE_SECONDS // 3600} h, or of a local run whose process has gone, is taken over by itself).")
        taken = store.replace(version, me)
        if taken is not None:
            LOG.warning("Took over the lease on %s from %s: %s.", output_dir, current.describe(), reason)
            return Taken(output_dir, run_id, taken)
    raise LeaseHeld(f"--output_dir {output_dir}: other runs keep taking the lease {path}; try again later.")


def give_back(taken: Taken) -> bool:
    """Deletes the lease if it is still the version `taken` created (one conditional delete); True when it did.

    False when another run has taken the lease over since, or it is gone already.
    """
    return _store(lease_path(taken.output_dir)).delete(taken.version)


def release(output_dir: str, run_id: str) -> bool:
    """Deletes the lease if it still names `run_id` (read first: for a holder that kept no Taken)."""
    store = _store(lease_path(output_dir))
    current, version = store.read()
    if current is None or current.run_id != run_id:
        return False
    return store.delete(version)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _parse(data: bytes, created_unix: Callable[[], float]) -> Holder:
    try:
        return Holder(**json.loads(data))
    except (ValueError, TypeError):
        # Killed between creating the file and writing it: nothing says who, so only the age
        # limit (from when the file was created) or --break_lease frees it.
        return Holder("(unreadable lease)", "unknown", -1, "unknown", created_unix(), False)


class _LocalLease:
    def __init__(self, path: str):
        self.path = path

    def read(self) -> Tuple[Optional[Holder], Optional[bytes]]:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
            mtime = os.path.getmtime(self.path)
        except FileNotFoundError:
            return None, None
        return _parse(data, lambda: mtime), data

    def create(self, holder: Holder) -> Optional[bytes]:
        """The bytes written (what delete() later checks), or None when a lease exists."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return None
        data = json.dumps(asdict(holder)).encode()
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        return data

    def replace(self, judged: bytes, holder: Holder) -> Optional[bytes]:
        return self.create(holder) if self.delete(judged) else None

    def delete(self, judged: bytes) -> bool:
        """Removes the lease if it still holds `judged`: moved aside first, so no other run's lease is lost."""
        aside = f"{self.path}.{uuid.uuid4().hex}.old"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        try:
            with open(aside, "rb") as handle:
                if handle.read() == judged:
                    return True
            try:
                os.link(aside, self.path)  # another run's lease after all: put it back
            except FileExistsError:
                pass
            return False
        finally:
            os.unlink(aside)


class _GcsLease:
    """One request per step: a read is a download (its generation comes in the response headers)."""

    def __init__(self, path: str):
        bucket, _, self.name = path[len("gs://"):].partition("/")
        self.bucket = storage.gcs_client().bucket(bucket)
        self.blob = self.bucket.blob(self.name)

    def read(self) -> Tuple[Optional[Holder], Optional[int]]:
        from google.api_core.exceptions import NotFound

        found = self.bucket.blob(self.name)
        try:
            data = found.download_as_bytes()
        except NotFound:
            return None, None
        if found.generation is None:
            # GCS sends x-goog-generation with every download; gcp-storage-emulator does not.
            listed = self.bucket.get_blob(self.name)
            if listed is None:
                return None, None
            found = listed
        return _parse(data, lambda: self._created(found)), int(found.generation)

    def _created(self, found) -> float:
        """When the lease object was created (an extra request, only for a lease with no readable holder)."""
        blob = self.bucket.get_blob(self.name, generation=found.generation)
        return blob.time_created.timestamp() if blob is not None else time.time()

    def _write(self, holder: Holder, generation: int) -> Optional[int]:
        """The generation written (the upload's response names it), or None when the precondition failed."""
        from google.api_core.exceptions import PreconditionFailed

        blob = self.bucket.blob(self.name)
        try:
            blob.upload_from_string(json.dumps(asdict(holder)), content_type="application/json",
                                    if_generation_match=generation)
        except PreconditionFailed:
            return None
        return int(blob.generation)

    def create(self, holder: Holder) -> Optional[int]:
        return self._write(holder, 0)  # 0: only if no object exists

    def replace(self, generation: int, holder: Holder) -> Optional[int]:
        return self._write(holder, generation)

    def delete(self, generation: int) -> bool:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        try:
            self.blob.delete(if_generation_match=generation)
        except (NotFound, PreconditionFailed):
            return False
        return True
