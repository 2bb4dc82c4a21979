"""ExtractLandmarks: one video to decode in, one result out, on one of four tagged outputs.

A bad video never raises out of `process`: it becomes a `failed` or `missing`
result with a reason, so one broken file cannot fail a bundle (and, on
Dataflow, be retried until the job dies).
"""
from __future__ import annotations

import logging
import time

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.features import v1 as features

from transforms.store import storage
from transforms.landmarks.holistic import HolisticExtractor, VideoDecodeError, check_model_available
from transforms.reports.progress import NAMESPACE, ProgressCounter, ensure_log_handler
from transforms.store.results import FAILED, FILE_NOT_FOUND, LOW_QUALITY, MISSING, SUCCESS, ClipResult, ToDecode

# What the reports take from a clip's verdict (transforms.features.v1.ClipFeatures).
_VERDICT_METRICS = ("num_frames", "detection_ratio", "mean_visibility", "motion_mean", "motion_p50",
                    "motion_p95", "motion_max", "kept_low")


class ExtractLandmarks(beam.DoFn):
    """Runs MediaPipe Holistic over a row's video and judges the clip (features v1).

    Main output: success (including clips kept with keep_low_quality, flagged
    kept_low). Tagged outputs: low_quality, failed, missing.
    """

    def __init__(self, video_dir: str, quality: features.QualityConfig, model_complexity: int = 1,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 face_downsample: int = 5, run_id: str = "", total: int = 0):
        self.video_dir = video_dir
        self.quality = quality
        self.model_complexity = model_complexity
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.face_downsample = face_downsample
        self.run_id = run_id
        self.total = total
        self.videos = {s: Metrics.counter(NAMESPACE, f"videos_{s}") for s in (SUCCESS, LOW_QUALITY, FAILED, MISSING)}
        self.frames_decoded = Metrics.counter(NAMESPACE, "frames_decoded")
        self.seconds_per_video = Metrics.distribution(NAMESPACE, "video_millis")

    def setup(self):
        ensure_log_handler()
        # Fails here, in the worker, when the worker image lacks the pose model.
        check_model_available(self.model_complexity)
        self._extractor = None
        self.progress = ProgressCounter(self.run_id, self.total)

    @property
    def extractor(self) -> HolisticExtractor:
        # One Holistic per DoFn instance, built on the first video: loading its four
        # TFLite models takes about a second, wasted on a re-run that decodes nothing.
        if self._extractor is None:
            self._extractor = HolisticExtractor(self.model_complexity, self.min_detection_confidence,
                                                self.min_tracking_confidence, self.face_downsample)
        return self._extractor

    def teardown(self):
        if getattr(self, "_extractor", None) is not None:
            self._extractor.close()
            self._extractor = None

    def process(self, item: ToDecode):
        started = time.monotonic()
        row = item.row
        result = self._judge(item)
        result.seconds = time.monotonic() - started
        self.videos[result.status].inc()
        self.frames_decoded.inc(result.frames_decoded)
        self.seconds_per_video.update(int(result.seconds * 1000))
        self.progress.finished(row.video_file, "kept_low" if result.kept_low else result.status,
                               result.frames_decoded, result.seconds, result.error)
        if result.status == SUCCESS:
            yield result
        else:
            yield beam.pvalue.TaggedOutput(result.status, result)

    def _judge(self, item: ToDecode) -> ClipResult:
        row = item.row
        if item.source is None:
            return ClipResult.for_row(row, MISSING, FILE_NOT_FOUND)
        decoded = dict(origin=item.origin, source=item.source)
        try:
            with storage.local_copy(storage.join(self.video_dir, row.video_file)) as local_path:
                clip = self.extractor.extract(local_path)
        except VideoDecodeError as exc:
            return ClipResult.for_row(row, FAILED, str(exc), **decoded)
        except Exception as exc:  # a reason in the report beats a dead bundle
            logging.getLogger(__name__).exception("Unexpected error on %s", row.video_file)
            return ClipResult.for_row(row, FAILED, f"Could not read or decode the video: {type(exc).__name__}: {exc}",
                                      retryable=True, **decoded)

        verdict = features.clip_features(clip, self.quality)
        metrics = {name: getattr(verdict, name) for name in _VERDICT_METRICS}
        result = ClipResult.for_row(row, verdict.status, verdict.reason, frames_decoded=len(clip.frames),
                                    **metrics, **decoded)
        if verdict.features is not None:
            result.features = verdict.features
            result.frame_feature_dim = verdict.features.shape[1]
        return result

