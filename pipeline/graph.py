"""The preprocessing graph, top to bottom: the plan's work → landmarks → features → reports and the index."""
from __future__ import annotations

import apache_beam as beam

from pipeline.options import GhslOptions, feature_config, landmark_config
from transforms.common.moments import GlobalMomentsFn
from transforms.features.compute import ComputeFeatures
from transforms.landmarks.extract import ExtractLandmarks
from transforms.reports.run_reports import WriteReports
from transforms.store.orphans import ListOrphans
from transforms.store.plan import Plan
from transforms.store.results import FAILED, LOW_QUALITY, MISSING, SUCCESS
from transforms.store.reuse import REUSED, LookUpRecords
from transforms.store.update_index import ReusedMoments, UpdateIndex
from transforms.store.write_features import RecordRejection, WriteFeatures


def build(p: beam.Pipeline, opts: GhslOptions, plan: Plan, *, extra_columns, run_id: str, started_at: float,
          config: dict, extraction_threads: int = 1):
    """Adds the whole job to `p` and returns the PCollection holding the run summary.

    plan: what every metadata row needs, made where the job is launched (transforms/store/plan.py).
    With nothing to do, the steps that read videos, landmarks or records are not in the job at all.
    extraction_threads: videos one worker decodes at once (pipeline/run.py picks it).
    """
    out, feature_options = opts.output_dir, feature_config(opts)
    total = plan.progress_total
    results = [p | "Reused and settled rows" >> beam.Create(plan.settled, reshuffle=False)]
    if plan.has_work:
        looked_up = (p
                     | "Rows the index lacks" >> beam.Create(plan.lookups, reshuffle=False)
                     | "Batch them" >> beam.BatchElements(min_batch_size=1, max_batch_size=64)
                     | "Read their records" >> beam.ParDo(LookUpRecords(
                         out, plan.made_by, reprocess_all=opts.reprocess == "all", run_id=run_id, total=total,
                     )).with_outputs(REUSED, main="work"))
        work = ((p | "Rows to work on" >> beam.Create(plan.work, reshuffle=False), looked_up.work)
                | "All work" >> beam.Flatten()
                # Created rows sit in one bundle; without a reshuffle every video would run on one worker.
                | "Spread videos" >> beam.Reshuffle())
        extracted = (work
                     | "Extract landmarks" >> beam.ParDo(ExtractLandmarks(
                         opts.video_dir, out, landmark_config(opts), run_id=run_id, total=total,
                         threads=extraction_threads, planned_fingerprint=plan.made_by.landmarks,
                     )).with_outputs(FAILED, MISSING, main="stored"))
        judged = (extracted.stored
                  | "Compute features" >> beam.ParDo(ComputeFeatures(feature_options, run_id=run_id, total=total))
                  .with_outputs(LOW_QUALITY, FAILED, main=SUCCESS))
        saved = judged[SUCCESS] | "Write features" >> beam.ParDo(WriteFeatures(out, feature_options))
        rejected = ((judged[LOW_QUALITY], judged[FAILED], extracted[FAILED], extracted[MISSING])
                    | "All rejected" >> beam.Flatten()
                    | "Record rejections" >> beam.ParDo(RecordRejection(out, feature_options)))
        results += [saved, rejected, looked_up[REUSED]]
    results = results | "All results" >> beam.Flatten()

    reused = p | "Reused moments" >> ReusedMoments(out, plan)
    moments = ((results | "New moments" >> beam.FlatMap(lambda r: [r.moments] if r.status == SUCCESS and r.moments is not None else []),
                reused | "Their moments" >> beam.Map(lambda clip: clip[2]))
               | "Saved clips" >> beam.Flatten()
               | "Sum moments" >> beam.CombineGlobally(GlobalMomentsFn()))
    orphans = results | "Find orphaned outputs" >> ListOrphans(out, plan.orphans, prune=opts.prune_orphans)
    indexed = results | "Update the record index" >> UpdateIndex(out, plan, reused, moments)
    return results | "Write reports" >> WriteReports(out, extra_columns, config, feature_options, started_at,
                                                     orphans, moments, plan.proc, after=indexed, run_id=run_id)


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
