"""Every job, each top to bottom. `build`, the main one: the metadata and the videos read → each clip's video
step → reports and index → duplicate audit → report page → release → run summary → the lease given back; `build_release`,
a finished run's release alone; `build_text`, the Gemini sentence variations.

The entry points (pipeline/run.py, pipeline/release.py) check the options, take the
output folder's lease and run what `build` or `build_release` returns; nothing is
added to the job anywhere else. No row travels inside the graph: the job reads the
metadata and lists the folders itself, so its graph is the same for ten rows and a
million. Per clip, the rows, the published outputs and the record index meet in one
join on the feature stem; the video step's results leave on four tagged streams
(success, low_quality, failed, missing), each written to its own report, and the
statistics are one CombineFn over what changed. The duplicate audit is global (every
saved clip's signature in one place): it takes the saved clips the reports step
gathers for the release anyway, a few small values each. The same graph runs on the
DirectRunner, Beam's portable runner and Dataflow.
"""
from __future__ import annotations

import posixpath
from typing import NamedTuple, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import GhslOptions, batch_runner, feature_config, landmark_config, without_type_check
from transforms.landmarks.video_step import ORPHANS, TOTAL_CHANGES, VideoStep
from transforms.release.build import BuildRelease, Released
from transforms.release.inputs import read_outputs
from transforms.release.publish import write_folds
from transforms.release.settings import ReleaseSettings
from transforms.reports.duplicates_report import with_duplicates
from transforms.reports.report_html import with_report_page
from transforms.reports.run_reports import RunContext, write_summary
from transforms.reports.statistics import SavedMoments
from transforms.reports.write_reports import STATUSES, WriteReports
from transforms.store import lease
from transforms.store.listings import COUNT, DIGEST, PROBLEM, TOTAL, ListFiles, ListOutputs, ReadIndex
from transforms.store.reuse import Fingerprints
from transforms.store.rows import PER_VIDEO, REFUSED, SENTENCES, PairSentences, ReadMetadata, SentencesAgree, nfc, pack


class Job(NamedTuple):
    """What the launcher decided before the job: the reports' context, the release, the lease."""

    context: RunContext
    made_by: Fingerprints                # the fingerprints re-use is decided with (transforms/store/reuse.py)
    header: Tuple[str, ...]              # the metadata file's header as the launcher read it (renamed to our
                                         # columns): its layout, and what a sentence table's videos pair against
    release: Optional[ReleaseSettings]   # None: no release in this job
    lease: Optional[lease.Taken]         # None: the launcher gives it back (a dry run, or --augment_text)
    run_id: str
    threads: int = 1                     # videos one worker decodes at once (pipeline/run.py picks it)
    log_each: bool = False               # workers log every finished video (a remote runner keeps their logs)


def build(options: PipelineOptions, job: Job) -> beam.Pipeline:
    opts = options.view_as(GhslOptions)
    out = opts.output_dir
    p = beam.Pipeline(runner=batch_runner(options), options=without_type_check(options))

    read = p | "Read the metadata" >> ReadMetadata(opts.metadata_csv, opts.metadata_columns, opts.video_name_pattern)
    listed = p | "List the videos" >> ListFiles(opts.video_dir)
    videos = listed.entries
    index = p | "Read the record index" >> ReadIndex(out)
    # Per clip, one join on the Unicode form of its feature stem (rows.nfc): its rows, the files that could
    # be its video, its published outputs and its index entry. The file's layout is in its header: with no
    # video_file column it is a sentence table, whose rows are paired with their videos by sentence id first
    # (docs/published-layout.md).
    if "video_file" in job.header:
        agreed = read[PER_VIDEO] | "One sentence per id" >> SentencesAgree()
        refused = [read[REFUSED], agreed[REFUSED]]
        per_clip = {"rows": agreed.rows | "Rows by stem" >> beam.Map(lambda row: (stem_key(row.video_file), pack(row))),
                    "files": videos | "Files by stem" >> beam.Map(
                        lambda item: (stem_key(item[0]), (item[0], tuple(item[1]))))}
    else:
        paired = ((read[SENTENCES], videos)
                  | "Pair sentences with videos" >> PairSentences(opts.video_name_pattern, list(job.header)))
        refused_pairs, paired = paired | "Paired rows that can be used" >> beam.Partition(
            lambda found, _: 0 if found.row.error else 1, 2)
        refused = [refused_pairs | "Their rows" >> beam.Map(lambda found: found.row)]
        per_clip = {"paired": paired | "Paired by stem" >> beam.Map(
            lambda found: (stem_key(found.row.video_file),
                           (pack(found.row), tuple(found.video) if found.video else None)))}
    # The layout decides which inputs the join has (the video step reads the ones it has); the rows never do.
    clips = ({**per_clip, "outputs": p | "List the outputs" >> ListOutputs(out), "entries": index.entries}
             | "Per clip" >> beam.CoGroupByKey())
    refused = tuple(refused) | "Refused rows" >> beam.Flatten()

    streams = ((clips, refused, index[TOTAL], videos, listed[COUNT])
               | "The video step" >> VideoStep(opts.video_dir, out, landmark_config(opts), feature_config(opts),
                                               job.made_by, reprocess_all=opts.reprocess == "all",
                                               run_id=job.run_id, threads=job.threads, log_each=job.log_each))
    total = ((streams[TOTAL_CHANGES], index[TOTAL], index[PROBLEM])
             | "Saved clips' moments" >> SavedMoments(out, job.made_by.features, from_scratch=opts.reprocess == "all"))
    outputs = (({**{status: streams[status] for status in STATUSES}, "orphans": streams[ORPHANS]}, total,
                index[DIGEST], index[TOTAL], index[PROBLEM])
               | "Write reports and index" >> WriteReports(job.context, job.made_by.features, opts.preview_samples,
                                                         opts.max_previews)
               | "Find duplicate recordings" >> beam.Map(with_duplicates)
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


def build_release(options: PipelineOptions, output_dir: str, settings: ReleaseSettings,
                  taken: Optional[lease.Taken], folds: Sequence[str] = ()) -> beam.Pipeline:
    """The release of a finished run's outputs alone (pipeline.release; pipeline.run after --augment_text).

    The job reads the finished run itself (its reports and records), so its graph holds no row either.
    folds: the held-out column's values in the documented order, to build its k leave-one-out releases
    instead (fold i holds out value i) in this one job, each a normal release; releases/folds.json lists them.
    """
    p = beam.Pipeline(runner=batch_runner(options), options=without_type_check(options))
    finished = (p
                | "Start" >> beam.Impulse()
                | "Finished run" >> beam.Map(lambda _, out: read_outputs(out, audit=True), output_dir))
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
                                                   output_dir, settings.heldout_by))
    if taken is not None:
        released | "Give back the lease" >> beam.Map(give_back_after, taken)
    return p


