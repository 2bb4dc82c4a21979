"""The record index: every result record of an output folder, in two objects read in one go each.

    OUT/features/index/records.jsonl.gz   the records without their moments (what planning needs)
    OUT/features/index/moments.npz        the moments of every saved clip (what the statistics need)

A re-run plans from the first (transforms/store/plan.py) instead of reading one
record per video; only the job's statistics step reads the second, and not even
that when the saved clips are exactly the ones the index already sums.

records.jsonl.gz, gzip'd JSON lines. First line, the header:

    {"format": "ghsl-record-index/1",
     "saved": {"keys": "sha256 of the saved clips' (stem, record version)", "count": …, "sum": "<b64>",
               "sum_sq": "<b64>"}}      # the moments of those clips, summed (null when none)

then one line per record:

    {"stem": "signer1/clip", "size": 9132, "version": "<generation or mtime_ns>",
     "record": {… the record of transforms/store/records.py, without "moments" …}}

moments.npz: `stems`, `versions` (str), `count` (N × 1 for v1, N × D for v2, int64),
`sum`, `sum_sq` (N × D, float64), one row per saved clip.

The per-video records stay the truth. An entry is used only while the records
listing shows its record file with the same size and version (GCS generation,
local mtime_ns): a record rewritten since (a killed run, another version of the
pipeline), missing from the index, or an index that is absent or damaged means
those records are read themselves (in parallel). The job writes the index last,
the moments first: a run killed in between leaves records the next run either
finds indexed at their current version or reads again.
"""
from __future__ import annotations

import concurrent.futures
import gzip
import hashlib
import io
import json
import logging
from typing import Dict, Iterable, NamedTuple, Optional, Set, Tuple

import numpy as np

from transforms.common import storage
from transforms.common.moments import Moments
from transforms.common.storage import ObjectInfo
from transforms.store import records
from transforms.store.paths import RECORDS_SUBDIR, index_path, record_path

RECORDS_FILE = "records.jsonl.gz"
MOMENTS_FILE = "moments.npz"
FORMAT = "ghsl-record-index/1"
READ_THREADS = 16
LOG = logging.getLogger("ghsl")


class Entry(NamedTuple):
    """One record as the index holds it."""

    size: int          # of the record file
    version: str       # of the record file (ObjectInfo.version)
    record: dict       # without moments


class Index(NamedTuple):
    entries: Dict[str, Entry]
    saved_keys: Optional[str]          # saved_keys() of the saved clips it sums
    saved: Optional[Moments]           # their moments, summed
    problem: Optional[str] = None      # why an index that exists could not be used

    def trusted(self, listed: Dict[str, ObjectInfo]) -> Tuple[Dict[str, dict], Set[str]]:
        """(stem → record for entries whose record file is still the one indexed,
        stems whose record file the index lacks or holds another version of)."""
        found, stale = {}, set()
        for stem, info in listed.items():
            entry = self.entries.get(stem)
            if entry is not None and entry.size == info.size and entry.version == info.version:
                found[stem] = entry.record
            else:
                stale.add(stem)
        return found, stale


EMPTY = Index({}, None, None)


def path(output_dir: str, name: str) -> str:
    return index_path(output_dir, name)


def record_stems(listing: Dict[str, ObjectInfo]) -> Dict[str, ObjectInfo]:
    """stem → record file, from a listing of OUT/features/records/."""
    return {name[: -len(".json")]: info for name, info in listing.items()
            if name.endswith(".json") and not name.split("/")[-1].startswith(".")}


def saved_keys(keys: Iterable[Tuple[str, str]]) -> str:
    """A fingerprint of a set of saved clips, (stem, record version) each."""
    digest = hashlib.sha256()
    for stem, version in sorted(keys):
        digest.update(f"{stem}\0{version}\n".encode())
    return digest.hexdigest()


# --- reading ---------------------------------------------------------------------------------------

def read(output_dir: str) -> Index:
    """The index of `output_dir` (EMPTY when there is none; EMPTY with a problem when it is damaged)."""
    data = storage.read_if_present(path(output_dir, RECORDS_FILE))
    if data is None:
        return EMPTY
    try:
        lines = gzip.decompress(data).decode("utf-8").splitlines()
        header = json.loads(lines[0])
        if header.get("format") != FORMAT:
            raise ValueError(f"format {header.get('format')!r}, not {FORMAT}")
        entries = {}
        for line in lines[1:]:
            item = json.loads(line)
            entries[item["stem"]] = Entry(int(item["size"]), str(item["version"]), item["record"])
        saved = header.get("saved")
        return Index(entries, saved["keys"] if saved else None,
                     records.moments_from_json(saved) if saved and saved.get("sum") else None)
    except Exception as exc:  # truncated, not gzip, not ours: the records themselves are read
        return Index({}, None, None, f"{type(exc).__name__}: {exc}")


