"""A run's progress, written a few times a second at most, whatever the number of rows.

The video step's workers count the rows that need work (planned) and those done, and
keep one line per finished video. At most every FLUSH_SECONDS each worker process
appends its new lines to the run's log and rewrites its own count file, in a folder
under the machine's temp folder that every worker process of a local run shares
(run_folder). The launcher reads the counts for its one live line
(pipeline/progress_line.py) and publishes the log as OUT/proc/run_log.txt when the job
ends. 100,000 rows cost some hundreds of small writes, not 100,000.

A line is numbered when it is written ([n/N], N the lines expected so far: the rows that
need work and the missing ones), under a lock on the log, so the numbers are exact across
the worker processes of a machine. On a remote runner each line is also logged, where the
service collects the workers' logs (Dataflow: Cloud Logging), one per video as before.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import threading
import time
from typing import Dict, List, Tuple

from transforms.common.safe_text import printable

LOG = logging.getLogger("ghsl")
NAMESPACE = "ghsl"  # Beam metrics namespace
FLUSH_SECONDS = 0.5
LOG_FILE = "run_log.txt"


class OneLineFormatter(logging.Formatter):
    """Each message one line, as written: a value quoted in it (a video's name, a metadata cell) cannot start a
    line of its own or send the terminal an escape (safe_text.printable). A traceback still follows below."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)


def ensure_log_handler() -> None:
    """Progress lines must show in every worker process, whatever logging it set up."""
    if not LOG.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(OneLineFormatter("%(asctime)s %(message)s", "%H:%M:%S"))
        LOG.addHandler(handler)
        LOG.propagate = False
    LOG.setLevel(logging.INFO)


def run_folder(run_id: str) -> str:
    return os.path.join(tempfile.gettempdir(), f"ghsl-run-{run_id}")


def line(status: str, frames: int, seconds: float, video_file: str, reason: str = "") -> str:
    """One finished video, as the log shows it (before its number): always one line, whatever the video's name
    or the reason hold (a newline in a name would otherwise forge a line of the run log)."""
    suffix = f" ({printable(reason)})" if reason else ""
    return f"{status:<11} {frames:4d} frames {seconds:6.1f}s  {printable(video_file)}{suffix}"


class Progress:
    """This process's counts and unwritten lines for one run; shared by its DoFns and threads."""

    _of_run: Dict[Tuple[int, str], "Progress"] = {}
    _made = threading.Lock()

    @classmethod
    def of(cls, run_id: str, log_each: bool = False) -> "Progress":
        """log_each: log every line too (a remote runner's workers, whose logs the service keeps)."""
        key = (os.getpid(), run_id)
        with cls._made:
            if key not in cls._of_run:
                cls._of_run[key] = cls(run_id, log_each)
            return cls._of_run[key]

    def __init__(self, run_id: str, log_each: bool):
        self.folder = run_folder(run_id)
        self.log_each = log_each
        self._lock = threading.Lock()
        # The threads of this process share its counts file (and that file's temporary name): one writes at a
        # time, so a later snapshot of the counts is never overwritten by an earlier one.
        self._writing = threading.Lock()
        self._counts = {"planned": 0, "done": 0, "missing": 0, "reused": 0}
        self._lines: List[str] = []
        self._written = 0.0

    def planned(self, rows: int = 1) -> None:
        """Rows found to need work (a decode, a recompute or a record to read)."""
        with self._lock:
            self._counts["planned"] += rows
        self._flush_now_and_then()

    def reused(self, rows: int = 1) -> None:
        """Rows whose recorded result stands (no line: a weekly re-run reuses nearly every row)."""
        with self._lock:
            self._counts["reused"] += rows
        self._flush_now_and_then()

    def finished(self, video_file: str, status: str, frames: int, seconds: float, reason: str = "",
                 work: bool = True) -> None:
        """A video is done; work=False for a row settled without work (missing), which has a line but is
        not part of the rate."""
        text = line(status, frames, seconds, video_file, reason)
        if self.log_each:
            LOG.info("%s", text)
        with self._lock:
            self._counts["done" if work else "missing"] += 1
            self._lines.append(text)
        self._flush_now_and_then()

    def _flush_now_and_then(self) -> None:
        if time.monotonic() - self._written >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the new lines and this process's counts (a bundle's end calls it, so nothing is left)."""
        with self._writing:
            with self._lock:
                lines, self._lines = self._lines, []
                counts = dict(self._counts)
                self._written = time.monotonic()
            os.makedirs(self.folder, exist_ok=True)
            counts_file = os.path.join(self.folder, f"counts-{os.getpid()}.json")
            temporary = counts_file + ".tmp"
            with open(temporary, "w") as handle:
                json.dump(counts, handle)
            os.replace(temporary, counts_file)
            if lines:
                _append_numbered(self.folder, lines)


def _append_numbered(folder: str, lines: List[str]) -> None:
    # The lines written so far are counted in a file of their own, read and bumped under the log's lock.
    with open(os.path.join(folder, LOG_FILE), "a") as log, open(os.path.join(folder, "written"), "a+") as written_file:
        fcntl.flock(log, fcntl.LOCK_EX)
        written_file.seek(0)
        written = int(written_file.read() or 0)
        counts = read_counts(folder)
        expected = max(counts["planned"] + counts["missing"], written + len(lines))
        log.writelines(f"[{written + i}/{expected}] {text}\n" for i, text in enumerate(lines, start=1))
        written_file.seek(0)
        written_file.truncate()
        written_file.write(str(written + len(lines)))


def read_counts(folder: str) -> Dict[str, int]:
    """The counts of every worker process of the run, summed."""
    total = {"planned": 0, "done": 0, "missing": 0, "reused": 0}
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return total
    for name in names:
        if name.startswith("counts-") and name.endswith(".json"):
            try:
                with open(os.path.join(folder, name)) as handle:
                    for key, value in json.load(handle).items():
                        total[key] = total.get(key, 0) + int(value)
            except (OSError, ValueError):  # replaced while we read it: the next look sees it
                continue
    return total
