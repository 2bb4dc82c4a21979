"""The launcher's one live progress line, for a job that runs in this process.

It reads the counts the video step's workers write a few times a second
(transforms/common/progress.py) and redraws one line on the terminal:

    [  412/1,200 videos]  3.1 videos/s  ETA 4:14  (2,731 rows reused, 5 missing)

done/total and the rate are over the rows that need work (a decode, a recompute
or a record to read), so a weekly re-run that reuses 99,000 rows and decodes 100
says 100. When standard error is not a terminal (CI, a pipe, a log file) the line is
printed once every PLAIN_SECONDS instead of redrawn. With --verbose every finished
video's line is printed as well, as the run log gets it.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from typing import Optional, TextIO

from transforms.common.progress import LOG_FILE, read_counts, run_folder

REDRAW_SECONDS = 0.5
PLAIN_SECONDS = 30.0


class LiveProgress:
    def __init__(self, run_id: str, verbose: bool = False, stream: Optional[TextIO] = None):
        self.folder = run_folder(run_id)
        self.verbose = verbose
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress-line", daemon=True)
        self._since: Optional[float] = None   # when the first row needing work was found
        self._shown_lines = 0
        self._last_plain = 0.0
        self._drawn = False

    def __enter__(self) -> "LiveProgress":
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()
        self._draw(final=True)

    def _loop(self):
        while not self._stop.wait(REDRAW_SECONDS):
            self._draw()

    def _draw(self, final: bool = False) -> None:
        if self.verbose:
            self._print_new_lines()
        counts = read_counts(self.folder)
        planned, done = counts["planned"], counts["done"]
        if not planned and not final:
            return
        if planned and self._since is None:
            self._since = time.monotonic()
        text = self.text(planned, done, counts["reused"], counts["missing"])
        if self.interactive:
            self.stream.write("\r" + text.ljust(78) + ("\n" if final else ""))
            self.stream.flush()
            self._drawn = True
        elif final or time.monotonic() - self._last_plain >= PLAIN_SECONDS:
            if planned or final and self._drawn:
                self.stream.write(text + "\n")
                self.stream.flush()
                self._drawn = True
            self._last_plain = time.monotonic()

    def text(self, planned: int, done: int, reused: int, missing: int) -> str:
        elapsed = time.monotonic() - (self._since or time.monotonic())
        # A rate needs a second of watching: before that, one quick video would read as thousands a second.
        rate = done / elapsed if elapsed >= 1.0 else None
        speed = f"  {rate:.2f} videos/s" if rate else ""
        eta = f"  ETA {_clock((planned - done) / rate)}" if rate and planned > done else ""
        others = [f"{n:,} {what}" for n, what in ((reused, "rows reused"), (missing, "missing")) if n]
        extra = f"  ({', '.join(others)})" if others else ""
        return f"[{done:,}/{planned:,} videos]{speed}{eta}{extra}"

    def _print_new_lines(self) -> None:
        try:
            with open(os.path.join(self.folder, LOG_FILE)) as log:
                lines = log.readlines()
        except FileNotFoundError:
            return
        fresh, self._shown_lines = lines[self._shown_lines:], len(lines)
        if fresh:
            if self.interactive and self._drawn:
                self.stream.write("\r" + " " * 78 + "\r")
            self.stream.writelines(fresh)
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
