"""ComputeFeatures: a video's stored landmarks in, its verdict and features out.

Stage 2 of the job. Its input is always the bytes of the video's published
.pose file, whether the video was decoded a moment ago or in an earlier run,
so a .npy never depends on which path produced it. No MediaPipe here: a change
of a feature option costs a file read and some NumPy per video.
"""
from __future__ import annotations

import time

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.features import definitions
from transforms.landmarks import pose_file
from transforms.common.progress import NAMESPACE, ProgressCounter, ensure_log_handler
from transforms.store.results import FAILED, LOW_QUALITY, RECOMPUTED, SUCCESS, ClipResult, StoredLandmarks

# What the reports take from a clip's verdict (v1.ClipFeatures, v2.ClipFeaturesV2).
_VERDICT_METRICS = ("num_frames", "detection_ratio", "mean_visibility", "motion_mean", "motion_p50",
                    "motion_p95", "motion_max", "kept_low")
_V2_METRICS = ("trimmed_start", "trimmed_end")


def judge(item: StoredLandmarks, feature_options: dict) -> ClipResult:
    """The clip's result from its .pose bytes, with the run's feature version and options."""
    row = item.row
    stored = dict(origin=item.origin, source=item.source, landmarks=item.landmarks, outputs=item.outputs)
    try:
        points = pose_file.read_points(item.pose)
    except pose_file.LandmarkFileError as exc:  # the file was checked before; a reason beats a dead bundle
        return ClipResult.for_row(row, FAILED, f"Stored landmarks unreadable: {exc}", retryable=True, **stored)
    verdict = definitions.compute(points, feature_options)
    metrics = {name: getattr(verdict, name) for name in _VERDICT_METRICS + _V2_METRICS if hasattr(verdict, name)}
    result = ClipResult.for_row(row, verdict.status, verdict.reason, frames_decoded=len(points),
                                source_fps=round(points.fps, 3), **metrics, **stored)
    if verdict.features is not None:
        result.features = verdict.features
        result.frame_feature_dim = verdict.features.shape[1]
    return result


class ComputeFeatures(beam.DoFn):
    """Main output: success (kept_low included). Tagged outputs: low_quality, failed."""

    def __init__(self, feature_options: dict, run_id: str = "", total: int = 0):
        self.feature_options = dict(feature_options)
        self.run_id = run_id
        self.total = total
        self.videos = {s: Metrics.counter(NAMESPACE, f"videos_{s}") for s in (SUCCESS, LOW_QUALITY, FAILED)}
        self.recomputed = Metrics.counter(NAMESPACE, "videos_recomputed")
        self.feature_millis = Metrics.distribution(NAMESPACE, "feature_millis")

    def setup(self):
        ensure_log_handler()
        self.progress = ProgressCounter(self.run_id, self.total)

    def process(self, item: StoredLandmarks):
        started = time.monotonic()
        result = judge(item, self.feature_options)
        computing = time.monotonic() - started
        result.seconds = item.seconds + computing
        self.feature_millis.update(int(computing * 1000))
        self.videos[result.status].inc()
        if item.origin == RECOMPUTED:
            self.recomputed.inc()
        note = "from stored landmarks" if item.origin == RECOMPUTED else ""
        self.progress.finished(result.video_file, "kept_low" if result.kept_low else result.status,
                               result.frames_decoded, result.seconds, "; ".join(s for s in (result.error, note) if s))
        yield result if result.status == SUCCESS else beam.pvalue.TaggedOutput(result.status, result)
