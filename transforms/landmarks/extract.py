"""ExtractLandmarks: a video's work item in, its published .pose landmark file out.

Stage 1 of the job, and the only one that runs MediaPipe. It takes

  * `ToDecode`: Holistic over every frame; the .pose file is published
    atomically (transforms/store/storage.py) before anything downstream sees it;
  * `ToRecompute`: the stored .pose is read and must be exactly the file its
    record vouches for (size and sha256); otherwise the video is decoded again.

Either way the output is the file's bytes (`StoredLandmarks`), from which
features are computed (transforms/features/compute.py), so a .npy never depends
on which path produced it.

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
Stored landmarks are read on READ_THREADS threads everywhere: a read is a round
trip to the bucket, not work for a core.
"""
from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from typing import List, NamedTuple, Optional, Union

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import BoundedWindow
from apache_beam.utils.windowed_value import WindowedValue

from transforms.common.progress import NAMESPACE, ProgressCounter, ensure_log_handler
from transforms.landmarks import pose_file
from transforms.landmarks.holistic import HolisticExtractor, VideoDecodeError, check_model_available
from transforms.store import records, storage
from transforms.store.results import (FAILED, FILE_NOT_FOUND, MISSING, RECOMPUTED, ClipResult, StoredLandmarks,
                                      ToDecode, ToRecompute)

READ_THREADS = 8


class _Done(NamedTuple):
    """What one work item gave, before it is counted and emitted (on the bundle's thread).

    value is a ToDecode when stored landmarks turned out untrustworthy: it is then decoded.
    """
    value: Union[StoredLandmarks, ClipResult, ToDecode]
    seconds: float


class _Pending(NamedTuple):
    future: concurrent.futures.Future
    pool: concurrent.futures.Executor
    window: object
    timestamp: object


class LandmarkWorkerMismatch(RuntimeError):
    """This worker would make landmarks other than the ones the launcher planned for."""


