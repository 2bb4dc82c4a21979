"""The reports step of the job: each report written from its own stream of the video step.

  success        → processed_metadata.csv (and the seq_lengths, motion_means of global_stats.npz)
  low_quality    → low_quality_videos.csv, with the saved clips kept despite a gate (kept=True)
  failed         → failed_videos.csv
  missing        → missing_videos.csv
  orphans        → orphaned_outputs.csv, with the outputs of missing and transiently failed videos
  the exact total of the saved clips' moments (statistics.SavedMoments) → global_stats.npz
  every recorded result → the record index (with that total), rewritten only when it changed
  every result   → the run's tally (RunTally, kept per bundle and merged by MergedTallyFn, a
                   CombineFn): the run summary's counts, the report page's picks and numbers, and
                   a digest of the index entries the results would write

A report is one sorted file, so its rows meet in one place: every report's rows go through
one GroupByKey keyed by the file they go to (a key's group is one file; the keys are written
in parallel). What meets there is small and plain (a row's sort key and its CSV line; a
saved clip's two numbers; a record without moments, only when the index must be rewritten),
never a clip's array or moments, and plain tuples are what Beam encodes fastest. The saved
clips' results go on to the release, which needs them, with the record fields it reads. The
tally is kept per bundle where each result is made (so the runner never holds a stream of
them), then merged. Few transforms on purpose: each costs a small run its fixed share
(bench/fixed_cost.py). The step's output is one RunOutputs (transforms/reports/run_reports.py
defines every column and file; this module only routes the streams to them).
"""
from __future__ import annotations

import dataclasses
import json
from typing import Dict, List, Optional, Sequence

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from transforms.common import storage
from transforms.common.moments import ExactMoments
from transforms.release.inputs import release_facts
from transforms.reports.report_data import PageTally, report_clips
from transforms.reports.run_reports import (FAILED_CSV, LOW_QUALITY_COLUMNS, LOW_QUALITY_CSV, MISSING_CSV,
                                            PROBLEM_COLUMNS, PROCESSED_CSV, SCHEMA_JSON, STATS_NPZ, RunContext,
                                            RunOutputs, csv_text, feature_schema, header_line, processed_columns,
                                            report_line, report_order, result_counts, stats_npz, summary)
from transforms.store import record_index
from transforms.store.orphans import ORPHAN_COLUMNS, ORPHANS_CSV, kept_outputs, prune
from transforms.store.paths import PROC_SUBDIR, proc_path
from transforms.store.record_index import Entry, Total
from transforms.store.results import FAILED, LOW_QUALITY, MISSING, SUCCESS, ClipResult

STATUSES = (SUCCESS, LOW_QUALITY, FAILED, MISSING)
CSV_OF = {SUCCESS: PROCESSED_CSV, LOW_QUALITY: LOW_QUALITY_CSV, FAILED: FAILED_CSV, MISSING: MISSING_CSV}
# The keys of the one gather besides the four CSVs: what each group becomes (_Write).
RECORDS, SAVED = "record index", "saved clips"
GATHERED = (PROCESSED_CSV, LOW_QUALITY_CSV, FAILED_CSV, MISSING_CSV, ORPHANS_CSV, STATS_NPZ, RECORDS, SAVED)
_TALLY, _ENTRY, _ORPHANS, _SAVED = "tally", "entry", "orphans", "saved"


