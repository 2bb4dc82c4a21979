"""The preprocessing graph, top to bottom: metadata rows → landmarks → features and reports."""
from __future__ import annotations

import apache_beam as beam

from pipeline.options import GhslOptions, feature_config, quality_config
from transforms.store import metadata
from transforms.landmarks.extract import ExtractLandmarks
from transforms.features.v1 import frame_dim
from transforms.store.orphans import ListOrphans
from transforms.reports.run_reports import WriteReports
from transforms.store.results import FAILED, LOW_QUALITY, MISSING, SUCCESS, ClipResult
from transforms.store.reuse import REUSED, LookUpRecords
from transforms.store.write_features import RecordRejection, WriteFeatures


def build(p: beam.Pipeline, opts: GhslOptions, *, extra_columns, total: int, run_id: str, started_at: float,
          config: dict):
    """Adds the whole job to `p` and returns the PCollection holding the run summary."""
    rows = (p
            | "Read metadata" >> beam.Create([opts.metadata_csv])
            | "Parse rows" >> beam.FlatMap(lambda path: metadata.read(path)[1]))
    checked = rows | "Check rows" >> beam.ParDo(_SplitByRowError()).with_outputs("bad", main="good")

    looked_up = (checked.good
                 # One file fans out into one bundle; without a reshuffle every video
                 # would run on the same worker.
                 | "Spread videos" >> beam.Reshuffle()
                 | "Reuse unchanged results" >> beam.ParDo(LookUpRecords(
                     opts.video_dir, opts.output_dir, feature_config(opts),
                     reprocess_all=opts.reprocess == "all", run_id=run_id, total=total,
                 )).with_outputs(REUSED, main="to_decode"))

    extracted = (looked_up.to_decode
                 | "Extract landmarks" >> beam.ParDo(ExtractLandmarks(
                     video_dir=opts.video_dir,
                     quality=quality_config(opts),
                     model_complexity=opts.model_complexity,
                     min_detection_confidence=opts.min_detection_confidence,
                     min_tracking_confidence=opts.min_tracking_confidence,
                     face_downsample=opts.face_downsample,
                     run_id=run_id,
                     total=total,
                 )).with_outputs(LOW_QUALITY, FAILED, MISSING, main=SUCCESS))

    saved = extracted[SUCCESS] | "Write features" >> beam.ParDo(WriteFeatures(opts.output_dir, feature_config(opts)))
    rejected = ((extracted[LOW_QUALITY], extracted[FAILED], extracted[MISSING])
                | "All rejected" >> beam.Flatten()
                | "Record rejections" >> beam.ParDo(RecordRejection(opts.output_dir, feature_config(opts))))
    bad_rows = checked.bad | "Report bad rows" >> beam.Map(lambda row: ClipResult.for_row(row, FAILED, row.error))

    results = (saved, rejected, looked_up[REUSED], bad_rows) | "All results" >> beam.Flatten()
    orphans = results | "Find orphaned outputs" >> ListOrphans(opts.output_dir, prune=opts.prune_orphans)
    return results | "Write reports" >> WriteReports(opts.output_dir, extra_columns, config,
                                                     frame_dim(opts.face_downsample), started_at, orphans)


class _SplitByRowError(beam.DoFn):
    def process(self, row: metadata.ClipRow):
        yield beam.pvalue.TaggedOutput("bad", row) if row.error else row


def run_config(opts: GhslOptions) -> dict:
    """What run_summary.json records about how the job was configured."""
    return {
        "metadata_csv": opts.metadata_csv,
        "video_dir": opts.video_dir,
        "output_dir": opts.output_dir,
        "reprocess": opts.reprocess,
        "prune_orphans": opts.prune_orphans,
        **feature_config(opts),
    }
