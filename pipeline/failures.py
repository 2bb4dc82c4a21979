"""How a run that did not finish ends: its exit code and one message a person can act on.

A configuration mistake (2) was found before any work. A Ctrl-C (130) and a full
disk (1) are one line each, without a traceback: neither is a fault to debug,
and both leave every published file complete. Anything else (1) keeps the
traceback the runner logged, and says whether the last finished run's summary
still stands (docs/bad-input.md).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import List, Optional, Tuple

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.augment_options import AugmentConfigError
from pipeline.logs import cause, interrupted, is_disk_full
from pipeline.options import GhslOptions
from pipeline.preflight import ConfigError, metadata_rows
from transforms.common import storage
from transforms.common.safe_text import printable
from transforms.reports.run_reports import SUMMARY_JSON
from transforms.store.paths import proc_path

EXIT_INTERRUPTED = 130


def ending(exc: BaseException, argv: Optional[List[str]]) -> Tuple[int, str]:
    """The exit code and the message of a run that did not finish.

    A configuration mistake (2) was found before any work. A Ctrl-C (130) and a full disk (1)
    are one line each, without a traceback: neither is a fault to debug, and both leave every
    published file complete. Anything else (1) keeps the traceback the runner logged.
    """
    out = _output_dir(argv)
    if interrupted() or cause(exc, lambda e: isinstance(e, KeyboardInterrupt)):
        stands = ("the last finished run's run_summary.json still stands" if _summary_stands(out) else
                  "no run_summary.json was written")
        return EXIT_INTERRUPTED, (
            f"Interrupted (Ctrl-C): the run stopped before it finished. Kept: every output it published under "
            f"{out}, each complete (a video being saved when Ctrl-C came is finished first; press Ctrl-C again "
            f"to stop at once); {stands}. Run the same command again to finish the work: it reuses what was kept.")
    if isinstance(exc, (ConfigError, AugmentConfigError)):
        return 2, f"error: {printable(exc)}"  # one line, whatever value it quotes
    if cause(exc, is_disk_full) or "[Errno 28]" in str(exc):  # the text: an error from a worker process
        return 1, disk_full_message(exc, argv)
    if _summary_stands(out):  # it failed before rewriting anything
        stands = f"The outputs under {out} are as the last finished run left them: its run_summary.json still stands."
    else:
        stands = (f"The outputs under {out} are incomplete: no run_summary.json was written, so nothing vouches "
                  f"for the reports under proc/. Every file the run published is complete;")
    return 1, (f"error: the job failed: {type(exc).__name__}: {exc}\n{stands} Run the same command again to "
               f"finish the rest (it reuses what was published).")


def _summary_stands(out: str) -> bool:
    """run_summary.json is there: a run deletes it before it rewrites any output, so that one is untouched."""
    try:
        return storage.exists(proc_path(out, SUMMARY_JSON))
    except Exception:  # the message must not fail in its turn; say the outputs may be incomplete
        return False


def _options(argv: Optional[List[str]]) -> GhslOptions:
    return PipelineOptions(list(sys.argv[1:] if argv is None else argv)).view_as(GhslOptions)


def _output_dir(argv: Optional[List[str]]) -> str:
    out = _options(argv).output_dir or "--output_dir"
    return os.path.abspath(out) if storage.is_local(out) else out


def disk_full_message(exc: BaseException, argv: Optional[List[str]]) -> str:
    """One line: which disk is full, its free space, and how much the rest of the run needs (when the clips
    saved so far tell)."""
    out = _output_dir(argv)
    full = cause(exc, is_disk_full)
    written = getattr(full, "filename", None)
    folder = out if storage.is_local(out) else tempfile.gettempdir()
    if written and not os.path.abspath(str(written)).startswith(folder.rstrip(os.sep) + os.sep):
        folder = os.path.dirname(os.path.abspath(str(written)))
    free = _free_bytes(folder)
    where = f"the disk holding {folder}" + (f" ({_size(free)} free)" if free is not None else "")
    elsewhere = (" (or give --output_dir a folder on a larger disk)" if folder == out else
                 " (or set TMPDIR to a folder on a larger disk)" if folder == tempfile.gettempdir() else "")
    needed = _space_needed(argv)
    if needed is None or free is None or needed[0] <= free:
        amount = f"Free space under {folder}"
    else:
        bytes_, videos, each = needed
        amount = (f"The {videos} video(s) still to save need about {_size(bytes_)} (about {_size(each)} per clip "
                  f"saved so far), {_size(bytes_ - free)} more than is free: free at least that under {folder}")
    return (f"error: no space left on {where}. {amount}{elsewhere} and run the same command again: every output "
            f"already published is complete and is reused; this run wrote no run_summary.json.")


def _free_bytes(folder: str) -> Optional[int]:
    path = folder
    while path and not os.path.exists(path):
        path = os.path.dirname(path)
    try:
        return shutil.disk_usage(path or os.sep).free
    except OSError:
        return None


def _space_needed(argv: Optional[List[str]]) -> Optional[Tuple[int, int, int]]:
    """(bytes, videos, bytes per clip): the videos of the metadata with no record yet, times what a clip
    saved so far takes (its landmarks, features and record); None when no clip is saved or it cannot tell."""
    from transforms.store.listings import NPY, POSE, RECORD, by_kind

    opts = _options(argv)
    try:
        listing = by_kind(_output_dir(argv))
        landmarks, features, records = listing[POSE], listing[NPY], listing[RECORD]
        saved = [stem for stem in records if stem in landmarks]
        if not saved:
            return None
        each = sum(landmarks[s].size + records[s].size + (features[s].size if s in features else 0)
                   for s in saved) // len(saved)
        videos = storage.list_objects(opts.video_dir)
        rows = metadata_rows(opts, videos).rows
        todo = sum(1 for r in rows if not r.error and r.video_file in videos and r.feature_stem not in records)
    except Exception:  # a message about a full disk must not fail in its turn
        return None
    return (todo * each, todo, each) if todo else None


def _size(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} bytes" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"