class WriteReports(beam.PTransform):
    """(streams by tag, the exact total (one element, or none), the index as read: its digest, total, problems)
    → one RunOutputs."""

    def __init__(self, context: RunContext, fingerprint: str, samples: int, max_previews: int):
        super().__init__()
        self.context, self.fingerprint = context, fingerprint
        self.samples, self.max_previews = samples, max_previews  # the page's previews (report_data.picks)

    def expand(self, inputs):
        streams, total, index_digest, index_total, index_problems = inputs
        ctx = self.context
        out = ctx.output_dir
        pipeline = total.pipeline
        total = beam.pvalue.AsSingleton(total, default_value=None)  # none: no saved clip
        proc = beam.pvalue.AsSingleton(pipeline
                                       | "Start" >> beam.Impulse()
                                       | "List proc/" >> beam.Map(lambda _, out: storage.list_objects(
                                           storage.join(out, PROC_SUBDIR)), out))
        # Each stream goes through one step that takes from each result what the reports need (so the
        # runner keeps one copy of it): its rows for the gather (main), its tally, its index entry.
        columns = {SUCCESS: processed_columns(ctx.feature_options) + tuple(ctx.extra_columns),
                   LOW_QUALITY: LOW_QUALITY_COLUMNS, FAILED: PROBLEM_COLUMNS, MISSING: PROBLEM_COLUMNS}
        fields = {status: streams[status] | f"From each {status} result" >> beam.ParDo(
            _Fields(status, columns, out, self.samples, self.max_previews)).with_outputs(_TALLY, _ENTRY, main="rows")
            for status in STATUSES}
        # Each _Fields tallies its bundle's results itself (a combiner's lifting, by hand: one transform,
        # not a combine per stream); the bundles' tallies are merged here.
        merge = MergedTallyFn(self.samples, self.max_previews)
        # A run of no result at all has no bundle to tally: the side input's default is the empty tally (the
        # combine's own default would cost three more steps and two stages in every run).
        tally = beam.pvalue.AsSingleton(
            [fields[status][_TALLY] for status in STATUSES]
            | "Every bundle's tally" >> beam.Flatten()
            | "Tally the run" >> beam.CombineGlobally(merge).without_defaults(),
            default_value=merge.extract_output(merge.create_accumulator()))
        entries = [fields[status][_ENTRY] for status in STATUSES] | "Every index entry" >> beam.Flatten()
        stale = (pipeline
                 | "Start the index check" >> beam.Impulse()
                 | "Is the index stale" >> beam.Map(
                     _index_is_stale, total, tally,
                     beam.pvalue.AsSingleton(index_digest),
                     beam.pvalue.AsSingleton(index_total, default_value=None), beam.pvalue.AsList(index_problems),
                     self.fingerprint))
        # The records meet only when the index is rewritten (a run with nothing new gathers none).
        records = entries | "Records, if the index is stale" >> beam.FlatMap(
            lambda e, stale: [(RECORDS, e)] if stale else [], beam.pvalue.AsSingleton(stale))
        orphans = streams["orphans"] | "Orphans by file" >> beam.Map(lambda o: (ORPHANS_CSV, o))
        # Every group exists even with no row (an element of the job's own marks it), so a report of no row
        # is written with its header alone.
        marks = (pipeline
                 | "Start the gather" >> beam.Impulse()
                 | "Every group's mark" >> beam.FlatMap(lambda _: [(key, None) for key in GATHERED]))
        written = ([fields[status].rows for status in STATUSES] + [records, orphans, marks]
                   | "Every report's rows" >> beam.Flatten()
                   | "By file" >> beam.GroupByKey()
                   | "Write each file" >> beam.ParDo(
                       _Write(ctx, columns, self.fingerprint), proc, total,
                       beam.pvalue.AsSingleton(stale)).with_outputs(_ORPHANS, _SAVED, main="written"))
        return (written[_SAVED]
                | "Run outputs" >> beam.Map(
                    _run_outputs, ctx, proc, tally, beam.pvalue.AsSingleton(written[_ORPHANS]), total,
                    beam.pvalue.AsList(written.written)))


class _Fields(beam.DoFn):
    """A result of one status → (file, row) for every file it is a row of (main), its index entry; and per
    bundle, the RunTally of its results (tag _TALLY)."""

    def __init__(self, status: str, columns: Dict[str, Sequence[str]], output_dir: str, samples: int,
                 max_previews: int):
        self.status, self.columns, self.output_dir = status, columns, output_dir
        self.samples, self.max_previews = samples, max_previews

    def start_bundle(self):
        self.tally = RunTally(self.samples, self.max_previews)

    def finish_bundle(self):
        yield beam.pvalue.TaggedOutput(_TALLY, GlobalWindows.windowed_value(self.tally))

    def process(self, r: ClipResult):
        order = report_order(r)
        yield CSV_OF[self.status], (order, report_line(self.columns[self.status], r, self.output_dir))
        if r.status == SUCCESS:
            if r.kept_low:  # a clip kept with keep_low_quality is saved and also listed with its reason
                yield LOW_QUALITY_CSV, (order, report_line(self.columns[LOW_QUALITY], r, self.output_dir))
            yield STATS_NPZ, (order, r.measures.num_frames, r.measures.motion_mean)
            # To the release: what it reads of the clip, nothing of the store's bookkeeping.
            yield SAVED, dataclasses.replace(r, record=release_facts(r.record), record_object=None, moments=None)
        for orphan in kept_outputs(self.output_dir, r):
            yield ORPHANS_CSV, orphan
        entry = None
        if r.record_object is not None and r.feature_stem:
            entry = (r.feature_stem, r.record_object.size, r.record_object.version)
            yield beam.pvalue.TaggedOutput(_ENTRY, entry + (r.record,))
        clips = [((order, i), clip) for i, clip in enumerate(report_clips([r], self.output_dir))]
        self.tally.add((clips, result_counts(r), record_index.entry_hash(*entry) if entry else 0))