class ExtractLandmarks(beam.DoFn):
    """Runs MediaPipe Holistic over a row's video and publishes OUT/landmarks/<stem>.pose.

    Takes ToDecode and ToRecompute. Main output: StoredLandmarks. Tagged outputs:
    failed, missing (ClipResult).
    """

    def __init__(self, video_dir: str, output_dir: str, landmark_options: dict, run_id: str = "", total: int = 0,
                 threads: int = 1, planned_fingerprint: Optional[str] = None):
        """planned_fingerprint: the landmark fingerprint the launcher planned re-use with; this worker's
        must equal it, or its records would never be reused (see setup)."""
        if threads < 1:
            raise ValueError(f"threads must be 1 or more, not {threads}")
        self.video_dir = video_dir
        self.output_dir = output_dir
        self.landmark_options = dict(landmark_options)
        self.run_id = run_id
        self.total = total
        self.threads = threads
        self.planned_fingerprint = planned_fingerprint
        self.videos = {s: Metrics.counter(NAMESPACE, f"videos_{s}") for s in (FAILED, MISSING)}
        self.videos_decoded = Metrics.counter(NAMESPACE, "videos_decoded")
        self.frames_decoded = Metrics.counter(NAMESPACE, "frames_decoded")
        self.untrusted = Metrics.counter(NAMESPACE, "landmark_files_untrusted")
        self.decode_millis = Metrics.distribution(NAMESPACE, "decode_millis")

    def setup(self):
        ensure_log_handler()
        # Fails here, in the worker, when the worker image lacks the pose model.
        check_model_available(self.landmark_options["model_complexity"])
        self.fingerprint = records.landmark_fingerprint(self.landmark_options)
        if self.planned_fingerprint is not None and self.fingerprint != self.planned_fingerprint:
            raise LandmarkWorkerMismatch(
                f"This worker (MediaPipe {records.mediapipe_version()}) would make other landmarks than the "
                f"launcher planned re-use for, so its results would never be reused. Launch from the worker "
                f"image (the Flex Template) or from a checkout installed from the same requirements.lock.")
        self.progress = ProgressCounter(self.run_id, self.total)
        # Holistics not in use. One is built when a video finds none idle, so there are never more
        # than `threads`, and none on a re-run that decodes nothing (loading one takes about a second).
        self._idle: "queue.SimpleQueue[HolisticExtractor]" = queue.SimpleQueue()
        self._built: List[HolisticExtractor] = []
        self._built_lock = threading.Lock()
        self._decoders = (concurrent.futures.ThreadPoolExecutor(self.threads, thread_name_prefix="extract")
                          if self.threads > 1 else None)
        self._readers = concurrent.futures.ThreadPoolExecutor(READ_THREADS, thread_name_prefix="read-pose")
        self._pending: List[_Pending] = []

    def teardown(self):
        for name in ("_decoders", "_readers"):
            pool = getattr(self, name, None)
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
                setattr(self, name, None)
        for extractor in getattr(self, "_built", []):
            extractor.close()
        self._built = []

    def start_bundle(self):
        self._pending = []  # videos in flight, oldest first

    def process(self, item: Union[ToDecode, ToRecompute], window=beam.DoFn.WindowParam,
                timestamp=beam.DoFn.TimestampParam):
        yield from self._submit(item, window, timestamp)
        yield from self._finished(block=False)

    def finish_bundle(self):
        while self._pending:
            yield from self._finished(block=True)

    def _submit(self, item, window, timestamp):
        """Start `item` (decoding inline when there is no decoder pool), waiting while its pool is full.

        At most `threads` decodes and READ_THREADS reads in flight: a thread never waits
        while a video does, and the rest of the bundle stays with the runner rather than queued here.
        """
        if isinstance(item, ToRecompute):
            pool, limit, work = self._readers, READ_THREADS, self._read_stored
        elif self._decoders is not None:
            pool, limit, work = self._decoders, self.threads, self._decode
        else:
            done = self._decode(item)
            yield self._emit(done, window, timestamp)
            return
        while sum(1 for p in self._pending if p.pool is pool) >= limit:
            yield from self._finished(block=True)
        self._pending.append(_Pending(pool.submit(work, item), pool, window, timestamp))

    def _finished(self, block: bool):
        """Emit the items in flight that are done (waiting for the first one when `block`).

        A video's outputs carry its own element's window and timestamp: they are
        emitted while another element is being processed, or after the last one.
        """
        if not self._pending:
            return
        done, _ = concurrent.futures.wait([p.future for p in self._pending], timeout=None if block else 0,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        finished = [p for p in self._pending if p.future in done]
        self._pending = [p for p in self._pending if p.future not in done]
        for p in finished:
            # An unexpected error (a full disk, say) re-raises here and fails the bundle, as it would inline.
            outcome = p.future.result()
            if isinstance(outcome.value, ToDecode):
                self.untrusted.inc()
                yield from self._submit(outcome.value, p.window, p.timestamp)
            else:
                yield self._emit(outcome, p.window, p.timestamp)

    def _read_stored(self, item: ToRecompute) -> _Done:
        """The stored .pose when it is exactly the file the record vouches for; else the video to decode.

        Missing, truncated, rewritten by hand or by another run: never trusted.
        """
        started = time.monotonic()
        landmarks = item.landmarks
        data = storage.read_if_present(pose_file.landmark_path(self.output_dir, item.row.feature_stem))
        if data is None or len(data) != landmarks.get("size") or pose_file.digest(data) != landmarks["sha256"]:
            return _Done(ToDecode(item.row, item.source, "changed", item.outputs), 0.0)
        return _Done(StoredLandmarks(item.row, item.source, RECOMPUTED, data, landmarks, outputs=item.outputs),
                     time.monotonic() - started)

    def _decode(self, item: ToDecode) -> _Done:
        """Decode one video and publish its .pose; runs on an extraction thread when threads > 1."""
        started = time.monotonic()
        row = item.row
        decoded = dict(origin=item.origin, source=item.source, outputs=item.outputs)
        extractor = self._borrow_extractor()
        try:
            with storage.local_copy(storage.join(self.video_dir, row.video_file)) as local_path:
                pose = extractor.extract(local_path)
        except FileNotFoundError:  # gone since the launcher listed it
            return _Done(ClipResult.for_row(row, MISSING, FILE_NOT_FOUND, outputs=item.outputs),
                         time.monotonic() - started)
        except VideoDecodeError as exc:
            # Deterministic for this file and these options: recorded, so no later run decodes it again.
            result = ClipResult.for_row(row, FAILED, str(exc), landmarks={"fingerprint": self.fingerprint,
                                                                         "sha256": None}, **decoded)
            return _Done(result, time.monotonic() - started)
        except Exception as exc:  # a reason in the report beats a dead bundle
            logging.getLogger(__name__).exception("Unexpected error on %s", row.video_file)
            result = ClipResult.for_row(row, FAILED, f"Could not read or decode the video: {type(exc).__name__}: "
                                                     f"{exc}", retryable=True, **decoded)
            return _Done(result, time.monotonic() - started)
        finally:
            self._idle.put(extractor)

        written = storage.write_bytes(pose_file.landmark_path(self.output_dir, row.feature_stem), pose,
                                      unless=item.outputs.pose)
        seconds = time.monotonic() - started
        return _Done(StoredLandmarks(row, item.source, item.origin, pose,
                                     {"fingerprint": self.fingerprint, "sha256": pose_file.digest(pose),
                                      "size": len(pose), "frames": pose_file.frame_count(pose)}, seconds,
                                     outputs=item.outputs._replace(pose=written)),
                     seconds)

    def _borrow_extractor(self) -> HolisticExtractor:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            extractor = HolisticExtractor(**self.landmark_options)
            with self._built_lock:
                self._built.append(extractor)
            return extractor

    def _emit(self, done: _Done, window=None, timestamp=None):
        """Count a finished item and make its output. On the bundle's thread: Beam's metrics
        belong to that thread, and an update from another thread would be lost."""
        value = done.value
        if isinstance(value, StoredLandmarks):
            if value.origin != RECOMPUTED:
                self.videos_decoded.inc()
                self.frames_decoded.inc(value.landmarks["frames"])
                self.decode_millis.update(int(done.seconds * 1000))
            tag = None
        else:
            value.seconds = done.seconds
            self.videos[value.status].inc()
            self.progress.finished(value.video_file, value.status, value.frames_decoded, value.seconds, value.error)
            tag = value.status
        if isinstance(window, BoundedWindow):  # emitted outside its own element's process call
            value = WindowedValue(value, timestamp, (window,))
        return value if tag is None else beam.pvalue.TaggedOutput(tag, value)
