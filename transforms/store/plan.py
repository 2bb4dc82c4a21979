"""What each clip needs, decided inside the job from what the job found: the least work that gives today's result.

The job joins, per feature stem, the metadata rows that name it (transforms/store/rows.py),
its published outputs (listings.ListOutputs) and its record index entry (listings.ReadIndex);
`settle` decides for that one stem, with the rule of transforms/store/reuse.py:

  * the first row by line claims the stem; later rows of the same video (or of a video that
    would write the same stem) fail, naming the first (metadata.mark_duplicates' words);
  * a claimed row whose video is not listed is missing (its outputs kept, as orphans);
  * a record the index holds at its current version decides at once: reused as recorded,
    or work (decode, recompute from the stored landmarks); a record the index lacks or holds
    an older version of is read first, in the video step (ToLookUp);
  * outputs that no row claims are orphans: their video is no longer in the metadata.

It also says what the clip does to the statistics' stored total (transforms/reports/statistics.py),
as a `Change`, so that a re-run with nothing new sums nothing.

Rows that could not be judged (a bad line, a missing sentence) never reach here: they are
settled where they are read. Pure: no Beam, no storage.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple, Union

from transforms.common.moments import Moments
from transforms.common.storage import ObjectInfo
from transforms.store.metadata import ClipRow
from transforms.store.paths import feature_path, landmark_path, record_path
from transforms.store.record_index import Entry
from transforms.store import records
from transforms.store.results import (CHANGED, FAILED, FILE_NOT_FOUND, MISSING, NEW, SUCCESS, ClipResult, Located,
                                      Outputs, ToDecode, ToLookUp, ToRecompute, ToVerify, settled)
from transforms.store.reuse import Fingerprints, decide

NOT_IN_METADATA = "no longer in the metadata"
POSE, NPY, RECORD = "landmarks", "features", "record"   # the kinds of output, as orphaned_outputs.csv names them

# Change.kind: what a stem does to the stored total of the saved clips' moments.
ADD = "add"            # a saved clip whose moments this run computed or read: summed in
KEPT = "kept"          # a saved clip reused as recorded: its moments are in the total (or read, to sum it again)
TAKE_OUT = "take_out"  # in the total, but no longer saved as it was: its recorded moments come out
STALE = "stale"        # in the total, but its record changed since the index was written: the total cannot be trusted


class Change(NamedTuple):
    kind: str
    stem: str
    moments: Optional[Moments] = None   # when they are in hand (ADD; a TAKE_OUT read before its record is rewritten)


Work = Union[ToDecode, ToRecompute, ToLookUp, ToVerify]


class Settled(NamedTuple):
    """What `settle` decided for one stem: results now, work for the video step, orphans, total changes."""

    results: List[ClipResult]
    work: Optional[Work]
    orphans: List[dict]
    changes: List[Change]
    old_moments: bool = False   # the work overwrites a record whose moments are in the total: read them first


def outputs_of(pieces: Iterable[Tuple[str, ObjectInfo]]) -> Outputs:
    found: Dict[str, ObjectInfo] = dict(pieces)
    return Outputs(found.get(POSE), found.get(NPY), found.get(RECORD))


def output_paths(output_dir: str, stem: str, outputs: Outputs) -> Dict[str, str]:
    """kind → path of the outputs `outputs` holds for `stem`."""
    where = {POSE: landmark_path(output_dir, stem), NPY: feature_path(output_dir, stem),
             RECORD: record_path(output_dir, stem)}
    return {kind: where[kind] for kind in outputs.kinds()}


def settle(stem: str, located: List[Located], outputs: Outputs, entry: Optional[Entry], made_by: Fingerprints,
           output_dir: str, total_fingerprint: Optional[str], reprocess_all: bool = False) -> Settled:
    """Decide for one stem (see the module docstring). total_fingerprint: the feature fingerprint of the
    index's stored total (None: no total), so that a clip in it is known."""
    located = sorted(located, key=lambda found: _order(found.row))
    results = _duplicates(located)
    # An entry is in the total when the total exists, it was saved, and nothing has rewritten it since.
    in_total = (entry is not None and total_fingerprint is not None and entry.record.get("status") == SUCCESS
                and entry.record.get("fingerprint") == total_fingerprint)
    current = entry is not None and entry.is_current(outputs.record)
    if in_total and not current:
        changes = [Change(STALE, stem)]
    else:
        changes = []
    if not located:  # no row claims it: its outputs are orphans
        if in_total and current:
            changes.append(Change(TAKE_OUT, stem))
        orphans = [{"path": path, "kind": kind, "video": stem, "reason": NOT_IN_METADATA, "deleted": False}
                   for kind, path in output_paths(output_dir, stem, outputs).items()]
        return Settled(results, None, orphans, changes)

    row, video, hint = located[0]
    if video is None:
        results.append(settled(row, MISSING, f"{FILE_NOT_FOUND}; {hint}" if hint else FILE_NOT_FOUND, outputs))
        if in_total and current:
            changes.append(Change(TAKE_OUT, stem))
        return Settled(results, None, [], changes)

    source = records.source_identity(video)
    if reprocess_all:
        return Settled(results, ToDecode(row, source, CHANGED if outputs.record else NEW, outputs), [], changes)
    if outputs.record is not None and not current:
        return Settled(results, ToLookUp(row, source, outputs), [], changes)
    decided = decide(row, source, entry.record if current else None, outputs, made_by, output_dir=output_dir)
    if isinstance(decided, ClipResult):
        results.append(decided)
        if decided.status == SUCCESS:  # its moments are in the total, or are read when it is summed again
            changes.append(Change(KEPT, stem))
        return Settled(results, None, [], changes)
    return Settled(results, decided, [], changes, old_moments=in_total and current)


def _order(row: ClipRow):
    """Metadata order (transforms/reports/run_reports.report_order): the first row of a video wins."""
    return row.line is None, row.line or 0, row.video_file


def _duplicates(located: List[Located]) -> List[ClipResult]:
    """Every row after the first fails, naming the first (metadata.mark_duplicates' words); the first stays
    in `located`, alone."""
    results = []
    first = located[0].row if located else None
    for found in located[1:]:
        if found.row.video_file == first.video_file:
            error = f"duplicate of line {first.line}: the same video_file is listed twice"
        else:
            error = (f"duplicate of line {first.line}: {first.video_file!r} already writes the features "
                     f"{first.feature_stem}.npy; rename one of the videos")
        results.append(settled(dataclasses.replace(found.row, error=error), FAILED, error))
    del located[1:]
    return results


def unjudged(row: ClipRow) -> ClipResult:
    """The result of a row that was refused where it was read."""
    return settled(row, MISSING if row.missing else FAILED, row.error)
