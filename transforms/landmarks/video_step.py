"""The video step: each clip's stem in, its final result out, on one of four tagged streams.

  VideoStep          the composite the job runs (pipeline/graph.py names its streams):
    Decide           per stem, what the job found (its rows, published outputs and index entry)
                     → a result at once (reused, missing, a duplicate row), or work
                     (transforms/store/plan.py); rows refused where they were read become results here too
    Old moments      work that will rewrite a record whose moments are in the statistics' stored
                     total reads them first, so the total can give them back exactly
    ProcessVideos    the work: the only step that runs MediaPipe
  Every result leaves on its status's tag (SUCCESS, LOW_QUALITY, FAILED, MISSING); beside them
  ORPHANS (outputs no result vouches for) and TOTAL_CHANGES (what each clip does to the stored total:
  transforms/reports/statistics.py).

ProcessVideos, per work item (transforms/store/results.py):

  * `ToLookUp`: the row's record is read first (the index lacked it), then the
    rule of transforms/store/reuse.py decides: reused as recorded, or one of the two below;
  * `ToDecode`: Holistic over every frame (transforms/landmarks/holistic.py), the .pose
    published atomically, then features and verdict from those bytes;
  * `ToRecompute`: the stored .pose is read and must be exactly the file its record
    vouches for (size and sha256), else the video is decoded after all;
  * `ToVerify`: a file the record vouches for is listed with another identity than the
    record keeps: hashed; the same bytes refresh the record, other bytes are healed
    (features recomputed from the .pose, or the video decoded again), and the result
    names the file and why (ClipResult.healed, the progress line, a warning).

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
import hashlib
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
from transforms.common.storage import ObjectInfo
from transforms.common.progress import NAMESPACE, Progress, ensure_log_handler
from transforms.features import registry
from transforms.landmarks import pose_file
from transforms.landmarks.extractor_process import ExtractorProcess, ExtractorProcessDied
from transforms.landmarks.holistic import HolisticExtractor, VideoDecodeError, check_model_available
from transforms.store import plan, records
from transforms.store.paths import feature_path, landmark_path, record_path
from transforms.store.publish import publish
from transforms.store.record_index import Entry
from transforms.store.results import (CHANGED, FAILED, FILE_NOT_FOUND, LOW_QUALITY, MISSING, RECOMPUTED, REUSED,
                                      SUCCESS, ClipResult, Located, ToDecode, ToLookUp, ToRecompute, ToVerify)
from transforms.store.rows import NearMisses, find_videos, unpack
from transforms.store.reuse import Fingerprints, decide

LOG = logging.getLogger("ghsl")
READ_THREADS = 16
Work = plan.Work
Extractor = Union[HolisticExtractor, ExtractorProcess]

# The step's tagged outputs: a result on its status's, and beside them
ORPHANS = "orphans"              # dict rows of proc/orphaned_outputs.csv (transforms/store/orphans.py)
TOTAL_CHANGES = "total_changes"  # what each clip does to the stored total (transforms/reports/statistics.py)
_WORK, _OLD_FIRST, _UNFOUND = "work", "old_moments_first", "unfound"


class VideoStep(beam.PTransform):
    """(the per-clip join, rows refused where they were read, the index's stored total, the video listing)
    → tagged streams.

    A group of the join holds everything of one Unicode form of a feature stem (rows.nfc): {"rows":
    per-video rows still to be found among "files" (name, ObjectInfo fields), "paired": a sentence
    table's rows with their file, "outputs": (stem, kind, ObjectInfo fields), "entries": (stem, size,
    version, record)}, every value a plain tuple. The total (a side input) tells which clips it holds;
    the listing names the near misses of rows whose video is not there.
    """

    def __init__(self, video_dir: str, output_dir: str, landmark_options: dict, feature_options: dict,
                 made_by: Fingerprints, *, reprocess_all: bool = False, run_id: str = "", threads: int = 1,
                 log_each: bool = False):
        super().__init__()
        self.output_dir, self.made_by, self.reprocess_all, self.run_id = output_dir, made_by, reprocess_all, run_id
        self.log_each = log_each
        self.process_videos = ProcessVideos(video_dir, output_dir, landmark_options, feature_options, made_by,
                                            reprocess_all=reprocess_all, run_id=run_id, threads=threads,
                                            log_each=log_each)

    def expand(self, inputs):
        clips, refused, total, listing, count = inputs
        statuses = (SUCCESS, LOW_QUALITY, FAILED, MISSING)
        # With no file listed there is nothing a person could have meant: a missing row is settled as it is.
        files = beam.pvalue.AsSingleton(count)
        decided = ((clips, refused)
                   | "Clips and refused rows" >> beam.Flatten()
                   | "Decide" >> beam.ParDo(Decide(self.output_dir, self.made_by, self.reprocess_all, self.run_id,
                                                   self.log_each),
                                            beam.pvalue.AsSingleton(total, default_value=None), files).with_outputs(
                       *statuses, _UNFOUND, ORPHANS, TOTAL_CHANGES, _OLD_FIRST, main=_WORK))
        unfound = (decided[_UNFOUND], listing) | "Name the near misses" >> NearMisses()

        read_first = decided[_OLD_FIRST] | "Old moments" >> beam.ParDo(OldMoments(self.output_dir)).with_outputs(
            TOTAL_CHANGES, main=_WORK)
        done = ((decided[_WORK], read_first[_WORK])
                | "Every work item" >> beam.Flatten()
                # The items leave the join grouped by key; spread them so that every worker decodes.
                | "Spread videos" >> beam.Reshuffle()
                | "Landmarks, features, records" >> beam.ParDo(self.process_videos).with_outputs(
                    *statuses, TOTAL_CHANGES))
        streams = {status: (decided[status], done[status]) | f"All {status}" >> beam.Flatten()
                   for status in (SUCCESS, LOW_QUALITY, FAILED)}
        streams[MISSING] = (decided[MISSING], unfound, done[MISSING]) | f"All {MISSING}" >> beam.Flatten()
        streams[ORPHANS] = decided[ORPHANS]
        streams[TOTAL_CHANGES] = ((decided[TOTAL_CHANGES], read_first[TOTAL_CHANGES], done[TOTAL_CHANGES])
                                  | "Every change to the total" >> beam.Flatten())
        return streams


class Decide(beam.DoFn):
    """One group of the per-clip join (or a refused row) in; results, work, orphans and total changes out:
    each stem's rows are matched with its files (rows.find_videos), then plan.settle decides per stem."""

    def __init__(self, output_dir: str, made_by: Fingerprints, reprocess_all: bool, run_id: str, log_each: bool):
        self.output_dir, self.made_by, self.reprocess_all = output_dir, made_by, reprocess_all
        self.run_id, self.log_each = run_id, log_each
        self.reused = Metrics.counter(NAMESPACE, "videos_reused")

    def setup(self):
        ensure_log_handler()

    def start_bundle(self):
        self.progress = Progress.of(self.run_id, self.log_each)

    def finish_bundle(self):
        self.progress.flush()

    def process(self, element, total, files: int):
        if isinstance(element, tuple) and len(element) == 2 and isinstance(element[1], dict):
            for stem, located, outputs, entry in _by_stem(element[1]):
                yield from self._settle(stem, located, outputs, entry, total, files)
            return
        yield from self._emit([plan.unjudged(element)])

    def _settle(self, stem, located, outputs, entry, total, files: int):
        decided = plan.settle(stem, located, plan.outputs_of(outputs), entry, self.made_by, self.output_dir,
                              total.fingerprint if total is not None else None, self.reprocess_all)
        yield from self._emit(decided.results, unfound=bool(files) and bool(located) and located[0].video is None
                              and not located[0].row.missing)
        for orphan in decided.orphans:
            yield beam.pvalue.TaggedOutput(ORPHANS, orphan)
        for change in decided.changes:
            yield beam.pvalue.TaggedOutput(TOTAL_CHANGES, change)
        if decided.work is not None:
            self.progress.planned()
            yield beam.pvalue.TaggedOutput(_OLD_FIRST, decided.work) if decided.old_moments else decided.work

    def _emit(self, results, unfound: bool = False):
        for result in results:
            if result.origin == REUSED:
                self.reused.inc()
                self.progress.reused()
            elif result.status == MISSING:
                self.progress.finished(result.video_file, MISSING, 0, 0.0, result.error, work=False)
            # A claimed row whose file is not listed gets the names of its near misses first.
            tag = _UNFOUND if unfound and result.status == MISSING and not result.row.error else result.status
            yield beam.pvalue.TaggedOutput(tag, result)


