"""The whole job, top to bottom: the plan's work → landmarks and features → reports and index → report page
→ release → run summary → the lease given back.

The entry points (pipeline/run.py, pipeline/release.py) check the options, plan,
take the output folder's lease and run what `build` or `build_release` returns;
nothing is added to the job anywhere else. Every step passes typed values
forward: ClipResult per row, then one RunOutputs (transforms/reports/run_reports.py),
then Released. The same graph runs on the DirectRunner and on Dataflow.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import GhslOptions, batch_runner, feature_config, landmark_config, without_type_check
from transforms.release.build import BuildRelease, Released
from transforms.release.publish import write_folds
from transforms.release.settings import ReleaseSettings
from transforms.reports.report_html import with_report_page
from transforms.reports.run_reports import RunContext, RunOutputs, write_reports, write_summary
from transforms.store import lease
from transforms.store.plan import Plan
from transforms.store.videos import ProcessVideos


class Job(NamedTuple):
    """What the launcher decided before the job: the plan, the reports' context, the release, the lease."""

    plan: Plan
    context: RunContext
    release: Optional[ReleaseSettings]   # None: no release in this job
    lease: Optional[lease.Taken]         # None: the launcher gives it back (a dry run, or --augment_text)
    run_id: str
    threads: int = 1                     # videos one worker decodes at once (pipeline/run.py picks it)


def build(options: PipelineOptions, job: Job) -> beam.Pipeline:
    opts, plan = options.view_as(GhslOptions), job.plan
    p = beam.Pipeline(runner=batch_runner(options), options=without_type_check(options))

    # The settled rows travel as one list: the group every row meets in below then exists even for a
    # metadata file without rows, whose run still writes every report (empty).
    results = p | "Rows settled by the plan" >> beam.Create([plan.settled], reshuffle=False)
    if plan.has_work:  # with nothing to do, no step reads a video, a .pose or a record
        worked = (p
                  | "Rows to work on" >> beam.Create(plan.work, reshuffle=False)
                  # Created rows sit in one bundle; without a reshuffle every video would run on one worker.
                  | "Spread videos" >> beam.Reshuffle()
                  | "Landmarks, features, records" >> beam.ParDo(ProcessVideos(
                      opts.video_dir, opts.output_dir, landmark_config(opts), feature_config(opts), plan.made_by,
                      reprocess_all=opts.reprocess == "all", run_id=job.run_id, total=plan.progress_total,
                      threads=job.threads))
                  | "As lists" >> beam.Map(lambda result: [result]))
        results = (results, worked) | "Every row" >> beam.Flatten()

    outputs = (results
               | "One group" >> beam.WithKeys(lambda _: None)
               | "Gather results" >> beam.GroupByKey()
               | "Write reports and index" >> beam.Map(lambda group, context: write_reports(
                   [result for results in group[1] for result in results], context), job.context)
               | "Write report page" >> beam.Map(with_report_page, opts.video_dir, opts.preview_overlay,
                                                 opts.preview_samples, opts.max_previews))
    if job.release is not None:
        released = outputs | "Build the release" >> BuildRelease(job.release)
    else:
        released = outputs | "No release" >> beam.Map(Released, None)
    # Written last: its presence says every other output of the run is complete.
    done = released | "Write run summary" >> beam.Map(write_summary)
    if job.lease is not None:
        done | "Give back the lease" >> beam.Map(give_back_after, job.lease)
    return p


def build_release(options: PipelineOptions, outputs: RunOutputs, settings: ReleaseSettings,
                  taken: Optional[lease.Taken], folds: Sequence[str] = ()) -> beam.Pipeline:
    """The release of a finished run's outputs alone (pipeline.release; pipeline.run after --augment_text).

    folds: the held-out column's values in the documented order, to build its k leave-one-out releases
    instead (fold i holds out value i) in this one job, each a normal release; releases/folds.json lists them.
    """
    p = beam.Pipeline(runner=batch_runner(options), options=without_type_check(options))
    finished = p | "Finished run" >> beam.Create([outputs], reshuffle=False)
    if not folds:
        released = finished | "Build the release" >> BuildRelease(settings)
    else:
        released = ([finished
                     | f"Build fold {i}" >> BuildRelease(settings.fold(i), names_latest=False)
                     | f"Fold {i}" >> beam.Map(lambda r, i, value: (i, value, r.outcome), i, value)
                     for i, value in enumerate(folds)]
                    | "Every fold" >> beam.Flatten()
                    | "Gather folds" >> beam.combiners.ToList()
                    | "List the folds" >> beam.Map(lambda found, out, column: write_folds(out, column, found),
                                                   outputs.output_dir, settings.heldout_by))
    if taken is not None:
        released | "Give back the lease" >> beam.Map(give_back_after, taken)
    return p


def give_back_after(_, taken: lease.Taken) -> bool:
    return lease.give_back(taken)


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
