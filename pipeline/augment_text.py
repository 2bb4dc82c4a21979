"""Sentence variations with Gemini: `python -m pipeline.augment_text --input_csv=OUT/proc/processed_metadata.csv`.

For every distinct (sentence_id, sentence) of the CSV, Gemini writes
--variations natural English rephrasings; the CSV gets a `text_variations`
column (see transforms/text/variations_csv.py). `pipeline.run --augment_text`
calls `augment()` at the end of the main job.

Where things go (local paths or gs:// URIs):
- the CSV is rewritten in place by default (--output_csv to write elsewhere).
  Training reads OUT/proc/processed_metadata.csv, so that is where the column
  is expected; the rewrite publishes the whole file in one step and only adds
  (or refreshes) one column, so the file is never half-written and running
  again is harmless.
- the cache, sentence_variations.json, sits next to the CSV (--cache): it
  belongs to that run's sentences.
- augment_failed.csv goes to the CSV's folder (OUT/proc/), beside the other
  reports; it is written on every run, empty when nothing failed, so an old
  one never outlives the problem.

Requests: the sentences still missing from the cache are gathered and cut
into requests of --sentences_per_request in one step, so every request leaves
from one bundle on one worker, one after the other. That keeps
--requests_per_minute exact on any runner without a rate-limit service. The
cost is time: a run takes about (sentences / --sentences_per_request) times
the model's answer time, or longer when the per-minute limit binds.
"""
from __future__ import annotations

import logging
import sys
import uuid
from typing import List, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.logs import configure_logging
from pipeline.augment_options import AugmentConfigError, credential_problems, option_problems
from pipeline.options import GhslOptions, runs_locally, exit_on_unknown_arguments, exit_with_help
from transforms.text import sentence_variations as sv
from transforms.common import storage
from transforms.text import variations_cache
from transforms.text import variations_csv
from transforms.text.ask_gemini import ANSWERED, ASK_AGAIN, FAILED, AskGemini
from transforms.text.gemini_handler import RequestsPerMinute, SentenceVariationsHandler

LOG = logging.getLogger("ghsl")
CACHE_JSON = "sentence_variations.json"
FAILED_CSV = "augment_failed.csv"
CACHED = "cached"
TO_ASK = "to_ask"
COUNTERS = ("sentences_cached", "gemini_requests", "gemini_key_rotations", "sentences_answered",
            "sentences_answered_wrong", "sentences_failed")


def folder_of(path: str) -> str:
    return storage.parent(path)


def check_config(options: PipelineOptions, input_csv: Optional[str] = None, cache: Optional[str] = None) -> None:
    """Raises AugmentConfigError for anything wrong before any request.

    Without `input_csv` only the options and credentials are checked: what
    pipeline.run can check before its main job has written the CSV.
    """
    opts = options.view_as(GhslOptions)
    problems = option_problems(opts) + credential_problems(opts, remote=not runs_locally(options))
    if problems:
        raise AugmentConfigError(" ".join(problems) + " Run with --help for every option.")
    if input_csv is None:
        return
    try:
        variations_csv.read(input_csv)
        variations_cache.load(cache or opts.cache or storage.join(folder_of(input_csv), CACHE_JSON))
    except (variations_csv.CsvError, variations_cache.CacheError) as exc:
        raise AugmentConfigError(str(exc)) from exc


class _SplitByCache(beam.DoFn):
    """(sentence_id, sentences) → cached answer, sentence to ask, or a failure that asking cannot fix."""

    def __init__(self, variations: int):
        self.variations = variations
        self.cached = Metrics.counter("ghsl", "sentences_cached")

    def process(self, grouped, cache):
        sid, sentences = grouped
        sentences = sorted(set(sentences))
        if len(sentences) > 1:
            for sentence in sentences:
                yield beam.pvalue.TaggedOutput(FAILED, (sid, sentence, (
                    f"sentence_id {sid!r} is used for {len(sentences)} different sentences; give each "
                    f"sentence its own id")))
            return
        sentence = sentences[0]
        if not sid.strip() or not sentence.strip():
            yield beam.pvalue.TaggedOutput(FAILED, (sid, sentence, "empty sentence_id or sentence"))
            return
        found = variations_cache.lookup(cache, sid, sentence, self.variations)
        if found:
            self.cached.inc()
            yield beam.pvalue.TaggedOutput(CACHED, (sid, found))
        else:
            yield sid, sentence


def _write_outputs(rows, answers, failures, *, input_csv: str, output_csv: str, failed_csv: str) -> int:
    header, _ = variations_csv.read(input_csv)
    Metrics.counter("ghsl", "sentences_failed").inc(len(failures))
    storage.write_text(failed_csv, variations_csv.failed_text(failures))
    # Written last: the column appears only when the cache and the failure list are complete.
    storage.write_text(output_csv, variations_csv.with_variations(header, rows, answers))
    return len(rows)


