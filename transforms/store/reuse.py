"""What a re-run does with each video: the least work that gives today's result.

`decide` is the one rule. The launcher applies it to every row whose record the
record index holds (transforms/store/plan.py); `LookUpRecords` applies it in the
job to the rows whose record must be read first (the index lacks it or holds an
older version: a killed run, no index yet). It returns

  * `ToDecode` when the landmarks must be made: no usable record, the source
    changed, a landmark option or the MediaPipe version changed, the .pose file
    is missing or not the size its record vouches for, or --reprocess=all;
  * `ToRecompute` when the landmarks are still good but a feature option
    changed: features are computed again from the .pose, no video is decoded
    (the landmark stage checks the file's sha256 first);
  * the recorded ClipResult, reused as it stands.
"""
from __future__ import annotations

import time
from typing import Dict, List, NamedTuple, Optional, Union

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.common.progress import NAMESPACE, ProgressCounter, ensure_log_handler
from transforms.store import records
from transforms.store.metadata import ClipRow
from transforms.store.results import SUCCESS, ClipResult, Outputs, ToDecode, ToLookUp, ToRecompute
from transforms.store.write_features import feature_path

REUSED = "reused"


class Fingerprints(NamedTuple):
    landmarks: str   # records.landmark_fingerprint
    features: str    # records.feature_fingerprint


def fingerprints(landmark_options: Dict[str, object], feature_options: Dict[str, object]) -> Fingerprints:
    landmarks = records.landmark_fingerprint(landmark_options)
    return Fingerprints(landmarks, records.feature_fingerprint(feature_options, landmarks))


def decide(row: ClipRow, source: Dict[str, object], record: Optional[dict], outputs: Outputs,
           made_by: Fingerprints, output_dir: str, reprocess_all: bool = False
           ) -> Union[ToDecode, ToRecompute, ClipResult]:
    """The work `row` needs (see the module docstring). `record` may lack its moments (the index's)."""
    if record is None:
        return ToDecode(row, source, "new", outputs)
    landmarks = record["landmarks"]
    same_landmarks = (record["source"] == source and record["video_file"] == row.video_file
                      and landmarks["fingerprint"] == made_by.landmarks)
    if reprocess_all or not same_landmarks:
        return ToDecode(row, source, "changed", outputs)
    if landmarks["sha256"] is None:
        # The video could not be decoded with these options; no feature option changes that.
        return reused(record, row, output_dir, outputs)
    if outputs.pose is None or outputs.pose.size != landmarks.get("size"):
        return ToDecode(row, source, "changed", outputs)  # missing or cut short: never trusted
    if record["fingerprint"] == made_by.features and (record["status"] != SUCCESS or outputs.npy is not None):
        return reused(record, row, output_dir, outputs)
    return ToRecompute(row, source, landmarks, outputs)


def reused(record: dict, row: ClipRow, output_dir: str, outputs: Outputs) -> ClipResult:
    result = records.result_from(record, row, feature_path(output_dir, row.feature_stem))
    result.outputs = outputs
    result.source = record["source"]
    result.record_object = outputs.record
    return result


class LookUpRecords(beam.DoFn):
    """A batch of ToLookUp in: their records are read (in parallel), then decided on.

    Main output: ToDecode / ToRecompute; tagged `reused`: the recorded ClipResult,
    with its moments (read with the record).
    """

    def __init__(self, output_dir: str, made_by: Fingerprints, reprocess_all: bool = False, run_id: str = "",
                 total: int = 0):
        self.output_dir = output_dir
        self.made_by = made_by
        self.reprocess_all = reprocess_all
        self.run_id = run_id
        self.total = total
        self.reused = Metrics.counter(NAMESPACE, "videos_reused")
        self.records_read = Metrics.counter(NAMESPACE, "records_read")

    def setup(self):
        ensure_log_handler()
        self.progress = ProgressCounter(self.run_id, self.total)

    def process(self, batch: List[ToLookUp]):
        from transforms.store.record_index import read_full_records  # the index reads records this way too

        started = time.monotonic()
        found = read_full_records(self.output_dir, [item.row.feature_stem for item in batch])
        self.records_read.inc(len(batch))
        seconds = (time.monotonic() - started) / len(batch)
        for item in batch:
            row = item.row
            record = found.get(row.feature_stem)
            decided = decide(row, item.source, record, item.outputs, self.made_by, self.output_dir,
                             self.reprocess_all)
            if not isinstance(decided, ClipResult):
                yield decided
                continue
            decided.record = records.without_moments(record)
            self.reused.inc()
            self.progress.finished(row.video_file, REUSED, decided.frames_decoded, seconds, decided.error)
            yield beam.pvalue.TaggedOutput(REUSED, decided)