def _by_stem(found: dict):
    """(stem, its Located rows, its outputs, its index entry) for every stem of one group of the join."""
    # A per-video file's join has "rows" and "files", a sentence table's "paired" (pipeline/graph.py).
    files = {name: ObjectInfo(*info) for name, info in found.get("files", ())}
    located = find_videos([unpack(row) for row in found.get("rows", ())], files)
    located += [Located(unpack(row), ObjectInfo(*info) if info else None) for row, info in found.get("paired", ())]
    rows: dict = {}
    for one in located:
        rows.setdefault(one.row.feature_stem, []).append(one)
    outputs: dict = {}
    for stem, kind, info in found["outputs"]:
        outputs.setdefault(stem, []).append((kind, ObjectInfo(*info)))
    entries = {stem: Entry(size, version, record) for stem, size, version, record in found["entries"]}
    for stem in sorted(set(rows) | set(outputs) | set(entries)):
        yield stem, rows.get(stem, []), outputs.get(stem, []), entries.get(stem)


class OldMoments(beam.DoFn):
    """Work that will rewrite the record of a clip whose moments are in the stored total: those moments are
    read from the record first (a TAKE_OUT change), then the work goes on. Rare: a video replaced under the
    same name, landmarks that failed their check, a record the index held but that was damaged."""

    def __init__(self, output_dir: str):
        self.output_dir = output_dir

    def process(self, item: Work):
        stem = item.row.feature_stem
        record = records.read(record_path(self.output_dir, stem))
        if record and record.get("moments"):
            change = plan.Change(plan.TAKE_OUT, stem, records.moments_from_json(record["moments"]))
        else:  # unreadable: what it added to the total cannot be taken out, so the total is summed again
            change = plan.Change(plan.STALE, stem)
        yield beam.pvalue.TaggedOutput(TOTAL_CHANGES, change)
        yield item


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


