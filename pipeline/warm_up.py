"""Local runs: load what the workers will need while Beam is still building and starting the job.

With the local default (worker threads in this process, see pipeline.run), the
first video would otherwise pay for importing MediaPipe and starting each
worker's Holistic, and the report for importing matplotlib, one after the other
on the critical path. Here they happen in a background thread, mostly while the
main thread builds the graph and while MediaPipe's own threads leave a core free.
"""
from __future__ import annotations

import atexit
import logging
import threading
from typing import List

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

from pipeline.options import GhslOptions, runs_locally
from transforms.landmarks import holistic
from transforms.store import records, storage
from transforms.store.metadata import ClipRow


def start(options: PipelineOptions, rows: List[ClipRow]) -> None:
    """Warm up for a job over these metadata rows (nothing when its workers are other processes)."""
    direct = options.view_as(DirectOptions)
    if not runs_locally(options) or direct.direct_running_mode != "multi_threading":
        return
    thread = threading.Thread(target=_warm_up, args=(options.view_as(GhslOptions), direct.direct_num_workers or 1,
                                                     [r for r in rows if not r.error]),
                              name="ghsl-warm-up", daemon=True)
    thread.start()
    # A job that ends first (nothing to decode) must not exit while MediaPipe is mid-start in native code.
    atexit.register(thread.join)


def _warm_up(opts: GhslOptions, workers: int, rows: List[ClipRow]) -> None:
    try:
        # One Holistic per worker thread that will get a video (each ExtractLandmarks builds its own).
        count = min(workers, _likely_decoded(opts, rows))
        if count:
            holistic.warm_up(count, opts.model_complexity, opts.min_detection_confidence,
                             opts.min_tracking_confidence)
        from transforms.reports import report_plots

        report_plots.pyplot()
    except Exception:  # the workers build what they need themselves; a failure there is reported there
        logging.getLogger(__name__).debug("warm-up failed", exc_info=True)


def _likely_decoded(opts: GhslOptions, rows: List[ClipRow]) -> int:
    """How many rows the job will probably decode: on a re-run, those with a video and no record yet.

    A guess (a changed video or option decodes a recorded row too) that keeps a no-op
    re-run from loading MediaPipe for nothing; asking a bucket file by file would cost
    more than it saves, so there every row counts.
    """
    if opts.reprocess == "all" or not storage.is_local(opts.output_dir):
        return len(rows)
    local_videos = storage.is_local(opts.video_dir)
    return sum(1 for r in rows
               if not storage.exists(records.record_path(opts.output_dir, r.feature_stem))
               and (not local_videos or storage.exists(storage.join(opts.video_dir, r.video_file))))
