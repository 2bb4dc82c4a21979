"""The plan of a run, made where the job is launched: what each metadata row needs, from a few listings.

Per run, not per row: one listing of --video_dir (made by the preflight, which
needs it anyway), one each of OUT/landmarks/, OUT/features/ (arrays, records and
the record index) and OUT/proc/, and one read of the record index
(transforms/store/record_index.py). Then every row is settled with the rule of
transforms/store/reuse.py:

  * here, on the launcher: rows reused from the index (their report rows),
    videos the listing does not have (missing), rows the metadata check
    rejected; and the outputs of videos no longer in the metadata (orphans);
  * work for the job: videos to decode, and stored landmarks to compute
    features from again;
  * look-ups for the job: rows whose record the index lacks or holds an older
    version of; the job reads those records, in parallel, and decides the same way.

So the job's workers get only the rows that need work, and a run with nothing
to do reads no video, no .pose and no record (pipeline/graph.py leaves that
step out). What the reports step needs of the index travels as `IndexState`.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
from typing import Dict, List, Optional, Union

from transforms.common import storage
from transforms.common.moments import Moments
from transforms.common.progress import LOG
from transforms.common.storage import ObjectInfo
from transforms.store import record_index, records
from transforms.store.metadata import ClipRow, NearNames
from transforms.store.paths import (FEATURES_SUBDIR, LANDMARK_SUFFIX, LANDMARKS_SUBDIR, PROC_SUBDIR, RECORDS_SUBDIR,
                                    feature_path, landmark_path, record_path)
from transforms.store.results import (FAILED, FILE_NOT_FOUND, MISSING, NEW, CHANGED, REUSED, ClipResult, Outputs,
                                      ToDecode, ToLookUp, ToRecompute, settled)
from transforms.store.reuse import Fingerprints, decide

NOT_IN_METADATA = "no longer in the metadata"


@dataclasses.dataclass
class OutputListing:
    """What OUT holds, from one listing per prefix: stem → file, per kind; proc/ by name."""

    landmarks: Dict[str, ObjectInfo]
    features: Dict[str, ObjectInfo]
    records: Dict[str, ObjectInfo]
    proc: Dict[str, ObjectInfo]

    def outputs(self, stem: str) -> Outputs:
        return Outputs(self.landmarks.get(stem), self.features.get(stem), self.records.get(stem))

    def paths(self, output_dir: str, stem: str) -> Dict[str, str]:
        """kind → path of the outputs the listing holds for `stem`."""
        return output_paths(output_dir, stem, self.outputs(stem))


def output_paths(output_dir: str, stem: str, outputs: Outputs) -> Dict[str, str]:
    where = {"landmarks": landmark_path(output_dir, stem), "features": feature_path(output_dir, stem),
             "record": record_path(output_dir, stem)}
    return {kind: where[kind] for kind in outputs.kinds()}


def list_outputs(output_dir: str) -> OutputListing:
    """The three prefixes, listed at once (each is a round trip or more)."""
    prefixes = {"landmarks": storage.join(output_dir, *LANDMARKS_SUBDIR),
                "features": storage.join(output_dir, FEATURES_SUBDIR[0]),
                "proc": storage.join(output_dir, PROC_SUBDIR)}
    with concurrent.futures.ThreadPoolExecutor(len(prefixes)) as pool:
        listed = dict(zip(prefixes, pool.map(storage.list_objects, prefixes.values())))
    features_dir = "/".join(FEATURES_SUBDIR[1:]) + "/"
    records_dir = "/".join(RECORDS_SUBDIR[1:]) + "/"
    return OutputListing(
        landmarks=_stems(listed["landmarks"], "", LANDMARK_SUFFIX),
        features=_stems(listed["features"], features_dir, ".npy"),
        records=_stems(listed["features"], records_dir, ".json"),
        proc=listed["proc"])


def _stems(listing: Dict[str, ObjectInfo], under: str, suffix: str) -> Dict[str, ObjectInfo]:
    """stem → file for the names under `under` ending in `suffix`; hidden files (a write in progress) left out."""
    found = {}
    for name, info in listing.items():
        if name.startswith(under) and name.endswith(suffix) and not name.split("/")[-1].startswith("."):
            found[name[len(under): -len(suffix)]] = info
    return found


@dataclasses.dataclass(frozen=True)
class IndexState:
    """The record index as the plan read it: what the reports step compares the run's results with.

    entry_keys: record_index.saved_keys of every entry's (stem, record version); saved_keys and
    saved: the saved clips its moments sum covers, and that sum (None without one).
    """

    entry_keys: str
    saved_keys: Optional[str]
    saved: Optional[Moments]


@dataclasses.dataclass
class Plan:
    made_by: Fingerprints
    work: List[Union[ToDecode, ToRecompute, ToLookUp]]
    settled: List[ClipResult]             # reused from the index, missing, rejected rows
    orphans: List[dict]                   # outputs of videos no longer in the metadata (orphans.py format)
    proc: Dict[str, ObjectInfo]           # OUT/proc/ as listed: a report is rewritten only when it changes
    index: IndexState
    index_problem: Optional[str] = None

    @property
    def has_work(self) -> bool:
        return bool(self.work)

    @property
    def decodes(self) -> bool:
        """Some video may be decoded (a record still to read may ask for it too)."""
        return any(isinstance(w, (ToDecode, ToLookUp)) for w in self.work)

    @property
    def progress_total(self) -> int:
        """Videos with a progress line: the job's work, and the missing videos."""
        return len(self.work) + sum(1 for r in self.settled if r.status == MISSING)

    def describe(self) -> str:
        reused = sum(1 for r in self.settled if r.origin == REUSED)
        missing = sum(1 for r in self.settled if r.status == MISSING)
        rejected = len(self.settled) - reused - missing
        decode = sum(1 for w in self.work if isinstance(w, ToDecode))
        lookups = sum(1 for w in self.work if isinstance(w, ToLookUp))
        return (f"Plan: {reused} reused from the record index, {decode} to decode, "
                f"{len(self.work) - decode - lookups} to recompute from stored landmarks, {lookups} records to "
                f"read first (not in the index), {missing} missing, {rejected} rejected rows, "
                f"{len(self.orphans)} orphaned outputs")


