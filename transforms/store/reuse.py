"""LookUpRecords: reuse a video's published result when nothing that made it has changed.

Main output: `ToDecode` for every video that must be decoded (new, changed,
or forced with --reprocess=all). Tagged output `reused`: the recorded
ClipResult, which goes straight into the reports and statistics.
"""
from __future__ import annotations

import time
from typing import Dict

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.store import records

from transforms.store import storage
from transforms.store.metadata import ClipRow
from transforms.reports.progress import NAMESPACE, ProgressCounter, ensure_log_handler
from transforms.store.results import SUCCESS, ToDecode
from transforms.store.write_features import feature_path

REUSED = "reused"


class LookUpRecords(beam.DoFn):
    def __init__(self, video_dir: str, output_dir: str, feature_options: Dict[str, object],
                 reprocess_all: bool = False, run_id: str = "", total: int = 0):
        self.video_dir = video_dir
        self.output_dir = output_dir
        self.feature_options = feature_options
        self.reprocess_all = reprocess_all
        self.run_id = run_id
        self.total = total
        self.reused = Metrics.counter(NAMESPACE, "videos_reused")

    def setup(self):
        ensure_log_handler()
        self.fingerprint = records.fingerprint(self.feature_options)
        self.progress = ProgressCounter(self.run_id, self.total)

    def process(self, row: ClipRow):
        started = time.monotonic()
        source = records.source_identity(storage.join(self.video_dir, row.video_file))
        if source is None:
            yield ToDecode(row, None, "new")  # reported missing by the extractor
            return
        record = records.read(records.record_path(self.output_dir, row.feature_stem))
        if record is None:
            yield ToDecode(row, source, "new")
            return
        npy = feature_path(self.output_dir, row.feature_stem)
        unchanged = (record["source"] == source and record["fingerprint"] == self.fingerprint
                     and record["video_file"] == row.video_file
                     and (record["status"] != SUCCESS or storage.exists(npy)))
        if self.reprocess_all or not unchanged:
            yield ToDecode(row, source, "changed")
            return
        result = records.result_from(record, row, npy)
        self.reused.inc()
        self.progress.finished(row.video_file, REUSED, result.frames_decoded, time.monotonic() - started,
                               result.error)
        yield beam.pvalue.TaggedOutput(REUSED, result)
