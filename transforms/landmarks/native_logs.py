"""Silence MediaPipe/TFLite start-up noise and FFmpeg's decoder messages on this process's stderr.

MediaPipe 0.10.21 logs through absl from C++ before absl::InitializeLog() runs,
so GLOG_minloglevel and TF_CPP_MIN_LOG_LEVEL do not reach it: every Holistic
prints a dozen INFO/WARNING lines ("Created TensorFlow Lite XNNPACK delegate",
"Feedback manager requires a model with a single signature…"). Those lines are
written straight to file descriptor 2, so the only place to drop them is the
descriptor itself: fd 2 becomes a pipe whose reader forwards every other line,
errors included, to the real stderr.

FFmpeg, inside OpenCV, writes there too: one line per damaged frame of a broken
video (`[h264 @ 0x55…] error while decoding MB 0 7`, `[mov,mp4,m4a,3gp,3g2,mj2 @
0x55…] moov atom not found`), hundreds for one file. What went wrong with a video
is its reason in the reports, so OpenCV is asked to keep FFmpeg quiet
(OPENCV_FFMPEG_LOGLEVEL, read when OpenCV first opens a video) and the filter
drops the lines of a build that ignores it. GHSL_NATIVE_LOGS=1 turns both off.
"""
from __future__ import annotations

import atexit
import os
import re
import sys
import threading

_NOISE = re.compile(
    rb"^(?:"
    rb"[IW]\d{4} .*"                                            # absl INFO/WARNING lines
    rb"|INFO: Created TensorFlow Lite .*"
    rb"|WARNING: All log messages before absl::InitializeLog\(\).*"
    rb"|AttributeError: 'MessageFactory' object has no attribute 'GetPrototype'"
    rb"|\[[^\]\n]* @ (?:0x)?[0-9a-fA-F]+\] ?.*"                 # FFmpeg: [h264 @ 0x55d5…] message
    rb"|\s*Last message repeated \d+ times"                     # FFmpeg folding repeats
    rb"|\[ ?(?:WARN|ERROR|INFO|DEBUG):\d+(?:@[\d.]+)?\] global (?:cap|videoio).*"  # OpenCV's video reader
    rb")\r?\n?$"
)
# AV_LOG_QUIET: FFmpeg (inside OpenCV) prints nothing.
_FFMPEG_QUIET = "-8"

_lock = threading.Lock()
_installed = False


def patch_protobuf_for_mediapipe() -> None:
    """MediaPipe's bindings call MessageFactory.GetPrototype, removed in protobuf 5.

    Without it they print an AttributeError once (results are unaffected);
    GetMessageClass is the documented replacement.
    """
    from google.protobuf import message_factory

    if not hasattr(message_factory.MessageFactory, "GetPrototype"):
        message_factory.MessageFactory.GetPrototype = (
            lambda self, descriptor: message_factory.GetMessageClass(descriptor))


def quiet_native_logs() -> None:
    """Install the stderr filter once per process; later calls do nothing."""
    global _installed
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    patch_protobuf_for_mediapipe()
    if os.environ.get("GHSL_NATIVE_LOGS") == "1":
        return
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", _FFMPEG_QUIET)
    with _lock:
        if _installed:
            return
        _installed = True
        sys.stderr.flush()
        real_stderr = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        thread = threading.Thread(target=_forward, args=(read_end, real_stderr), daemon=True,
                                  name="native-log-filter")
        thread.start()
        atexit.register(_restore, real_stderr, thread)


def _forward(read_end: int, real_stderr: int) -> None:
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        pending = b""
        while True:
            chunk = pipe.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not _NOISE.match(line):
                    os.write(real_stderr, line + b"\n")
        if pending and not _NOISE.match(pending):
            os.write(real_stderr, pending)


def _restore(real_stderr: int, thread: threading.Thread) -> None:
    # Point fd 2 back at the real stderr so the pipe closes and the reader drains.
    try:
        sys.stderr.flush()
    except Exception:  # stderr may already be closed at interpreter exit
        pass
    os.dup2(real_stderr, 2)
    thread.join(timeout=2)
