"""Entry point: `python -m pipeline.report --output_dir=OUT [--video_dir=… --preview_overlay] [Beam options]`.

Rebuilds OUT/proc/report.html from a finished run's outputs alone (the four
CSVs, run_summary.json and a sample of the feature arrays); local paths and
gs:// URIs both work. The main job calls `build_report` when it has finished,
or adds the same steps after its own with `add_report`.
"""
from __future__ import annotations

import json
import sys
from typing import List, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

from pipeline.logs import configure_logging
from pipeline.options import GhslOptions, batch_runner, exit_on_unknown_arguments, exit_with_help
from transforms.store import storage
from transforms.landmarks.native_logs import quiet_native_logs
from transforms.reports.report_data import ReportData
from transforms.reports.report_html import REPORT_HTML, write_report
from transforms.reports.run_reports import SUMMARY_JSON, proc_path


class ReportError(Exception):
    """The outputs cannot be reported on; the message says why and what to do."""


def read_summary(output_dir: str) -> dict:
    path = proc_path(output_dir, SUMMARY_JSON)
    data = storage.read_if_present(path)
    if data is None:
        raise ReportError(f"{path} does not exist: the run has not finished (run_summary.json is written last), "
                          f"or --output_dir is not a pipeline output folder.")
    return json.loads(data)


def add_report(summaries: beam.PCollection, output_dir: str, video_dir: Optional[str] = None,
               preview_overlay: bool = False, preview_samples: int = 4, max_previews: int = 12):
    """Adds the report after `summaries` (run_summary.json's content, once written); returns the path's PCollection."""
    data = summaries | "Report data" >> ReportData(output_dir, video_dir, preview_overlay, preview_samples,
                                                   max_previews)
    return summaries | "Write report.html" >> beam.Map(write_report, output_dir,
                                                       beam.pvalue.AsSingleton(data["stats"]),
                                                       beam.pvalue.AsSingleton(data["problems"]),
                                                       beam.pvalue.AsList(data["previews"]))


def build_report(output_dir: str, video_dir: Optional[str] = None, preview_overlay: bool = False,
                 preview_samples: int = 4, max_previews: int = 12,
                 pipeline_options: Optional[PipelineOptions] = None) -> str:
    """Builds OUT/proc/report.html from the outputs and returns its path, once the job is done.

    Without pipeline_options it runs in this process (DirectRunner, in memory):
    the report reads a few files and a bounded sample of arrays.
    """
    summary = read_summary(output_dir)
    if pipeline_options is None:
        pipeline_options = PipelineOptions()
        pipeline_options.view_as(DirectOptions).direct_running_mode = "in_memory"
    with beam.Pipeline(runner=batch_runner(pipeline_options), options=pipeline_options) as p:
        add_report(p | "Run summary" >> beam.Create([summary]), output_dir, video_dir, preview_overlay,
                   preview_samples, max_previews)
    return proc_path(output_dir, REPORT_HTML)


def main(argv: Optional[List[str]] = None) -> int:
    exit_with_help(argv, "python -m pipeline.report", __doc__.splitlines()[0], [GhslOptions])
    exit_on_unknown_arguments(argv)
    configure_logging()
    quiet_native_logs()
    argv = list(sys.argv[1:] if argv is None else argv)
    options = PipelineOptions(argv)
    if not any(a.startswith("--direct_running_mode") for a in argv):
        options.view_as(DirectOptions).direct_running_mode = "in_memory"
    opts = options.view_as(GhslOptions)
    if not opts.output_dir:
        print("error: --output_dir is required (the folder the pipeline wrote features/ and proc/ into).",
              file=sys.stderr)
        return 2
    if opts.preview_overlay and not opts.video_dir:
        print("error: --preview_overlay needs --video_dir: the overlay is drawn on the video frames.", file=sys.stderr)
        return 2
    try:
        path = build_report(opts.output_dir, opts.video_dir, opts.preview_overlay, opts.preview_samples,
                            opts.max_previews, options)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
