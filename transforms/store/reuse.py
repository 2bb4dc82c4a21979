"""LookUpRecords: decide, per video, the least work that gives today's result.

Main output, what the landmark stage (ExtractLandmarks) takes:
  * `ToDecode` for every video whose landmarks must be made (new, the source
    changed, the landmark options changed, its .pose file is missing or not the
    one its record vouches for, or --reprocess=all);
  * `StoredLandmarks` of a video whose landmarks are still good but whose
    feature options changed: features are recomputed from the .pose, no video
    is decoded. They pass through the landmark stage untouched, so that both
    kinds reach the features in one fused stage (a Flatten would make the
    DirectRunner hold every .pose until the last video is decoded).
Tagged output `reused`: the recorded ClipResult, which goes straight into the
reports and statistics.
"""
from __future__ import annotations

import time
from typing import Dict, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.store import records

from transforms.store import storage
from transforms.store.metadata import ClipRow
from transforms.common.progress import NAMESPACE, ProgressCounter, ensure_log_handler
from transforms.landmarks import pose_file
from transforms.store.results import RECOMPUTED, SUCCESS, StoredLandmarks, ToDecode
from transforms.store.write_features import feature_path

REUSED = "reused"


class LookUpRecords(beam.DoFn):
    def __init__(self, video_dir: str, output_dir: str, landmark_options: Dict[str, object],
                 feature_options: Dict[str, object], reprocess_all: bool = False, run_id: str = "", total: int = 0):
        self.video_dir = video_dir
        self.output_dir = output_dir
        self.landmark_options = landmark_options
        self.feature_options = feature_options
        self.reprocess_all = reprocess_all
        self.run_id = run_id
        self.total = total
        self.reused = Metrics.counter(NAMESPACE, "videos_reused")
        self.untrusted = Metrics.counter(NAMESPACE, "landmark_files_untrusted")

    def setup(self):
        ensure_log_handler()
        self.landmark_fp = records.landmark_fingerprint(self.landmark_options)
        self.feature_fp = records.feature_fingerprint(self.feature_options, self.landmark_fp)
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
        landmarks = record["landmarks"]
        same_landmarks = (record["source"] == source and record["video_file"] == row.video_file
                          and landmarks["fingerprint"] == self.landmark_fp)
        if self.reprocess_all or not same_landmarks:
            yield ToDecode(row, source, "changed")
            return
        pose_path = pose_file.landmark_path(self.output_dir, row.feature_stem)
        npy = feature_path(self.output_dir, row.feature_stem)
        if landmarks["sha256"] is None:
            # The video could not be decoded with these options; no feature option changes that.
            yield self._reuse(record, row, npy, started)
        elif record["fingerprint"] == self.feature_fp and storage.exists(pose_path) and (
                record["status"] != SUCCESS or storage.exists(npy)):
            yield self._reuse(record, row, npy, started)
        else:
            pose = self._trusted_pose(pose_path, landmarks)
            if pose is None:
                self.untrusted.inc()
                yield ToDecode(row, source, "changed")
            else:
                yield StoredLandmarks(row, source, RECOMPUTED, pose, landmarks)

    def _reuse(self, record: dict, row: ClipRow, npy: str, started: float):
        result = records.result_from(record, row, npy)
        self.reused.inc()
        self.progress.finished(row.video_file, REUSED, result.frames_decoded, time.monotonic() - started,
                               result.error)
        return beam.pvalue.TaggedOutput(REUSED, result)

    @staticmethod
    def _trusted_pose(path: str, landmarks: dict) -> Optional[bytes]:
        """The .pose bytes when they are exactly the file the record vouches for, else None.

        Missing, truncated, rewritten by hand or by another run: never trusted, the video is decoded again.
        """
        try:
            data = storage.read_bytes(path)
        except Exception:  # absent or unreadable
            return None
        if len(data) != landmarks.get("size") or pose_file.digest(data) != landmarks["sha256"]:
            return None
        return data
