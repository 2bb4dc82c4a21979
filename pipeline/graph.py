"""The preprocessing graph, top to bottom: metadata rows → landmarks → features and reports."""
from __future__ import annotations

import apache_beam as beam

from pipeline.options import GhslOptions, feature_config, landmark_config
from transforms.features.compute import ComputeFeatures
from transforms.landmarks.extract import ExtractLandmarks
from transforms.store import metadata
from transforms.store.orphans import ListOrphans
from transforms.reports.run_reports import WriteReports
from transforms.store.results import FAILED, LOW_QUALITY, MISSING, SUCCESS, ClipResult
from transforms.store.reuse import REUSED, LookUpRecords
from transforms.store.write_features import RecordRejection, WriteFeatures


def build(p: beam.Pipeline, opts: GhslOptions, *, rows, extra_columns, total: int, run_id: str, started_at: float,
          config: dict, extraction_threads: int = 1):
    """Adds the whole job to `p` and returns the PCollection holding the run summary.

    rows: the metadata rows, read and judged where the job is launched (pipeline/run.py).
    extraction_threads: videos one worker decodes at once (pipeline/run.py picks it).
    """
    out, landmark_options, feature_options = opts.output_dir, landmark_config(opts), feature_config(opts)
    checked = (p
               | "Metadata rows" >> beam.Create(rows)
               | "Check rows" >> beam.ParDo(_SplitByRowError()).with_outputs("bad", main="good"))

    planned = (checked.good
               # Created rows sit in one bundle; without a reshuffle every video would
               # run on the same worker.
               | "Spread videos" >> beam.Reshuffle()
               | "Plan the work" >> beam.ParDo(LookUpRecords(
                   opts.video_dir, out, landmark_options, feature_options,
                   reprocess_all=opts.reprocess == "all", run_id=run_id, total=total,
               )).with_outputs(REUSED, main="to_landmarks"))

    # Videos to decode, and stored landmarks to recompute from (passed through).
    extracted = (planned.to_landmarks
                 | "Extract landmarks" >> beam.ParDo(ExtractLandmarks(
                     opts.video_dir, out, landmark_options, run_id=run_id, total=total, threads=extraction_threads,
                 )).with_outputs(FAILED, MISSING, main="stored"))

    judged = (extracted.stored
              | "Compute features" >> beam.ParDo(ComputeFeatures(feature_options, run_id=run_id, total=total))
              .with_outputs(LOW_QUALITY, FAILED, main=SUCCESS))

    saved = judged[SUCCESS] | "Write features" >> beam.ParDo(WriteFeatures(out, feature_options))
    rejected = ((judged[LOW_QUALITY], judged[FAILED], extracted[FAILED], extracted[MISSING])
                | "All rejected" >> beam.Flatten()
                | "Record rejections" >> beam.ParDo(RecordRejection(out, feature_options)))
    bad_rows = checked.bad | "Report bad rows" >> beam.Map(
        lambda row: ClipResult.for_row(row, MISSING if row.missing else FAILED, row.error))

    results = (saved, rejected, planned[REUSED], bad_rows) | "All results" >> beam.Flatten()
    orphans = results | "Find orphaned outputs" >> ListOrphans(out, prune=opts.prune_orphans)
    return results | "Write reports" >> WriteReports(out, extra_columns, config, feature_options, started_at, orphans)


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
        **landmark_config(opts),
        **feature_config(opts),
    }