def read_full_records(output_dir: str, stems: Iterable[str]) -> Dict[str, dict]:
    """stem → its record read from its own file (moments included), in parallel; unusable ones left out."""
    def one(stem: str):
        return stem, records.read(record_path(output_dir, stem))

    stems = list(stems)
    if not stems:
        return {}
    with concurrent.futures.ThreadPoolExecutor(min(READ_THREADS, len(stems))) as pool:
        return {stem: record for stem, record in pool.map(one, stems) if record is not None}


def read_moments(output_dir: str, wanted: Dict[str, str]) -> Dict[str, Moments]:
    """stem → moments of the saved clips in `wanted` (stem → record version) that moments.npz holds at
    that version; read from the records themselves for the others."""
    found: Dict[str, Moments] = {}
    data = storage.read_if_present(path(output_dir, MOMENTS_FILE))
    if data is not None:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                stems, versions = arrays["stems"], arrays["versions"]
                count, total, total_sq = arrays["count"], arrays["sum"], arrays["sum_sq"]
                for i, (stem, version) in enumerate(zip(stems.tolist(), versions.tolist())):
                    if wanted.get(stem) == version:
                        c = count[i]
                        found[stem] = Moments(int(c[0]) if len(c) == 1 else c.astype(np.int64), total[i], total_sq[i])
        except Exception as exc:  # damaged: the records have them too
            LOG.warning("The record index's %s is unreadable (%s); reading the records instead.", MOMENTS_FILE, exc)
            found = {}
    missing = [stem for stem in wanted if stem not in found]
    for stem, record in read_full_records(output_dir, missing).items():
        if record.get("moments") is not None:
            found[stem] = records.moments_from_json(record["moments"])
    return found


def read_records(output_dir: str, stems: Optional[Iterable[str]] = None) -> Dict[str, dict]:
    """stem → the current record of that video (without its moments), for `stems` (every record when None).

    One listing of the records, one read of the index, and the records the index
    lacks or holds an older version of read themselves. A stem with no usable record is left out.
    """
    listed = record_stems(storage.list_objects(storage.join(output_dir, *RECORDS_SUBDIR)))
    index = read(output_dir)
    if stems is not None:
        wanted = set(stems)
        listed = {stem: info for stem, info in listed.items() if stem in wanted}
    found, stale = index.trusted(listed)
    for stem, record in read_full_records(output_dir, stale).items():
        found[stem] = records.without_moments(record)
    return found


# --- writing ---------------------------------------------------------------------------------------

def write(output_dir: str, entries: Dict[str, Entry], moments: Dict[str, Tuple[str, Moments]],
          saved: Optional[Moments]) -> None:
    """Replace the index: `entries` by stem; `moments` stem → (record version, moments) of the saved
    clips; `saved` the sum the run's statistics were computed from, kept so that a run with the same
    saved clips reuses it bit for bit. The moments first, then the records: see the module docstring.
    """
    storage.write_bytes(path(output_dir, MOMENTS_FILE), moments_npz(moments))
    keys = saved_keys((stem, version) for stem, (version, _) in moments.items()) if moments else None
    storage.write_bytes(path(output_dir, RECORDS_FILE), records_jsonl(entries, keys, saved))


def moments_npz(moments: Dict[str, Tuple[str, Moments]]) -> bytes:
    stems = sorted(moments)
    rows = [moments[s][1] for s in stems]
    width = len(rows[0].total) if rows else 0
    buffer = io.BytesIO()
    np.savez(buffer, stems=np.array(stems, dtype=str), versions=np.array([moments[s][0] for s in stems], dtype=str),
             count=np.stack([np.atleast_1d(np.asarray(m.count, np.int64)) for m in rows]) if rows
             else np.zeros((0, 1), np.int64),
             sum=np.stack([m.total for m in rows]) if rows else np.zeros((0, width)),
             sum_sq=np.stack([m.total_sq for m in rows]) if rows else np.zeros((0, width)))
    return buffer.getvalue()


def records_jsonl(entries: Dict[str, Entry], keys: Optional[str], saved: Optional[Moments]) -> bytes:
    header = {"format": FORMAT,
              "saved": None if keys is None else {"keys": keys, **(records.moments_json(saved) if saved else {})}}
    lines = [json.dumps(header)]
    for stem in sorted(entries):
        entry = entries[stem]
        lines.append(json.dumps({"stem": stem, "size": entry.size, "version": entry.version, "record": entry.record},
                                separators=(",", ":")))
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)
