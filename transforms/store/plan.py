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
to do reads no video, no .pose and no record (pipeline/graph.py leaves those
steps out).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
from typing import Dict, List, Optional, Union

from transforms.common.moments import Moments
from transforms.common.progress import LOG
from transforms.landmarks.pose_file import LANDMARKS_SUBDIR, SUFFIX
from transforms.store import record_index, records, storage
from transforms.store.metadata import ClipRow
from transforms.store.results import (FAILED, FILE_NOT_FOUND, MISSING, SUCCESS, ClipResult, Outputs, ToDecode,
                                      ToLookUp, ToRecompute)
from transforms.store.reuse import Fingerprints, decide
from transforms.store.storage import ObjectInfo
from transforms.store.write_features import FEATURES_SUBDIR

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
    where = {"landmarks": storage.join(output_dir, *LANDMARKS_SUBDIR, stem + SUFFIX),
             "features": storage.join(output_dir, *FEATURES_SUBDIR, stem + ".npy"),
             "record": records.record_path(output_dir, stem)}
    return {kind: where[kind] for kind in outputs.kinds()}


def list_outputs(output_dir: str) -> OutputListing:
    """The three prefixes, listed at once (each is a round trip or more)."""
    prefixes = {"landmarks": storage.join(output_dir, *LANDMARKS_SUBDIR),
                "features": storage.join(output_dir, "features"),
                "proc": storage.join(output_dir, "proc")}
    with concurrent.futures.ThreadPoolExecutor(len(prefixes)) as pool:
        listed = dict(zip(prefixes, pool.map(storage.list_objects, prefixes.values())))
    features_dir = "/".join(FEATURES_SUBDIR[1:]) + "/"
    records_dir = "/".join(records.RECORDS_SUBDIR[1:]) + "/"
    return OutputListing(
        landmarks=_stems(listed["landmarks"], "", SUFFIX),
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


@dataclasses.dataclass
class Plan:
    made_by: Fingerprints
    work: List[Union[ToDecode, ToRecompute]]
    lookups: List[ToLookUp]
    settled: List[ClipResult]             # reused from the index (moments apart), missing, rejected rows
    orphans: List[dict]                   # outputs of videos no longer in the metadata (orphans.py format)
    proc: Dict[str, ObjectInfo]           # OUT/proc/ as listed: a report is rewritten only when it changes
    # The record index: the saved clips reused from it (stem → record version), their moments
    # summed when the index holds exactly that sum, and whether it is current as it stands
    # (nothing to do, no entry to add or drop: the job neither reads its moments nor rewrites it).
    reused_saved: Dict[str, str]
    reused_sum: Optional[Moments]
    index_current: bool
    index_problem: Optional[str] = None

    @property
    def has_work(self) -> bool:
        return bool(self.work or self.lookups)

    @property
    def progress_total(self) -> int:
        """Videos with a progress line: the job's work and look-ups, and the missing videos."""
        return len(self.work) + len(self.lookups) + sum(1 for r in self.settled if r.status == MISSING)

    @property
    def needs_moments(self) -> bool:
        """The job reads the reused clips' moments (moments.npz): the index sum does not cover them."""
        return bool(self.reused_saved) and (self.reused_sum is None or not self.index_current)

    def describe(self) -> str:
        reused = sum(1 for r in self.settled if r.origin == "reused")
        missing = sum(1 for r in self.settled if r.status == MISSING)
        rejected = len(self.settled) - reused - missing
        decode = sum(1 for w in self.work if isinstance(w, ToDecode))
        return (f"Plan: {reused} reused from the record index, {decode} to decode, {len(self.work) - decode} to "
                f"recompute from stored landmarks, {len(self.lookups)} records to read first (not in the index), "
                f"{missing} missing, {rejected} rejected rows, {len(self.orphans)} orphaned outputs")


def make(rows: List[ClipRow], videos: Dict[str, ObjectInfo], output_dir: str, made_by: Fingerprints,
         reprocess_all: bool = False, listing: Optional[OutputListing] = None, run_id: Optional[str] = None) -> Plan:
    """The plan for `rows`. videos: the listing of --video_dir (relative path → file).

    run_id: the run that carries the plan out; when it has no work, its later steps are handed
    the record listing and index read here (record_index.hand_unchanged).
    """
    listing = listing or list_outputs(output_dir)
    index = record_index.read(output_dir)
    if index.problem:
        LOG.warning("The record index %s cannot be used (%s); the records it would have given are read instead.",
                    record_index.path(output_dir, record_index.RECORDS_FILE), index.problem)
    trusted, stale = index.trusted(listing.records)

    work, lookups, settled = [], [], []
    reused_keys, reused_saved = [], {}
    for row in rows:
        if row.error:
            settled.append(ClipResult.for_row(row, MISSING if row.missing else FAILED, row.error))
            continue
        stem, outputs = row.feature_stem, listing.outputs(row.feature_stem)
        video = videos.get(row.video_file)
        if video is None:
            settled.append(ClipResult.for_row(row, MISSING, FILE_NOT_FOUND, outputs=outputs))
            continue
        source = records.source_identity(video)
        if reprocess_all:
            work.append(ToDecode(row, source, "changed" if outputs.record else "new", outputs))
            continue
        if stem in stale:
            lookups.append(ToLookUp(row, source, outputs))
            continue
        decided = decide(row, source, trusted.get(stem), outputs, made_by, output_dir)
        if isinstance(decided, ClipResult):
            settled.append(decided)
            reused_keys.append((stem, outputs.record.version))
            if decided.status == SUCCESS:
                reused_saved[stem] = outputs.record.version
        else:
            work.append(decided)

    in_metadata = {row.feature_stem for row in rows if not row.error}
    orphans = [{"path": path, "kind": kind, "video": stem, "reason": NOT_IN_METADATA, "deleted": False}
               for stem in sorted(set(listing.landmarks) | set(listing.features) | set(listing.records))
               if stem not in in_metadata
               for kind, path in listing.paths(output_dir, stem).items()]
    index_keys = record_index.saved_keys((stem, entry.version) for stem, entry in index.entries.items())
    sum_covers_reused = index.saved_keys == record_index.saved_keys(reused_saved.items())
    if run_id and not work and not lookups:
        record_index.hand_unchanged(run_id, output_dir, listing.records, index)
    return Plan(
        made_by=made_by, work=work, lookups=lookups, settled=settled, orphans=orphans, proc=listing.proc,
        reused_saved=reused_saved, reused_sum=index.saved if sum_covers_reused else None,
        index_current=not work and not lookups and index_keys == record_index.saved_keys(reused_keys),
        index_problem=index.problem)