def build_text(options: PipelineOptions, *, input_csv: str, output_csv: str, cache: str, failed_csv: str,
               run_id: str) -> beam.Pipeline:
    """The sentence-variations job (pipeline.augment_text): processed_metadata.csv → its distinct sentences →
    the cache, or Gemini for the rest → the CSV with text_variations, and augment_failed.csv."""
    # google-genai and Beam's Gemini handler (a second of imports): only for the runs that ask Gemini.
    from transforms.text import sentence_variations, variations_cache, variations_csv
    from transforms.text.ask_gemini import ANSWERED, ASK_AGAIN, FAILED, AskGemini
    from transforms.text.gemini_handler import RequestsPerMinute, SentenceVariationsHandler
    from transforms.text.sentence_steps import CACHED, TO_ASK, SplitByCache, write_outputs

    opts = options.view_as(GhslOptions)

    def handler():
        return SentenceVariationsHandler(
            opts.model, opts.variations,
            rate_limiter=RequestsPerMinute(opts.requests_per_minute, name=run_id),
            vertex_project=opts.vertex_project, vertex_location=opts.vertex_location,
            api_key_secret=opts.api_key_secret, timeout_s=opts.request_timeout_s, num_retries=opts.max_retries)

    p = beam.Pipeline(options=options)
    rows = (p
            | "Start" >> beam.Impulse()
            | "Read the CSV" >> beam.FlatMap(lambda _, path: variations_csv.read(path)[1], input_csv))
    known = (p
             | "Start the cache" >> beam.Impulse()
             | "Read the cache" >> beam.Map(lambda _, path: variations_cache.load(path), cache))
    sentences = (rows
                 | "Sentence pairs" >> beam.Map(lambda row: (row["sentence_id"], row["sentence"]))
                 | "Distinct pairs" >> beam.Distinct()
                 | "By sentence id" >> beam.GroupByKey()
                 | "Skip cached" >> beam.ParDo(SplitByCache(opts.variations), beam.pvalue.AsSingleton(known))
                 .with_outputs(CACHED, FAILED, main=TO_ASK))
    # Every request leaves from one bundle, one after the other: --requests_per_minute holds on any runner.
    first = (sentences[TO_ASK]
             | "Gather sentences" >> beam.combiners.ToList()
             | "Into requests" >> beam.FlatMap(sentence_variations.chunks, opts.sentences_per_request)
             | "Ask Gemini" >> AskGemini(handler(), opts.variations, cache, last_try=False))
    again = (first[ASK_AGAIN]
             | "One per request" >> beam.Map(lambda pair: [pair])
             | "Ask again alone" >> AskGemini(handler(), opts.variations, cache, last_try=True))
    answers = (sentences[CACHED], first[ANSWERED], again[ANSWERED]) | "All answers" >> beam.Flatten()
    failures = (sentences[FAILED], first[FAILED], again[FAILED]) | "All failures" >> beam.Flatten()
    (rows
     | "Gather rows" >> beam.combiners.ToList()
     | "Write CSVs" >> beam.Map(write_outputs, beam.pvalue.AsDict(answers), beam.pvalue.AsList(failures),
                                input_csv=input_csv, output_csv=output_csv, failed_csv=failed_csv))
    return p


def stem_key(video_file: str) -> str:
    """The join key of a video's clip: its feature stem in NFC, which every spelling of its name shares."""
    return nfc(posixpath.splitext(video_file)[0])


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
