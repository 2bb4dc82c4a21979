"""The global statistics' moments: one CombineFn over what each clip does to the stored total.

The record index keeps the exact sum of its saved clips' moments (ExactMoments,
transforms/common/moments.py), so a re-run starts from it and only adds and takes
out what changed: a run with nothing new sums nothing, and a run with ten new
clips sums ten. The video step says, per clip (plan.Change, transforms/store/plan.py):

  ADD       a saved clip whose moments this run computed or read: summed in
  KEPT      a saved clip reused as recorded: already in the total
  TAKE_OUT  a clip in the total that is no longer saved as it was: its recorded moments come out
  STALE     a clip in the total whose record changed since the index was written

The stored total is the basis when it exists, its fingerprint is this run's feature
fingerprint and no clip in it is STALE; otherwise the total is summed again from
scratch (a first run, an option change, a killed run, a damaged index): every saved
clip's moments, KEPT clips' read from their records (in parallel, once).

Exact sums make the result the same bits whatever the runner's bundles and merge
order, which MomentsTotal (the CombineFn) relies on; its accumulator is one
ExactMoments, O(feature columns), whatever the number of clips.
"""
from __future__ import annotations

import concurrent.futures
from typing import List, NamedTuple, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from transforms.common.moments import ExactMoments
from transforms.common.progress import NAMESPACE
from transforms.store import plan, records
from transforms.store.paths import record_path
from transforms.store.record_index import Total

READ_THREADS = 16


class Basis(NamedTuple):
    """Where this run's total starts: the stored total, or nothing (summed again from every saved clip)."""

    start: Optional[ExactMoments]

    @property
    def from_scratch(self) -> bool:
        return self.start is None


def basis(total: Optional[Total], stale: int, problems: int, fingerprint: Optional[str]) -> Basis:
    """The stored total when it holds this run's kind of features and every clip in it is as it was
    (fingerprint None: never, the total is summed from scratch)."""
    usable = total is not None and not problems and total.fingerprint == fingerprint and stale == 0
    return Basis(total.moments if usable else None)


class MomentsTotal(beam.CombineFn):
    """Signed ExactMoments in; their exact sum out (None when nothing was added)."""

    def create_accumulator(self):
        return None

    def add_input(self, accumulator, moments):
        return moments if accumulator is None else accumulator.plus(moments)

    def merge_accumulators(self, accumulators):
        found = None
        for accumulator in accumulators:
            if accumulator is not None:
                found = accumulator if found is None else found.plus(accumulator)
        return found

    def extract_output(self, accumulator):
        return accumulator


class SavedMoments(beam.PTransform):
    """(total changes, the stored total, the index's problems) → the exact total of this run's saved clips:
    one element, or none without any saved clip (read it with AsSingleton(default_value=None))."""

    def __init__(self, output_dir: str, fingerprint: str, from_scratch: bool = False):
        """from_scratch: do not start from the stored total (--reprocess=all rewrites every record)."""
        super().__init__()
        self.output_dir, self.fingerprint, self.from_scratch = output_dir, fingerprint, from_scratch

    def expand(self, inputs):
        changes, stored, problems = inputs
        pipeline = changes.pipeline
        # Stale clips are few (none but after a killed run or a hand-edited record): a list, not a count.
        stale = changes | "Stale clips" >> beam.Filter(lambda change: change.kind == plan.STALE)
        # A damaged index has no total: `stored` is then empty, and `problems` (at most one) says why.
        start = (pipeline
                 | "Start" >> beam.Impulse()
                 | "Where to start" >> beam.Map(
                     lambda _, total, stale, problems, fingerprint: basis(total, len(stale), len(problems),
                                                                          fingerprint),
                     beam.pvalue.AsSingleton(stored, default_value=None), beam.pvalue.AsList(stale),
                     beam.pvalue.AsList(problems), None if self.from_scratch else self.fingerprint))
        signed = changes | "Signed moments" >> beam.ParDo(_Signed(self.output_dir), beam.pvalue.AsSingleton(start))
        starting = start | "The stored total" >> beam.FlatMap(lambda b: [] if b.from_scratch else [b.start])
        return ((signed, starting)
                | "Every part" >> beam.Flatten()
                # No element when nothing was summed: its readers take it with AsSingleton(default_value=None)
                # (one stage fewer than a combine's default).
                | "Sum exactly" >> beam.CombineGlobally(MomentsTotal()).without_defaults())


class _Signed(beam.DoFn):
    """TotalChanges → the sum of each bundle's ExactMoments to add (negated to take out), reading the records
    of the clips whose moments are not in hand, READ_THREADS at a time. One sum a bundle, so the runner
    never holds a stream of per-clip moments (each is O(feature columns))."""

    BATCH = 256   # records read at once

    def __init__(self, output_dir: str):
        self.output_dir = output_dir
        self.read = Metrics.counter(NAMESPACE, "moments_read_from_records")

    def start_bundle(self):
        self.found: Optional[ExactMoments] = None
        self.wanted: List = []   # (sign, stem) whose record must be read

    def process(self, change, start: Basis):
        if change.kind == plan.ADD:
            self._add(ExactMoments.of(change.moments))
        elif change.kind == plan.KEPT and start.from_scratch:
            self.wanted.append((1, change.stem))
        elif change.kind == plan.TAKE_OUT and not start.from_scratch:
            if change.moments is not None:
                self._add(ExactMoments.of(change.moments).negated())
            else:
                self.wanted.append((-1, change.stem))
        if len(self.wanted) >= self.BATCH:
            self._read_wanted()

    def finish_bundle(self):
        self._read_wanted()
        if self.found is not None:
            yield GlobalWindows.windowed_value(self.found)

    def _add(self, moments: ExactMoments) -> None:
        self.found = moments if self.found is None else self.found.plus(moments)

    def _read_wanted(self) -> None:
        wanted, self.wanted = self.wanted, []
        if not wanted:
            return
        with concurrent.futures.ThreadPoolExecutor(min(READ_THREADS, len(wanted))) as pool:
            found = pool.map(lambda item: records.read(record_path(self.output_dir, item[1])), wanted)
            for (sign, stem), record in zip(wanted, found):
                self.read.inc()
                if record is None or record.get("moments") is None:
                    raise RuntimeError(f"No moments for the saved clip {stem}: its record "
                                       f"{record_path(self.output_dir, stem)} is gone or holds none. Run again "
                                       f"with --reprocess=all.")
                moments = ExactMoments.of(records.moments_from_json(record["moments"]))
                self._add(moments if sign > 0 else moments.negated())
