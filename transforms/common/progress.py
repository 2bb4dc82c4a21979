"""One log line per finished video, numbered across the worker processes of a machine.

Beam gives no cheap global counter while a job runs, so the done count lives in
a small file under the machine's temp folder, bumped under an exclusive lock.
On the DirectRunner every worker shares it, so done/total is exact; on
Dataflow each VM keeps its own count (Beam's counters give the job-wide total).
"""
from __future__ import annotations

import fcntl
import logging
import os
import tempfile

LOG = logging.getLogger("ghsl")
NAMESPACE = "ghsl"  # Beam metrics namespace


def ensure_log_handler() -> None:
    """Progress lines must show in every worker process, whatever logging it set up."""
    if not LOG.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        LOG.addHandler(handler)
        LOG.propagate = False
    LOG.setLevel(logging.INFO)


class ProgressCounter:
    def __init__(self, run_id: str, total: int):
        self.total = total
        self.path = os.path.join(tempfile.gettempdir(), f"ghsl-progress-{run_id}")

    def bump(self) -> int:
        with open(self.path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            done = int(handle.read() or 0) + 1
            handle.seek(0)
            handle.truncate()
            handle.write(str(done))
        return done

    def finished(self, video_file: str, status: str, frames: int, seconds: float, reason: str = "") -> None:
        done = self.bump()
        suffix = f" ({reason})" if reason else ""
        LOG.info("[%d/%d] %-11s %4d frames %6.1fs  %s%s",
                 done, self.total, status, frames, seconds, video_file, suffix)

    def cleanup(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)