def make(rows: List[ClipRow], videos: Dict[str, ObjectInfo], output_dir: str, made_by: Fingerprints,
         reprocess_all: bool = False, listing: Optional[OutputListing] = None) -> Plan:
    """The plan for `rows`. videos: the listing of --video_dir (relative path → file)."""
    listing = listing or list_outputs(output_dir)
    index = record_index.read(output_dir)
    if index.problem:
        LOG.warning("The record index %s cannot be used (%s); the records it would have given are read instead.",
                    record_index.path(output_dir, record_index.RECORDS_FILE), index.problem)
    trusted, stale = index.trusted(listing.records)

    work, done = [], []
    near: Optional[NearNames] = None  # built for the first missing video only
    for row in rows:
        if row.error:
            done.append(settled(row, MISSING if row.missing else FAILED, row.error))
            continue
        stem, outputs = row.feature_stem, listing.outputs(row.feature_stem)
        video = videos.get(row.video_file)
        if video is None:
            near = near or NearNames(videos)
            hint = near.hint(row.video_file)
            done.append(settled(row, MISSING, f"{FILE_NOT_FOUND}; {hint}" if hint else FILE_NOT_FOUND, outputs))
            continue
        source = records.source_identity(video)
        if reprocess_all:
            work.append(ToDecode(row, source, CHANGED if outputs.record else NEW, outputs))
        elif stem in stale:
            work.append(ToLookUp(row, source, outputs))
        else:
            decided = decide(row, source, trusted.get(stem), outputs, made_by)
            (done if isinstance(decided, ClipResult) else work).append(decided)

    in_metadata = {row.feature_stem for row in rows if not row.error}
    orphans = [{"path": path, "kind": kind, "video": stem, "reason": NOT_IN_METADATA, "deleted": False}
               for stem in sorted(set(listing.landmarks) | set(listing.features) | set(listing.records))
               if stem not in in_metadata
               for kind, path in listing.paths(output_dir, stem).items()]
    state = IndexState(record_index.saved_keys((stem, e.version) for stem, e in index.entries.items()),
                       index.saved_keys, index.saved)
    return Plan(made_by=made_by, work=work, settled=done, orphans=orphans, proc=listing.proc, index=state,
                index_problem=index.problem)
