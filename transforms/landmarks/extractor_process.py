"""HolisticExtractor in a process of its own: how a local run decodes several videos at once.

ProcessVideos (transforms/store/videos.py) decodes one video per core on a local run. Each
decode thread owns one `ExtractorProcess`, which starts `python -m
transforms.landmarks.extractor_process` once and sends it one video path at a time; the
process runs exactly HolisticExtractor.extract and sends the .pose bytes back, so the
landmarks are the ones an in-process Holistic makes, byte for byte.

Why processes and not Holistics on threads of the run's own process (measured on the 2-core
machines, bench.vs_pool): two Holistics in one process decode about 2-4 % slower per frame
than in two processes, and the first video of each paid 1.5-2 s more, the two model builds
and MediaPipe's import contending with each other and with Beam for the interpreter; a
process of its own imports only OpenCV and MediaPipe and builds its model in about 0.6 s,
both at once on two cores. A crash inside MediaPipe or FFmpeg on a bad file now ends that
video, with a reason, not the run: the next video gets a new process.

The process imports no Beam, so it starts in a fraction of what a Beam worker would, and it
is not `multiprocessing`'s spawn or forkserver either: both import the launcher's main
module (and so Beam) again in every child. It ends when its connection closes (the run's
teardown, or the run's process gone), on Ctrl-C with the run, or, mid-video, within
PARENT_CHECK_SECONDS of the run's process dying.
"""
from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import types
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Optional

from transforms.landmarks.holistic import HolisticExtractor, VideoDecodeError

PARENT_CHECK_SECONDS = 0.5
# What the process sends back for one video: the .pose bytes, or what went wrong.
_POSE, _DECODE_ERROR, _NOT_FOUND, _ERROR = "pose", "decode_error", "not_found", "error"


class ExtractorProcessDied(RuntimeError):
    """The extraction process ended while it had a video (a crash in native code, or killed)."""


class ExtractorProcess:
    """HolisticExtractor's interface (extract, close), the work done in a child process.

    Not thread-safe: one thread uses one ExtractorProcess, as with HolisticExtractor.
    """

    def __init__(self, **landmark_options):
        """The job's landmark options (holistic.LANDMARK_OPTIONS); the child builds its Holistic at once."""
        self._options = dict(landmark_options)
        self._process: Optional[subprocess.Popen] = None
        self._connection: Optional[Connection] = None
        self._start()

    def _start(self) -> None:
        ours, theirs = Pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(theirs.fileno()), json.dumps(self._options)],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        theirs.close()
        self._connection = ours

    def extract(self, video_path: str) -> bytes:
        """The .pose bytes of `video_path`; raises what HolisticExtractor.extract raises, or ExtractorProcessDied."""
        if self._process is None or self._process.poll() is not None:
            self.close()
            self._start()  # the last one died on an earlier video
        try:
            self._connection.send(video_path)
            kind, value = self._connection.recv()
        except (EOFError, OSError):
            raise ExtractorProcessDied(self._death()) from None
        if kind == _POSE:
            return value
        if kind == _DECODE_ERROR:
            raise VideoDecodeError(value)
        if kind == _NOT_FOUND:
            raise FileNotFoundError(value)
        raise RuntimeError(value)

    def _death(self) -> str:
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self.close()
        if code is not None and code < 0:
            how = f"killed by {signal.Signals(-code).name}"
        else:
            how = f"exit code {code}" if code is not None else "no exit code"
        return (f"The landmark extraction process ended while decoding this video ({how}): a crash in MediaPipe "
                f"or FFmpeg on this file, or the process was killed (out of memory?). The other videos went on; "
                f"re-run to try it again, and if it fails the same way, re-encode the file (e.g. with ffmpeg).")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()  # the child reads end-of-file and exits
            self._connection = None
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


# --- the child ---------------------------------------------------------------------------------------


def _exit_with_parent(parent: int) -> None:
    """Mid-video the child is not reading its connection, so a killed run would leave it decoding on."""
    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def serve(connection: Connection, options: dict) -> None:
    """Answer video paths until the connection closes."""
    try:
        extractor = HolisticExtractor(**options)
    except Exception as exc:  # every video then says why, rather than "the process ended"
        traceback.print_exc()
        extractor, failure = None, f"The extraction process could not start MediaPipe: {type(exc).__name__}: {exc}"
    while True:
        try:
            video_path = connection.recv()
        except (EOFError, OSError):
            return
        if extractor is None:
            connection.send((_ERROR, failure))
            continue
        try:
            answer = (_POSE, extractor.extract(video_path))
        except VideoDecodeError as exc:
            answer = (_DECODE_ERROR, str(exc))
        except FileNotFoundError as exc:
            answer = (_NOT_FOUND, str(exc))
        except Exception as exc:  # the run reports it as the video's reason; the traceback goes to stderr
            traceback.print_exc()
            answer = (_ERROR, f"{type(exc).__name__}: {exc}")
        connection.send(answer)


def _without_matplotlib() -> None:
    """MediaPipe's solutions package imports matplotlib.pyplot for a 3-D plotting helper (drawing_utils.
    plot_landmarks) that extraction never calls: 0.4 s of this process's 0.65 s start, paid before every
    run's first video. Here, in a process that does nothing but extract, empty modules stand in for it."""
    for name in ("matplotlib", "matplotlib.pyplot"):
        sys.modules.setdefault(name, types.ModuleType(name))


def main(argv) -> int:
    # Ctrl-C reaches the whole process group: this process just ends, the run reports the interruption. Where
    # SIGINT is ignored (the run started in the background by a script), it is ignored here too, as by the run.
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    _exit_with_parent(os.getppid())
    _without_matplotlib()
    # The Holistic is not closed at the end: the process exits at once and the run's teardown waits for that.
    serve(Connection(int(argv[0])), json.loads(argv[1]))
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # What a normal exit does that matters (the log filter's last lines), not the interpreter's slow teardown of
    # MediaPipe, which the run would wait for.
    atexit._run_exitfuncs()
    sys.stderr.flush()
    os._exit(code)
