"""ExtractLandmarks: one video to decode in, its published .pose landmark file out.

Stage 1 of the job, and the only one that runs MediaPipe. The .pose file is
published atomically (transforms/store/storage.py) before anything downstream
sees it; features are then computed from its bytes (transforms/features/compute.py),
exactly as a later run computes them from the stored file.

A bad video never raises out of `process`: it becomes a `failed` or `missing`
result with a reason, so one broken file cannot fail a bundle (and, on
Dataflow, be retried until the job dies).
"""
from __future__ import annotations

import logging
import time

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.landmarks import pose_file
from transforms.landmarks.holistic import HolisticExtractor, VideoDecodeError, check_model_available
from transforms.reports.progress import NAMESPACE, ProgressCounter, ensure_log_handler
from transforms.store import records, storage
from transforms.store.results import FAILED, FILE_NOT_FOUND, MISSING, ClipResult, StoredLandmarks, ToDecode


class ExtractLandmarks(beam.DoFn):
    """Runs MediaPipe Holistic over a row's video and publishes OUT/landmarks/<stem>.pose.

    Main output: StoredLandmarks. Tagged outputs: failed, missing (ClipResult).
    """

    def __init__(self, video_dir: str, output_dir: str, landmark_options: dict, run_id: str = "", total: int = 0):
        self.video_dir = video_dir
        self.output_dir = output_dir
        self.landmark_options = dict(landmark_options)
        self.run_id = run_id
        self.total = total
        self.videos = {s: Metrics.counter(NAMESPACE, f"videos_{s}") for s in (FAILED, MISSING)}
        self.videos_decoded = Metrics.counter(NAMESPACE, "videos_decoded")
        self.frames_decoded = Metrics.counter(NAMESPACE, "frames_decoded")
        self.decode_millis = Metrics.distribution(NAMESPACE, "decode_millis")

    def setup(self):
        ensure_log_handler()
        # Fails here, in the worker, when the worker image lacks the pose model.
        check_model_available(self.landmark_options["model_complexity"])
        self.fingerprint = records.landmark_fingerprint(self.landmark_options)
        self._extractor = None
        self.progress = ProgressCounter(self.run_id, self.total)

    @property
    def extractor(self) -> HolisticExtractor:
        # One Holistic per DoFn instance, built on the first video: loading its four
        # TFLite models takes about a second, wasted on a re-run that decodes nothing.
        if self._extractor is None:
            self._extractor = HolisticExtractor(**self.landmark_options)
        return self._extractor

    def teardown(self):
        if getattr(self, "_extractor", None) is not None:
            self._extractor.close()
            self._extractor = None

    def process(self, item: ToDecode):
        started = time.monotonic()
        row = item.row
        if item.source is None:
            yield self._rejected(ClipResult.for_row(row, MISSING, FILE_NOT_FOUND), started)
            return
        decoded = dict(origin=item.origin, source=item.source)
        try:
            with storage.local_copy(storage.join(self.video_dir, row.video_file)) as local_path:
                pose = self.extractor.extract(local_path)
        except VideoDecodeError as exc:
            # Deterministic for this file and these options: recorded, so no later run decodes it again.
            result = ClipResult.for_row(row, FAILED, str(exc), landmarks={"fingerprint": self.fingerprint,
                                                                         "sha256": None}, **decoded)
            yield self._rejected(result, started)
            return
        except Exception as exc:  # a reason in the report beats a dead bundle
            logging.getLogger(__name__).exception("Unexpected error on %s", row.video_file)
            result = ClipResult.for_row(row, FAILED, f"Could not read or decode the video: {type(exc).__name__}: "
                                                     f"{exc}", retryable=True, **decoded)
            yield self._rejected(result, started)
            return

        storage.write_bytes(pose_file.landmark_path(self.output_dir, row.feature_stem), pose)
        frames = pose_file.frame_count(pose)
        seconds = time.monotonic() - started
        self.videos_decoded.inc()
        self.frames_decoded.inc(frames)
        self.decode_millis.update(int(seconds * 1000))
        yield StoredLandmarks(row, item.source, item.origin, pose,
                              {"fingerprint": self.fingerprint, "sha256": pose_file.digest(pose), "size": len(pose),
                               "frames": frames}, seconds)

    def _rejected(self, result: ClipResult, started: float):
        result.seconds = time.monotonic() - started
        self.videos[result.status].inc()
        self.progress.finished(result.video_file, result.status, result.frames_decoded, result.seconds, result.error)
        return beam.pvalue.TaggedOutput(result.status, result)