def build(p: beam.Pipeline, *, input_csv: str, output_csv: str, cache: str, failed_csv: str,
          opts: GhslOptions, run_id: str):
    """Adds the job to `p`: CSV → distinct sentences → cache or Gemini → CSV with text_variations."""
    def handler():
        return SentenceVariationsHandler(
            opts.model, opts.variations,
            rate_limiter=RequestsPerMinute(opts.requests_per_minute, name=run_id),
            vertex_project=opts.vertex_project, vertex_location=opts.vertex_location,
            api_key_secret=opts.api_key_secret, timeout_s=opts.request_timeout_s, num_retries=opts.max_retries)

    rows = (p
            | "Read CSV" >> beam.Create([input_csv])
            | "Parse rows" >> beam.FlatMap(lambda path: variations_csv.read(path)[1]))
    known = (p
             | "Cache path" >> beam.Create([cache])
             | "Read cache" >> beam.Map(variations_cache.load))
    sentences = (rows
                 | "Sentence pairs" >> beam.Map(lambda row: (row["sentence_id"], row["sentence"]))
                 | "Distinct pairs" >> beam.Distinct()
                 | "By sentence id" >> beam.GroupByKey()
                 | "Skip cached" >> beam.ParDo(_SplitByCache(opts.variations), beam.pvalue.AsSingleton(known))
                 .with_outputs(CACHED, FAILED, main=TO_ASK))

    first = (sentences[TO_ASK]
             | "Gather sentences" >> beam.combiners.ToList()
             | "Into requests" >> beam.FlatMap(sv.chunks, opts.sentences_per_request)
             | "Ask Gemini" >> AskGemini(handler(), opts.variations, cache, last_try=False))
    again = (first[ASK_AGAIN]
             | "One per request" >> beam.Map(lambda pair: [pair])
             | "Ask again alone" >> AskGemini(handler(), opts.variations, cache, last_try=True))

    answers = (sentences[CACHED], first[ANSWERED], again[ANSWERED]) | "All answers" >> beam.Flatten()
    failures = (sentences[FAILED], first[FAILED], again[FAILED]) | "All failures" >> beam.Flatten()
    return (rows
            | "Gather rows" >> beam.combiners.ToList()
            | "Write CSVs" >> beam.Map(_write_outputs, beam.pvalue.AsDict(answers), beam.pvalue.AsList(failures),
                                       input_csv=input_csv, output_csv=output_csv, failed_csv=failed_csv))


def augment(input_csv: str, options: PipelineOptions, *, output_csv: Optional[str] = None,
            cache: Optional[str] = None, wait: bool = False) -> dict:
    """Adds text_variations to `input_csv` (see module docstring); returns counts and paths.

    Options come from GhslOptions (pipeline.run passes its own PipelineOptions);
    `output_csv` and `cache` override --output_csv and --cache. A remote job is
    waited for only with `wait` (pipeline.run's release reads the CSV it writes).
    Raises AugmentConfigError before any work when the configuration cannot work.
    """
    opts = options.view_as(GhslOptions)
    paths = {
        "input_csv": input_csv,
        "output_csv": output_csv or opts.output_csv or input_csv,
        "cache": cache or opts.cache or storage.join(folder_of(input_csv), CACHE_JSON),
        "failed_csv": storage.join(folder_of(input_csv), FAILED_CSV),
    }
    check_config(options, input_csv, paths["cache"])
    LOG.info("Sentence variations for %s with %s (cache %s)", input_csv, opts.model, paths["cache"])
    pipeline = beam.Pipeline(options=options)
    build(pipeline, opts=opts, run_id=uuid.uuid4().hex, **paths)
    result = pipeline.run()
    if not runs_locally(options) and not wait:
        LOG.info("Submitted; the job writes %s when it finishes.", paths["output_csv"])
        return {"paths": paths}
    result.wait_until_finish()
    return {"paths": paths, "counts": _counters(result)}


def _counters(result) -> dict:
    try:
        found = result.metrics().query()["counters"]
    except Exception:  # not every runner reports metrics
        return {}
    counts = dict.fromkeys(COUNTERS, 0)
    for c in found:
        if c.key.metric.namespace == "ghsl" and c.key.metric.name in counts:
            counts[c.key.metric.name] += c.committed
    return counts


def print_summary(summary: dict) -> None:
    counts, paths = summary.get("counts", {}), summary["paths"]
    print()
    if counts:
        print(f"Sentence variations: {counts['sentences_cached']} from the cache, "
              f"{counts['sentences_answered']} answered by Gemini in {counts['gemini_requests']} requests "
              f"({counts['gemini_key_rotations']} key rotations), {counts['sentences_failed']} failed")
    print(f"  output: {paths['output_csv']}")
    print(f"  cache:  {paths['cache']}")
    print(f"  failed: {paths['failed_csv']}")


def main(argv: Optional[List[str]] = None) -> int:
    exit_with_help(argv, "python -m pipeline.augment_text", __doc__.splitlines()[0], [GhslOptions])
    exit_on_unknown_arguments(argv)
    configure_logging()
    argv = list(sys.argv[1:] if argv is None else argv)
    options = PipelineOptions(argv)
    input_csv = options.view_as(GhslOptions).input_csv
    try:
        if not input_csv:
            raise AugmentConfigError("--input_csv is required: the processed_metadata.csv of a preprocessing "
                                     "run (OUT/proc/processed_metadata.csv).")
        summary = augment(input_csv, options)
    except AugmentConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_summary(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