class _Write(beam.DoFn):
    """(file, its rows) → the file written; the orphans and the saved clips also on their tags."""

    def __init__(self, ctx: RunContext, columns: Dict[str, Sequence[str]], fingerprint: str):
        self.ctx, self.fingerprint = ctx, fingerprint
        self.columns = {CSV_OF[status]: tuple(c) for status, c in columns.items()}

    def process(self, group, proc: Dict, total: Optional[ExactMoments], stale: bool):
        key, values = group
        rows = [value for value in values if value is not None]  # without the mark
        out = self.ctx.output_dir
        if key in self.columns:
            text = header_line(self.columns[key]) + "".join(line for _, line in sorted(rows))
            storage.write_text(proc_path(out, key), text, unless=proc.get(key))
        elif key == ORPHANS_CSV:
            yield beam.pvalue.TaggedOutput(_ORPHANS, _write_orphans(rows, self.ctx, proc))
        elif key == STATS_NPZ:
            _write_stats(sorted(rows), total, self.ctx, proc)
        elif key == RECORDS:
            _write_index(rows, stale, total, out, self.fingerprint)
        elif key == SAVED:
            yield beam.pvalue.TaggedOutput(_SAVED, sorted(rows, key=report_order))
        yield key


def _write_orphans(found: List[dict], ctx: RunContext, proc: Dict) -> List[dict]:
    found = sorted(found, key=lambda o: (o["video"], o["kind"]))
    if ctx.prune_orphans:
        prune(found)
    storage.write_text(proc_path(ctx.output_dir, ORPHANS_CSV), csv_text(ORPHAN_COLUMNS, found),
                       unless=proc.get(ORPHANS_CSV))
    return found


def _write_stats(saved: List, total: Optional[ExactMoments], ctx: RunContext, proc: Dict) -> bool:
    moments = total.rounded() if total is not None else None
    storage.write_bytes(proc_path(ctx.output_dir, STATS_NPZ),
                        stats_npz(moments, [(frames, motion) for _, frames, motion in saved], ctx.feature_options),
                        unless=proc.get(STATS_NPZ))
    return True


class RunTally:
    """What every result adds up to: the run summary's counts, the report page's tally
    (report_data.PageTally) and the digest of the index entries the results would write."""

    def __init__(self, samples: int, max_previews: int):
        self.counts: Dict[str, int] = {}
        self.page = PageTally(samples, max_previews)
        self.digest = 0

    def add(self, item) -> "RunTally":
        clips, counts, digest = item
        for position, clip in clips:
            self.page.add(clip, position)
        self._count(counts)
        self.digest = (self.digest + digest) % (1 << 256)
        return self

    def merge(self, other: "RunTally") -> "RunTally":
        self.page.merge(other.page)
        self._count(other.counts)
        self.digest = (self.digest + other.digest) % (1 << 256)
        return self

    def _count(self, more: Dict[str, int]) -> None:
        for key, n in more.items():
            self.counts[key] = self.counts.get(key, 0) + n


class RunTallyFn(beam.CombineFn):
    """_Fields' tally items (one per result) → their RunTally. Every part of it adds up in any order, so
    bundles and merges may come as the runner likes (tests/test_page_tally.py)."""

    def __init__(self, samples: int, max_previews: int):
        self.samples, self.max_previews = samples, max_previews

    def create_accumulator(self):
        return RunTally(self.samples, self.max_previews)

    def add_input(self, tally, item):
        return tally.add(item)

    def merge_accumulators(self, tallies):
        tallies = iter(tallies)
        merged = next(tallies, None) or self.create_accumulator()
        for tally in tallies:
            merged.merge(tally)
        return merged

    def extract_output(self, tally):
        return tally


class MergedTallyFn(RunTallyFn):
    """The streams' RunTallies → the run's."""

    def add_input(self, tally, more):
        return tally.merge(more)


def _index_is_stale(_, total: Optional[ExactMoments], tally: RunTally, read_digest: int, stored: Optional[Total],
                    problems: List[str], fingerprint: str) -> bool:
    """False when the index holds exactly these entries and this total already (a run with nothing new
    writes nothing)."""
    new_total = Total(fingerprint, total) if total is not None else None
    return bool(problems) or tally.digest != read_digest or stored != new_total


def _write_index(entries: List, stale: bool, total: Optional[ExactMoments], output_dir: str,
                 fingerprint: str) -> bool:
    """True when written."""
    if not stale:
        return False
    record_index.write(output_dir, {stem: Entry(size, version, record) for stem, size, version, record in entries},
                       Total(fingerprint, total) if total is not None else None)
    return True


def _run_outputs(saved: List[ClipResult], ctx: RunContext, proc: Dict, tally: RunTally, orphans: List[dict],
                 total: Optional[ExactMoments], _written) -> RunOutputs:
    options = ctx.feature_options
    schema = json.dumps(feature_schema(options), indent=1, allow_nan=False) + "\n"  # strict JSON: no NaN
    storage.write_text(proc_path(ctx.output_dir, SCHEMA_JSON), schema, unless=proc.get(SCHEMA_JSON))
    moments = total.rounded() if total is not None else None
    return RunOutputs(ctx.output_dir, saved, list(ctx.extra_columns), dict(options),
                      summary(tally.counts, moments, ctx.config, options, ctx.started_at, orphans), orphans,
                      tally.page.picks(), proc_listing=dict(proc))
