"""Entry point: `python -m pipeline.report --output_dir=OUT [--video_dir=… --preview_overlay]`.

Rebuilds OUT/proc/report.html from a finished run's outputs alone (the four
CSVs, run_summary.json and a sample of the feature arrays); local paths and
gs:// URIs both work. The main job writes the same page as one of its steps
(pipeline/graph.py). A report reads a few files and a bounded sample of arrays,
so it runs here, in this process, without a pipeline.
"""
from __future__ import annotations

import sys
from typing import List, Optional

from pipeline.logs import configure_logging
from pipeline.process_exit import exit_now
from pipeline.options import GhslOptions, exit_on_unknown_arguments, exit_with_help
from transforms.common.safe_text import printable
from transforms.landmarks.native_logs import quiet_native_logs
from transforms.reports.report_html import write_report_page
from transforms.reports.run_reports import ReportsMissing, read_run


def build_report(opts: GhslOptions) -> str:
    """Builds OUT/proc/report.html from the outputs and returns its path; ReportsMissing without a finished run."""
    return write_report_page(read_run(opts.output_dir), opts.video_dir, opts.preview_overlay, opts.preview_samples,
                             opts.max_previews)


def main(argv: Optional[List[str]] = None) -> int:
    exit_with_help(argv, "python -m pipeline.report", __doc__.splitlines()[0], [GhslOptions])
    exit_on_unknown_arguments(argv)
    configure_logging()
    quiet_native_logs()
    from apache_beam.options.pipeline_options import PipelineOptions

    opts = PipelineOptions(list(sys.argv[1:] if argv is None else argv)).view_as(GhslOptions)
    if not opts.output_dir:
        print("error: --output_dir is required (the folder the pipeline wrote features/ and proc/ into).",
              file=sys.stderr)
        return 2
    if opts.preview_overlay and not opts.video_dir:
        print("error: --preview_overlay needs --video_dir: the overlay is drawn on the video frames.", file=sys.stderr)
        return 2
    try:
        path = build_report(opts)
    except ReportsMissing as exc:
        print(f"error: {printable(exc)}", file=sys.stderr)
        return 2
    print(f"Report: {path}")
    return 0


if __name__ == "__main__":
    exit_now(main())
