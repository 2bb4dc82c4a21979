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

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import graph
from pipeline.logs import configure_logging
from pipeline.augment_options import AugmentConfigError, credential_problems, option_problems
from pipeline.options import GhslOptions, runs_locally, exit_on_unknown_arguments, exit_with_help
from transforms.common import storage
from transforms.common.safe_text import printable
from transforms.text import variations_cache
from transforms.text import variations_csv
from transforms.text.sentence_steps import CACHE_JSON, COUNTERS, FAILED_CSV

LOG = logging.getLogger("ghsl")


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
    result = graph.build_text(options, run_id=uuid.uuid4().hex, **paths).run()
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
        print(f"error: {printable(exc)}", file=sys.stderr)
        return 2
    print_summary(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
