"""Logging for the entry points: our progress lines and Beam's warnings, without the chatter.

Two failures are the user's or the machine's, not the pipeline's, and end a run with one
line of ours instead of a traceback: Ctrl-C and a full disk. Beam logs the traceback of
the bundle they stopped, so the log drops those tracebacks; and it turns a KeyboardInterrupt
into a RuntimeError (an error of the job, to any caller), so `ctrl_c_noted` remembers that a
Ctrl-C came.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import signal
import threading
from typing import Callable, Iterator, Optional

from transforms.common.progress import ensure_log_handler

_interrupted = threading.Event()


class _DropMemoryProbeWarning(logging.Filter):
    """Beam 2.77's RunInference warns once per request that it cannot read memory use.

    Its `import resource` sits in one try block with model_manager, which imports
    torch; without torch the (present) resource module is taken as missing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Resource module is not available")


# How a stop reads in the text of an error a Beam worker process relays (its traceback, as a message).
_STOP_TEXT = ("[Errno 28]", "No space left on device", "[Errno 122]", "Disk quota exceeded", "KeyboardInterrupt")


class _DropStopTracebacks(logging.Filter):
    """The tracebacks Beam logs for a bundle stopped by Ctrl-C or by a full disk: the launcher says
    what happened in one line (pipeline/run.py), and the frames are of no use to anyone."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and stopped_by_user_or_disk(record.exc_info[1]):
            return False
        if not record.name.startswith("apache_beam") or record.levelno < logging.ERROR:
            return True
        # After a Ctrl-C, what Beam says of the bundle it stopped is the same traceback, in its words.
        return not (_interrupted.is_set() or any(text in record.getMessage() for text in _STOP_TEXT))


def configure_logging() -> None:
    # Beam's own INFO chatter hides the progress lines; keep its warnings and errors.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropMemoryProbeWarning())
        handler.addFilter(_DropStopTracebacks())
    # Worker start-up warnings relayed by the local job service ("No semi_persistent_directory",
    # "Discarding unparseable args" for our own options) are noise; worker errors still show.
    logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
    ensure_log_handler()


def cause(exc: BaseException, matches: Callable[[BaseException], bool]) -> Optional[BaseException]:
    """The first exception in `exc`'s chain (itself, what it was raised from or while handling) that matches."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if matches(exc):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def stopped_by_user_or_disk(exc: BaseException) -> bool:
    return cause(exc, lambda e: isinstance(e, KeyboardInterrupt) or is_disk_full(e)) is not None


def interrupted() -> bool:
    """A Ctrl-C (SIGINT) came while `ctrl_c_noted` was active."""
    return _interrupted.is_set()


@contextlib.contextmanager
def ctrl_c_noted() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt as it always does, and is remembered (`interrupted`).

    The first Ctrl-C stops the run where it is; what was being published is finished, so
    the process may take a moment to exit. A second one ends it at once (the default
    action of SIGINT): every write is atomic, so nothing half-written is left behind.
    Left alone where SIGINT is ignored (a background job of a script), and off the main thread.
    """
    _interrupted.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        yield
        return

    def on_ctrl_c(signum, frame):
        _interrupted.set()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        raise KeyboardInterrupt

    def on_thread_error(args):
        # The runner's threads that watch its workers fail as the run stops ("Worker subprocess exited").
        if not _interrupted.is_set():
            thread_error(args)

    thread_error = threading.excepthook
    signal.signal(signal.SIGINT, on_ctrl_c)
    threading.excepthook = on_thread_error
    try:
        yield
    finally:
        if not _interrupted.is_set():
            signal.signal(signal.SIGINT, previous)
            threading.excepthook = thread_error
