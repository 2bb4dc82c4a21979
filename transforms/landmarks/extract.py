"""ExtractLandmarks: one video to decode in, its published .pose landmark file out.

Stage 1 of the job, and the only one that runs MediaPipe. The .pose file is
published atomically (transforms/store/storage.py) before anything downstream
sees it; features are then computed from its bytes (transforms/features/compute.py),
exactly as a later run computes them from the stored file.

A bad video never raises out of `process`: it becomes a `failed` or `missing`
result with a reason, so one broken file cannot fail a bundle (and, on
Dataflow, be retried until the job dies).

With `threads` > 1 one DoFn instance decodes that many videos at once, each
thread with its own Holistic, and a thread takes the next video of the bundle as
soon as it is free. That is the local run's parallelism (pipeline/run.py): the
DirectRunner hands each of its workers a fixed share of a stage's input up front,
so with slow and quick videos one worker would sit idle while the other still had
a queue; here nobody owns a queue. MediaPipe releases the GIL while it works, so
threads keep the cores busy. On Dataflow `threads` is 1 and videos are decoded
inline: the service runs one SDK process per vCPU and rebalances work itself.
"""
from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from typing import List, NamedTuple, Union

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from transforms.landmarks import pose_file
from transforms.landmarks.holistic import HolisticExtractor, VideoDecodeError, check_model_available
from transforms.common.progress import NAMESPACE, ProgressCounter, ensure_log_handler
from transforms.store import records, storage
from transforms.store.results import FAILED, FILE_NOT_FOUND, MISSING, ClipResult, StoredLandmarks, ToDecode


class _Decoded(NamedTuple):
    """What decoding one video gave, before it is counted and emitted (on the bundle's thread)."""
    value: Union[StoredLandmarks, ClipResult]
    seconds: float


