"""ProcessVideos: one metadata row's work in, its published outputs and its final ClipResult out.

The job's one per-video step, and the only one that runs MediaPipe. Per work item (transforms/store/plan.py):

  * `ToLookUp`: the row's record is read first (the index lacked it), then the
    rule of transforms/store/reuse.py decides: reused as recorded, or one of the two below;
  * `ToDecode`: Holistic over every frame (transforms/landmarks/holistic.py), the .pose
    published atomically, then features and verdict from those bytes;
  * `ToRecompute`: the stored .pose is read and must be exactly the file its record
    vouches for (size and sha256), else the video is decoded after all.

Features are always computed from the .pose bytes (so a .npy never depends on
which path produced it), then the .npy and the record are published
(transforms/store/publish.py). A bad video never raises out of `process`: it
becomes a `failed` or `missing` result with a reason, so one broken file cannot
fail a bundle (and, on Dataflow, be retried until the job dies).

Parallelism. With `threads` > 1 one instance decodes that many videos at once:
each thread drives its own Holistic in a process of its own
(transforms/landmarks/extractor_process.py says why not in this one), and takes
the next video of the bundle as soon as it is free: the local run's parallelism
(pipeline/run.py). Beam's own local workers are each handed a fixed share of a
stage's input up front, so with slow and quick videos one would idle while
another still had a queue; here nobody owns a queue. On Dataflow `threads` is 1
and videos are decoded inline: the service runs one SDK process per vCPU and
rebalances work itself.
Records and stored landmarks are read on READ_THREADS threads everywhere: a read
is a round trip to the bucket, not work for a core. Results are counted and
emitted on the bundle's thread (Beam's metrics belong to it).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import queue
import threading
import time
from typing import List, NamedTuple, Union

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import BoundedWindow
from apache_beam.utils.windowed_value import WindowedValue

from transforms.common import storage
from transforms.common.progress import NAMESPACE, ProgressCounter, ensure_log_handler
from transforms.features import registry
from transforms.landmarks import pose_file
from transforms.landmarks.extractor_process import ExtractorProcess, ExtractorProcessDied
from transforms.landmarks.holistic import HolisticExtractor, VideoDecodeError, check_model_available
from transforms.store import records
from transforms.store.paths import landmark_path, record_path
from transforms.store.publish import publish
from transforms.store.results import (CHANGED, FAILED, FILE_NOT_FOUND, MISSING, RECOMPUTED, REUSED, ClipResult,
                                      ToDecode, ToLookUp, ToRecompute)
from transforms.store.reuse import Fingerprints, decide

READ_THREADS = 16
Work = Union[ToDecode, ToRecompute, ToLookUp]
Extractor = Union[HolisticExtractor, ExtractorProcess]


class LandmarkWorkerMismatch(RuntimeError):
    """This worker would make landmarks other than the ones the launcher planned for."""


class _Done(NamedTuple):
    """What one work item gave: a final result, or more work (a record looked up, untrusted landmarks)."""

    value: Union[ClipResult, ToDecode, ToRecompute]
    item: Work                # what was done, for the counters
    decode_seconds: float = 0.0
    frames_decoded: int = 0   # frames MediaPipe went through for this item


class _Pending(NamedTuple):
    future: concurrent.futures.Future
    pool: concurrent.futures.Executor
    window: object
    timestamp: object


def judge(pose: bytes, feature_options: dict, **values) -> tuple:
    """(ClipResult fields, features or None) from a clip's .pose bytes with the run's feature options."""
    verdict = registry.of(feature_options).judge(pose_file.read_points(pose), feature_options)
    return dict(status=verdict.status, error=verdict.reason, measures=verdict.measures, **values), verdict.features


class ProcessVideos(beam.DoFn):
    """Work items in (ToLookUp, ToDecode, ToRecompute); one ClipResult per item out."""

    def __init__(self, video_dir: str, output_dir: str, landmark_options: dict, feature_options: dict,
                 made_by: Fingerprints, *, reprocess_all: bool = False, run_id: str = "", total: int = 0,
                 threads: int = 1):
        """made_by: the fingerprints the launcher planned re-use with; this worker's landmark fingerprint
        must be the same, or its records would never be reused (see setup)."""
        if threads < 1:
            raise ValueError(f"threads must be 1 or more, not {threads}")
        self.video_dir = video_dir
        self.output_dir = output_dir
        self.landmark_options = dict(landmark_options)
        self.feature_options = dict(feature_options)
        self.made_by = made_by
        self.reprocess_all = reprocess_all
        self.run_id = run_id
        self.total = total
        self.threads = threads
        self.counters = {name: Metrics.counter(NAMESPACE, name) for name in (
            "videos_success", "videos_low_quality", "videos_failed", "videos_missing", "videos_decoded",
            "videos_recomputed", "videos_reused", "frames_decoded", "records_read", "landmark_files_untrusted")}
        self.decode_millis = Metrics.distribution(NAMESPACE, "decode_millis")

    def setup(self):
        ensure_log_handler()
        # Fails here, in the worker, when the worker image lacks the pose model.
        check_model_available(self.landmark_options["model_complexity"])
        self.fingerprint = records.landmark_fingerprint(self.landmark_options)
        if self.fingerprint != self.made_by.landmarks:
            raise LandmarkWorkerMismatch(
                f"This worker (MediaPipe {records.mediapipe_version()}) would make other landmarks than the "
                f"launcher planned re-use for, so its results would never be reused. Launch from the worker "
                f"image (the Flex Template) or from a checkout installed from the same requirements.lock.")
        self.progress = ProgressCounter(self.run_id, self.total)
        # Extractors not in use. One is started when a video finds none idle, so there are never more
        # than `threads`, and none when nothing is decoded (loading one takes about a second).
        self._idle: "queue.SimpleQueue[Extractor]" = queue.SimpleQueue()
        self._built: List[Extractor] = []
        self._built_lock = threading.Lock()
        self._decoders = (concurrent.futures.ThreadPoolExecutor(self.threads, thread_name_prefix="decode")
                          if self.threads > 1 else None)
        self._readers = concurrent.futures.ThreadPoolExecutor(READ_THREADS, thread_name_prefix="read")
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
        self._pending = []  # items in flight, oldest first

    def process(self, item: Work, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        yield from self._submit(item, window, timestamp)
        yield from self._finished(block=False)

    def finish_bundle(self):
        while self._pending:
            yield from self._finished(block=True)

    # --- scheduling (the bundle's thread) ---------------------------------------------------------

    def _submit(self, item: Work, window, timestamp):
        """Start `item` (decoding inline when there is no decoder pool), waiting while its pool is full.

        At most `threads` decodes and READ_THREADS reads in flight: a thread never waits
        while a video does, and the rest of the bundle stays with the runner rather than queued here.
        """
        if isinstance(item, ToDecode) and self._decoders is None:
            yield from self._handle(self._decode(item), window, timestamp)
            return
        if isinstance(item, ToDecode):
            pool, limit = self._decoders, self.threads
        else:
            pool, limit = self._readers, READ_THREADS
        while sum(1 for p in self._pending if p.pool is pool) >= limit:
            yield from self._finished(block=True)
        work = {ToDecode: self._decode, ToRecompute: self._recompute, ToLookUp: self._look_up}[type(item)]
        self._pending.append(_Pending(pool.submit(work, item), pool, window, timestamp))

    def _finished(self, block: bool):
        """Handle the items in flight that are done (waiting for the first one when `block`)."""
        if not self._pending:
            return
        done, _ = concurrent.futures.wait([p.future for p in self._pending], timeout=None if block else 0,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        finished = [p for p in self._pending if p.future in done]
        self._pending = [p for p in self._pending if p.future not in done]
        for p in finished:
            # An unexpected error (a full disk, say) re-raises here and fails the bundle, as it would inline.
            yield from self._handle(p.future.result(), p.window, p.timestamp)

    def _handle(self, done: _Done, window, timestamp):
        """Count a finished item; emit its result, or start the work it turned into."""
        value = done.value
        if isinstance(done.item, ToLookUp):
            self.counters["records_read"].inc()
        if done.decode_seconds:
            self.counters["videos_decoded"].inc()
            self.counters["frames_decoded"].inc(done.frames_decoded)
            self.decode_millis.update(int(done.decode_seconds * 1000))
        if not isinstance(value, ClipResult):
            if isinstance(done.item, ToRecompute):
                self.counters["landmark_files_untrusted"].inc()
            yield from self._submit(value, window, timestamp)
            return
        self.counters[f"videos_{value.status}"].inc()
        if value.origin in (RECOMPUTED, REUSED):
            self.counters[f"videos_{value.origin}"].inc()
        status = REUSED if value.origin == REUSED else "kept_low" if value.kept_low else value.status
        note = "from stored landmarks" if value.origin == RECOMPUTED else ""
        self.progress.finished(value.video_file, status, value.frames_decoded, value.seconds,
                               "; ".join(s for s in (value.error, note) if s))
        # Emitted outside its own element's process call: it carries that element's window and timestamp.
        yield WindowedValue(value, timestamp, (window,)) if isinstance(window, BoundedWindow) else value

    # --- the work (on pool threads, or inline) ----------------------------------------------------

    def _look_up(self, item: ToLookUp) -> _Done:
        started = time.monotonic()
        record = records.read(record_path(self.output_dir, item.row.feature_stem))
        decided = decide(item.row, item.source, record, item.outputs, self.made_by, self.reprocess_all)
        if isinstance(decided, ClipResult):
            decided = dataclasses.replace(decided, seconds=time.monotonic() - started)
        return _Done(decided, item)

    def _recompute(self, item: ToRecompute) -> _Done:
        """Features from the stored .pose when it is exactly the file the record vouches for; else decode.

        Missing, truncated, rewritten by hand or by another run: never trusted.
        """
        started = time.monotonic()
        landmarks = item.landmarks
        data = storage.read_if_present(landmark_path(self.output_dir, item.row.feature_stem))
        if data is None or len(data) != landmarks.get("size") or pose_file.digest(data) != landmarks["sha256"]:
            return _Done(ToDecode(item.row, item.source, CHANGED, item.outputs), item)
        return _Done(self._features(item, data, landmarks, RECOMPUTED, item.outputs, started), item)

    def _decode(self, item: ToDecode) -> _Done:
        """Decode one video, publish its .pose, then its features."""
        started = time.monotonic()
        row = item.row
        extractor = self._borrow_extractor()
        try:
            with storage.local_copy(storage.join(self.video_dir, row.video_file)) as local_path:
                pose = extractor.extract(local_path)
        except FileNotFoundError:  # gone since the launcher listed it
            return _Done(ClipResult(row, MISSING, FILE_NOT_FOUND, outputs=item.outputs,
                                    seconds=time.monotonic() - started), item)
        except VideoDecodeError as exc:
            # Deterministic for this file and these options: recorded, so no later run decodes it again.
            failed = ClipResult(row, FAILED, str(exc), origin=item.origin, outputs=item.outputs,
                                seconds=time.monotonic() - started)
            published = publish(failed, None, item.source, {"fingerprint": self.fingerprint, "sha256": None},
                                self.output_dir, self.feature_options)
            return _Done(published, item)
        except ExtractorProcessDied as exc:  # that video's process, not this run: not recorded, retried next run
            return _Done(ClipResult(row, FAILED, str(exc), origin=item.origin, retryable=True, outputs=item.outputs,
                                    seconds=time.monotonic() - started), item)
        except Exception as exc:  # a reason in the report beats a dead bundle
            logging.getLogger(__name__).exception("Unexpected error on %s", row.video_file)
            return _Done(ClipResult(row, FAILED, f"Could not read or decode the video: {type(exc).__name__}: {exc}",
                                    origin=item.origin, retryable=True, outputs=item.outputs,
                                    seconds=time.monotonic() - started), item)
        finally:
            self._idle.put(extractor)
        written = storage.write_bytes(landmark_path(self.output_dir, row.feature_stem), pose, unless=item.outputs.pose)
        decoded = time.monotonic() - started
        landmarks = {"fingerprint": self.fingerprint, "sha256": pose_file.digest(pose), "size": len(pose)}
        result = self._features(item, pose, landmarks, item.origin, item.outputs._replace(pose=written), started)
        return _Done(result, item, decoded, result.frames_decoded)

    def _features(self, item, pose: bytes, landmarks: dict, origin: str, outputs, started: float) -> ClipResult:
        try:
            fields, features = judge(pose, self.feature_options, origin=origin, outputs=outputs)
        except pose_file.LandmarkFileError as exc:  # checked before; a reason beats a dead bundle
            return ClipResult(item.row, FAILED, f"Stored landmarks unreadable: {exc}", origin=origin, retryable=True,
                              outputs=outputs, seconds=time.monotonic() - started)
        if "frames" not in landmarks:  # the record keeps how many frames the file holds
            landmarks = {**landmarks, "frames": fields["measures"].frames_decoded}
        result = ClipResult(item.row, seconds=time.monotonic() - started, **fields)
        return publish(result, features, item.source, landmarks, self.output_dir, self.feature_options)

    def _borrow_extractor(self) -> Extractor:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            extractor = (ExtractorProcess if self.threads > 1 else HolisticExtractor)(**self.landmark_options)
            with self._built_lock:
                self._built.append(extractor)
            return extractor
