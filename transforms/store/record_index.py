"""The record index: every result record of an output folder, in one object read in one go.

    OUT/features/index/records.jsonl.gz   the records without their moments, and the exact total of the
                                          saved clips' moments

A re-run decides from it (transforms/store/plan.py) instead of reading one record
per video, and its statistics start from the stored total instead of summing
every clip again (transforms/reports/statistics.py).

records.jsonl.gz, gzip'd JSON lines. First line, the header:

    {"format": "ghsl-record-index/2",
     "total": {"fingerprint": "<the feature fingerprint of every saved clip>",
               "moments": {… common.moments.ExactMoments.to_json …}}}   # null when it has no saved clip

then one line per record:

    {"stem": "signer1/clip", "size": 9132, "version": "<generation or mtime_ns>",
     "record": {… the record of transforms/store/records.py, without "moments" …}}

The total is the exact sum of the moments of exactly the entries whose status is
success (ExactMoments: the same clips give the same bits in any order, and a
clip's moments can be taken out again exactly). Format 1 (before exact totals)
is read too: its entries are used, its float sum is not.

The per-video records stay the truth. An entry is used only while the records
listing shows its record file with the same size and version (GCS generation,
local mtime_ns): a record rewritten since (a killed run, another version of the
pipeline), missing from the index, or an index that is absent or damaged means
those records are read themselves. The job reads it as it is decompressed, line
by line, and writes it last.
"""
from __future__ import annotations

import concurrent.futures
import gzip
import hashlib
import io
import json
import logging
from typing import Dict, Iterable, Iterator, NamedTuple, Optional, Tuple

from transforms.common import storage
from transforms.common.moments import ExactMoments
from transforms.common.storage import ObjectInfo
from transforms.store import records
from transforms.store.paths import RECORDS_SUBDIR, index_path, record_path

RECORDS_FILE = "records.jsonl.gz"
FORMAT = "ghsl-record-index/2"
READABLE = (FORMAT, "ghsl-record-index/1")
READ_THREADS = 16  # a record read is a round trip to the bucket, not work for a core
LOG = logging.getLogger("ghsl")


class Entry(NamedTuple):
    """One record as the index holds it."""

    size: int          # of the record file
    version: str       # of the record file (ObjectInfo.version)
    record: dict       # without moments

    def is_current(self, listed: Optional[ObjectInfo]) -> bool:
        """The record file the records listing shows is still the one indexed."""
        return listed is not None and listed.size == self.size and listed.version == self.version


class Total(NamedTuple):
    """The stored exact sum of the saved clips' moments, and the feature fingerprint they share."""

    fingerprint: str
    moments: ExactMoments


def entry_hash(stem: str, size: int, version: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{stem}\0{size}\0{version}".encode()).digest(), "big")


def add_to_digest(digest: int, stem: str, size: int, version: str) -> int:
    """A digest of (stem, size, version) entries that is the same whatever their order (a sum of their
    hashes): equal digests say the index holds the entries a run would write, so it is left alone."""
    return (digest + entry_hash(stem, size, version)) % (1 << 256)


def path(output_dir: str, name: str = RECORDS_FILE) -> str:
    return index_path(output_dir, name)


def record_stems(listing: Dict[str, ObjectInfo]) -> Dict[str, ObjectInfo]:
    """stem → record file, from a listing of OUT/features/records/."""
    return {name[: -len(".json")]: info for name, info in listing.items()
            if name.endswith(".json") and not name.split("/")[-1].startswith(".")}


# --- reading ---------------------------------------------------------------------------------------

class Unusable(Exception):
    """The index exists but cannot be read; the records themselves are read instead."""


def read(output_dir: str) -> Tuple[Optional[Total], Iterator[Tuple[str, Entry]]]:
    """(its total or None, its entries as they are read); no index: (None, nothing).

    Raises Unusable, saying why, for an index that is damaged or not ours: at once for its header,
    while iterating for a line further down (what was read so far is then not to be trusted either).
    """
    data = storage.read_if_present(path(output_dir))
    if data is None:
        return None, iter(())
    try:
        lines = io.TextIOWrapper(gzip.GzipFile(fileobj=io.BytesIO(data)), encoding="utf-8")
        header = json.loads(next(lines))
        if header.get("format") not in READABLE:
            raise ValueError(f"format {header.get('format')!r}, not {FORMAT}")
        total = header.get("total") if header.get("format") == FORMAT else None
        found = Total(total["fingerprint"], ExactMoments.from_json(total["moments"])) if total else None
    except Exception as exc:  # truncated, not gzip, not ours
        raise Unusable(f"{type(exc).__name__}: {exc}") from None
    return found, _entries(lines)


def _entries(lines) -> Iterator[Tuple[str, Entry]]:
    try:
        for line in lines:
            item = json.loads(line)
            yield item["stem"], Entry(int(item["size"]), str(item["version"]), item["record"])
    except Exception as exc:
        raise Unusable(f"{type(exc).__name__}: {exc}") from None


def read_records(output_dir: str, stems: Iterable[str]) -> Dict[str, dict]:
    """stem → the current record of each of `stems` (without its moments), for the tools that read a
    finished run (pipeline.release): one listing of the records, one read of the index, and the records
    it lacks or holds an older version of read themselves. A stem with no usable record is left out."""
    wanted = set(stems)
    listed = {stem: info for stem, info in
              record_stems(storage.list_objects(storage.join(output_dir, *RECORDS_SUBDIR))).items() if stem in wanted}
    try:
        entries = {stem: entry for stem, entry in read(output_dir)[1] if stem in wanted}
    except Unusable as exc:
        LOG.warning("The record index %s cannot be used (%s); the records are read instead.", path(output_dir), exc)
        entries = {}
    found = {stem: entries[stem].record for stem, info in listed.items()
             if stem in entries and entries[stem].is_current(info)}
    stale = [stem for stem in listed if stem not in found]
    with concurrent.futures.ThreadPoolExecutor(READ_THREADS) as pool:
        for stem, record in zip(stale, pool.map(lambda s: records.read(record_path(output_dir, s)), stale)):
            if record is not None:
                found[stem] = records.without_moments(record)
    return found


# --- writing ---------------------------------------------------------------------------------------

def write(output_dir: str, entries: Dict[str, Entry], total: Optional[Total]) -> None:
    """Replace the index with `entries` by stem and the exact total of the saved ones."""
    storage.write_bytes(path(output_dir), records_jsonl(entries, total))


def records_jsonl(entries: Dict[str, Entry], total: Optional[Total]) -> bytes:
    header = {"format": FORMAT,
              "total": None if total is None else {"fingerprint": total.fingerprint,
                                                   "moments": total.moments.to_json()}}
    lines = [json.dumps(header, allow_nan=False)]
    for stem in sorted(entries):
        entry = entries[stem]
        lines.append(json.dumps({"stem": stem, "size": entry.size, "version": entry.version,
                                 "record": records.finite(entry.record)},
                                separators=(",", ":"), allow_nan=False))
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)