class ExtractLandmarks(beam.DoFn):
    """Runs MediaPipe Holistic over a row's video and publishes OUT/landmarks/<stem>.pose.

    Takes ToDecode, and StoredLandmarks a re-run recomputes features from, which pass
    through as they are. Main output: StoredLandmarks. Tagged outputs: failed, missing (ClipResult).
    """

    def __init__(self, video_dir: str, output_dir: str, landmark_options: dict, run_id: str = "", total: int = 0,
                 threads: int = 1):
        if threads < 1:
            raise ValueError(f"threads must be 1 or more, not {threads}")
        self.video_dir = video_dir
        self.output_dir = output_dir
        self.landmark_options = dict(landmark_options)
        self.run_id = run_id
        self.total = total
        self.threads = threads
        self.videos = {s: Metrics.counter(NAMESPACE, f"videos_{s}") for s in (FAILED, MISSING)}
        self.videos_decoded = Metrics.counter(NAMESPACE, "videos_decoded")
        self.frames_decoded = Metrics.counter(NAMESPACE, "frames_decoded")
        self.decode_millis = Metrics.distribution(NAMESPACE, "decode_millis")

    def setup(self):
        ensure_log_handler()
        # Fails here, in the worker, when the worker image lacks the pose model.
        check_model_available(self.landmark_options["model_complexity"])
        self.fingerprint = records.landmark_fingerprint(self.landmark_options)
        self.progress = ProgressCounter(self.run_id, self.total)
        # Holistics not in use. One is built when a video finds none idle, so there are never more
        # than `threads`, and none on a re-run that decodes nothing (loading one takes about a second).
        self._idle: "queue.SimpleQueue[HolisticExtractor]" = queue.SimpleQueue()
        self._built: List[HolisticExtractor] = []
        self._built_lock = threading.Lock()
        self._pool = (concurrent.futures.ThreadPoolExecutor(self.threads, thread_name_prefix="extract")
                      if self.threads > 1 else None)
        self._pending: list = []

    def teardown(self):
        if getattr(self, "_pool", None) is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        for extractor in getattr(self, "_built", []):
            extractor.close()
        self._built = []

    def start_bundle(self):
        self._pending = []  # (future, window, timestamp) of the videos in flight, oldest first

    def process(self, item: Union[ToDecode, StoredLandmarks], window=beam.DoFn.WindowParam,
                timestamp=beam.DoFn.TimestampParam):
        if isinstance(item, StoredLandmarks):
            yield item
            return
        if self._pool is None:
            yield self._emit(self._decode(item))
            return
        # At most `threads` videos in flight: a thread never waits while a video does, and the
        # rest of the bundle stays with the runner rather than queued here.
        while len(self._pending) >= self.threads:
            yield from self._finished(block=True)
        self._pending.append((self._pool.submit(self._decode, item), window, timestamp))
        yield from self._finished(block=False)

    def finish_bundle(self):
        while self._pending:
            yield from self._finished(block=True)

    def _finished(self, block: bool):
        """Emit the videos in flight that are done (waiting for the first one when `block`).

        A video's outputs carry its own element's window and timestamp: they are
        emitted while another element is being processed, or after the last one.
        """
        done, _ = concurrent.futures.wait([f for f, _, _ in self._pending], timeout=None if block else 0,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        finished = [p for p in self._pending if p[0] in done]
        self._pending = [p for p in self._pending if p[0] not in done]
        # An unexpected error (a full disk, say) re-raises here and fails the bundle, as it would inline.
        return [self._emit(future.result(), window, timestamp) for future, window, timestamp in finished]

    def _decode(self, item: ToDecode) -> _Decoded:
        """Decode one video and publish its .pose; runs on an extraction thread when threads > 1."""
        started = time.monotonic()
        row = item.row
        if item.source is None:
            return _Decoded(ClipResult.for_row(row, MISSING, FILE_NOT_FOUND), time.monotonic() - started)
        decoded = dict(origin=item.origin, source=item.source)
        extractor = self._borrow_extractor()
        try:
            with storage.local_copy(storage.join(self.video_dir, row.video_file)) as local_path:
                pose = extractor.extract(local_path)
        except VideoDecodeError as exc:
            # Deterministic for this file and these options: recorded, so no later run decodes it again.
            result = ClipResult.for_row(row, FAILED, str(exc), landmarks={"fingerprint": self.fingerprint,
                                                                         "sha256": None}, **decoded)
            return _Decoded(result, time.monotonic() - started)
        except Exception as exc:  # a reason in the report beats a dead bundle
            logging.getLogger(__name__).exception("Unexpected error on %s", row.video_file)
            result = ClipResult.for_row(row, FAILED, f"Could not read or decode the video: {type(exc).__name__}: "
                                                     f"{exc}", retryable=True, **decoded)
            return _Decoded(result, time.monotonic() - started)
        finally:
            self._idle.put(extractor)

        storage.write_bytes(pose_file.landmark_path(self.output_dir, row.feature_stem), pose)
        seconds = time.monotonic() - started
        return _Decoded(StoredLandmarks(row, item.source, item.origin, pose,
                                        {"fingerprint": self.fingerprint, "sha256": pose_file.digest(pose),
                                         "size": len(pose), "frames": pose_file.frame_count(pose)}, seconds),
                        seconds)

    def _borrow_extractor(self) -> HolisticExtractor:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            extractor = HolisticExtractor(**self.landmark_options)
            with self._built_lock:
                self._built.append(extractor)
            return extractor

    def _emit(self, decoded: _Decoded, window=None, timestamp=None):
        """Count a decoded video and make its output. On the bundle's thread: Beam's metrics
        belong to that thread, and an update from an extraction thread would be lost."""
        value = decoded.value
        if isinstance(value, StoredLandmarks):
            self.videos_decoded.inc()
            self.frames_decoded.inc(value.landmarks["frames"])
            self.decode_millis.update(int(decoded.seconds * 1000))
            tag = None
        else:
            value.seconds = decoded.seconds
            self.videos[value.status].inc()
            self.progress.finished(value.video_file, value.status, value.frames_decoded, value.seconds, value.error)
            tag = value.status
        if window is not None:
            value = WindowedValue(value, timestamp, (window,))
        return value if tag is None else beam.pvalue.TaggedOutput(tag, value)
