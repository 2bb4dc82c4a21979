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

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

from pipeline.options import GhslOptions, runs_locally
from transforms.landmarks import holistic


def start(options: PipelineOptions, videos: int) -> None:
    """Warm up for a job that decodes at most `videos` videos (nothing when its workers are other processes)."""
    direct = options.view_as(DirectOptions)
    if not runs_locally(options) or direct.direct_running_mode != "multi_threading":
        return
    opts = options.view_as(GhslOptions)
    # One Holistic per worker thread that will get a video (each ExtractLandmarks builds its own).
    count = min(direct.direct_num_workers or 1, videos)
    settings = (opts.model_complexity, opts.min_detection_confidence, opts.min_tracking_confidence)
    thread = threading.Thread(target=_warm_up, args=(count, settings), name="ghsl-warm-up", daemon=True)
    thread.start()
    # A job that ends first (nothing to decode) must not exit while MediaPipe is mid-start in native code.
    atexit.register(thread.join)


def _warm_up(count: int, settings) -> None:
    try:
        holistic.warm_up(count, *settings)
        from transforms.reports import report_plots

        report_plots.pyplot()
    except Exception:  # the workers build what they need themselves; a failure there is reported there
        logging.getLogger(__name__).debug("warm-up failed", exc_info=True)