def judge(points, feature_options: dict, **values) -> tuple:
    """(ClipResult fields, features or None) from a clip's landmarks (pose_file.read_points) with the run's
    feature options."""
    verdict = registry.of(feature_options).judge(points, feature_options)
    return dict(status=verdict.status, error=verdict.reason, measures=verdict.measures, **values), verdict.features


class ProcessVideos(beam.DoFn):
    """Work items in (ToLookUp, ToDecode, ToRecompute); one ClipResult per item out, on its status's tag,
    and an ADD total change for each saved clip whose moments it computed or read."""

    def __init__(self, video_dir: str, output_dir: str, landmark_options: dict, feature_options: dict,
                 made_by: Fingerprints, *, reprocess_all: bool = False, run_id: str = "", threads: int = 1,
                 log_each: bool = False):
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
        self.log_each = log_each
        self.threads = threads
        self.counters = {name: Metrics.counter(NAMESPACE, name) for name in (
            "videos_success", "videos_low_quality", "videos_failed", "videos_missing", "videos_decoded",
            "videos_recomputed", "videos_reused", "frames_decoded", "records_read", "landmark_files_untrusted",
            "files_healed")}
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
        self.progress = Progress.of(self.run_id, self.log_each)
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
        self.progress.flush()

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
        work = {ToDecode: self._decode, ToRecompute: self._recompute, ToLookUp: self._look_up,
                ToVerify: self._verify}[type(item)]
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
        if value.healed:
            self.counters["files_healed"].inc()
            LOG.warning("Healed %s: %s", value.video_file, value.healed)
            note = "; ".join(s for s in (note, f"healed: {value.healed}") if s)
        self.progress.finished(value.video_file, status, value.frames_decoded, value.seconds,
                               "; ".join(s for s in (value.error, note) if s))
        # Emitted outside its own element's process call: it carries that element's window and timestamp.
        def out(tag, item):
            placed = WindowedValue(item, timestamp, (window,)) if isinstance(window, BoundedWindow) else item
            return beam.pvalue.TaggedOutput(tag, placed)

        if value.moments is not None:
            yield out(TOTAL_CHANGES, plan.Change(plan.ADD, value.feature_stem, value.moments))
        # The moments travel only to the total; the reports gather results without them.
        yield out(value.status, value.without_moments())

    # --- the work (on pool threads, or inline) ----------------------------------------------------

    def _look_up(self, item: ToLookUp) -> _Done:
        started = time.monotonic()
        record = records.read(record_path(self.output_dir, item.row.feature_stem))
        decided = decide(item.row, item.source, record, item.outputs, self.made_by, self.reprocess_all,
                         self.output_dir)
        if isinstance(decided, ClipResult):
            decided = dataclasses.replace(decided, seconds=time.monotonic() - started)
        return _Done(decided, item)

    def _recompute(self, item: ToRecompute) -> _Done:
        """Features from the stored .pose when it is exactly the file the record vouches for; else decode.

        Missing, truncated, rewritten by hand or by another run: never trusted.
        """
        started = time.monotonic()
        landmarks = item.landmarks
        path = landmark_path(self.output_dir, item.row.feature_stem)
        data = storage.read_if_present(path)
        if data is None or len(data) != landmarks.get("size") or pose_file.digest(data) != landmarks["sha256"]:
            return _Done(ToDecode(item.row, item.source, CHANGED, item.outputs, healed=item.healed or (
                f"{path} is not the landmark file its record vouches for: decoded the video again")), item)
        return _Done(self._features(item, data, landmarks, RECOMPUTED, item.outputs, started,
                                    compare_stored=item.upgrade), item)

    def _verify(self, item: ToVerify) -> _Done:
        """Hash the files whose listed identity changed (reuse.decide); the same bytes: reused, and the record
        rewritten to name them as listed now, so the next run trusts the listing again."""
        started = time.monotonic()
        stem, record = item.row.feature_stem, item.record
        landmarks = record["landmarks"]
        if not item.pose_listed_as_recorded:
            path = landmark_path(self.output_dir, stem)
            data = storage.read_if_present(path)
            if data is None or len(data) != landmarks.get("size") or pose_file.digest(data) != landmarks["sha256"]:
                return _Done(ToDecode(item.row, item.source, CHANGED, item.outputs, healed=(
                    f"{path} is not the landmark file its record vouches for (sha256 differs): decoded the "
                    f"video again")), item)
        if not item.npy_listed_as_recorded:
            path = feature_path(self.output_dir, stem)
            data = storage.read_if_present(path)
            if data is None or hashlib.sha256(data).hexdigest() != record["features"]["sha256"]:
                return _Done(ToRecompute(item.row, item.source, landmarks, item.outputs, healed=(
                    f"{path} is not the array its record vouches for (sha256 differs): recomputed from the "
                    f"stored landmarks")), item)
        full = records.read(record_path(self.output_dir, stem))  # with its moments, for the statistics
        if full is None or not records.is_current_format(full):
            return _Done(ToRecompute(item.row, item.source, landmarks, item.outputs), item)
        fresh = records.refreshed(full, item.outputs)
        written = storage.write_text(record_path(self.output_dir, stem), records.to_json(fresh),
                                     unless=item.outputs.record)
        result = records.result_from(fresh, item.row, item.outputs._replace(record=written))
        return _Done(dataclasses.replace(result, seconds=time.monotonic() - started), item)

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
        result = self._features(item, pose, landmarks, item.origin, item.outputs._replace(pose=written), started,
                                compare_stored=bool(item.healed))
        return _Done(result, item, decoded, result.frames_decoded)

    def _features(self, item, pose: bytes, landmarks: dict, origin: str, outputs, started: float,
                  compare_stored: bool = False) -> ClipResult:
        try:
            points = pose_file.read_points(pose)
            fields, features = judge(points, self.feature_options, origin=origin, outputs=outputs, healed=item.healed)
            signature = records.signature_of(points)
        except pose_file.LandmarkFileError as exc:  # checked before; a reason beats a dead bundle
            return ClipResult(item.row, FAILED, f"Stored landmarks unreadable: {exc}", origin=origin, retryable=True,
                              outputs=outputs, seconds=time.monotonic() - started)
        if "frames" not in landmarks:  # the record keeps how many frames the file holds
            landmarks = {**landmarks, "frames": fields["measures"].frames_decoded}
        result = ClipResult(item.row, seconds=time.monotonic() - started, **fields)
        return publish(result, features, item.source, landmarks, self.output_dir, self.feature_options, signature,
                       compare_stored=compare_stored)

    def _borrow_extractor(self) -> Extractor:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            extractor = (ExtractorProcess if self.threads > 1 else HolisticExtractor)(**self.landmark_options)
            with self._built_lock:
                self._built.append(extractor)
            return extractor
