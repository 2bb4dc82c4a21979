"""The reports step of the job: each report written from its own stream of the video step.

  success        → processed_metadata.csv (and the seq_lengths, motion_means of global_stats.npz)
  low_quality    → low_quality_videos.csv, with the saved clips kept despite a gate (kept=True)
  failed         → failed_videos.csv
  missing        → missing_videos.csv
  orphans        → orphaned_outputs.csv, with the outputs of missing and transiently failed videos
  the exact total of the saved clips' moments (statistics.SavedMoments) → global_stats.npz
  every recorded result → the record index (with that total), rewritten only when it changed
  every result   → the run summary's counts and the report page's tally (two CombineFns)

A report is one sorted file, so its rows meet in one place; what meets there is small
and plain (a row's sort key and its CSV line; the page's few numbers per row; a record
without moments for the index), never a clip's array or moments, and plain tuples are
what Beam encodes fastest. The saved clips' results go on whole to the release, which
needs them. The step's output is one RunOutputs (transforms/reports/run_reports.py
defines every column and file; this module only routes the streams to them).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Dict, List, Optional, Sequence

import apache_beam as beam

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


class WriteReports(beam.PTransform):
    """(streams by tag, the exact total (one element), the index as read: entries, total, problems)
    → one RunOutputs."""

    def __init__(self, context: RunContext, fingerprint: str, samples: int, max_previews: int):
        super().__init__()
        self.context, self.fingerprint = context, fingerprint
        self.samples, self.max_previews = samples, max_previews  # the page's previews (report_data.picks)

    def expand(self, inputs):
        streams, total, index_entries, index_total, index_problems = inputs
        ctx = self.context
        out = ctx.output_dir
        pipeline = total.pipeline
        proc = beam.pvalue.AsSingleton(pipeline
                                       | "Start" >> beam.Impulse()
                                       | "List proc/" >> beam.Map(lambda _, out: storage.list_objects(
                                           storage.join(out, PROC_SUBDIR)), out))
        # Each stream goes through one step that takes from each result what the reports need (so the
        # runner keeps one copy of it): its report's line, its page rows, its counts, its index entry.
        columns = {SUCCESS: processed_columns(ctx.feature_options) + tuple(ctx.extra_columns),
                   LOW_QUALITY: LOW_QUALITY_COLUMNS, FAILED: PROBLEM_COLUMNS, MISSING: PROBLEM_COLUMNS}
        fields = {status: streams[status] | f"From each {status} result" >> beam.ParDo(
            _Fields(status, columns, out)).with_outputs(*_FIELDS, main=_LINE) for status in STATUSES}

        def every(kind):
            return [fields[status][kind] for status in STATUSES] | f"Every {kind}" >> beam.Flatten()

        written = [
            fields[SUCCESS][_LINE] | f"Write {PROCESSED_CSV}" >> _Lines(PROCESSED_CSV, columns[SUCCESS], out, proc),
            # A clip kept with keep_low_quality is saved and also listed with its reason (kept=True).
            ((fields[LOW_QUALITY][_LINE], fields[SUCCESS][_KEPT_LOW_LINE]) | "Every low-quality line" >> beam.Flatten()
             | f"Write {LOW_QUALITY_CSV}" >> _Lines(LOW_QUALITY_CSV, LOW_QUALITY_COLUMNS, out, proc)),
            fields[FAILED][_LINE] | f"Write {FAILED_CSV}" >> _Lines(FAILED_CSV, PROBLEM_COLUMNS, out, proc),
            fields[MISSING][_LINE] | f"Write {MISSING_CSV}" >> _Lines(MISSING_CSV, PROBLEM_COLUMNS, out, proc),
        ]
        orphans = ((streams["orphans"], every(_KEPT))
                   | "Every orphan" >> beam.Flatten()
                   | "Gather the orphans" >> _Gathered(key=lambda o: (o["video"], o["kind"], o["path"]))
                   | f"Write {ORPHANS_CSV}" >> beam.Map(_write_orphans, ctx, proc))
        statistics = (fields[SUCCESS][_NUMBERS]
                      | "Gather the saved clips' numbers" >> _Gathered()
                      | f"Write {STATS_NPZ}" >> beam.Map(_write_stats, beam.pvalue.AsSingleton(total), ctx, proc))
        # The index is rewritten only when its entries or its total changed; the records meet in one
        # place only then (a re-run with nothing new gathers none).
        entries = every(_ENTRY)
        stale = (pipeline
                 | "Start the index check" >> beam.Impulse()
                 | "Is the index stale" >> beam.Map(
                     _index_is_stale, beam.pvalue.AsSingleton(total),
                     beam.pvalue.AsSingleton(entries | "What the index will hold" >> beam.CombineGlobally(
                         EntriesDigest(_new_entry))),
                     beam.pvalue.AsSingleton(index_entries | "What the index held" >> beam.CombineGlobally(
                         EntriesDigest(_held_entry))),
                     beam.pvalue.AsSingleton(index_total, default_value=None),
                     beam.pvalue.AsSingleton(index_problems | "Count problems" >> beam.combiners.Count.Globally()),
                     self.fingerprint))
        indexed = (entries
                   | "Only for a stale index" >> beam.FlatMap(lambda e, stale: [e] if stale else [],
                                                              beam.pvalue.AsSingleton(stale))
                   | "Gather the records" >> _Gathered()
                   | "Write the record index" >> beam.Map(_write_index, beam.pvalue.AsSingleton(stale),
                                                          beam.pvalue.AsSingleton(total), out, self.fingerprint))
        def combined(kind, label, fn, then):
            # Combined per stream first, where each result is made (so the runner holds no stream of
            # them), then the four partial results merged.
            return ([fields[status][kind] | f"{label} ({status})" >> beam.CombineGlobally(fn) for status in STATUSES]
                    | f"{label}: every stream" >> beam.Flatten()
                    | label >> beam.CombineGlobally(then))

        counts = combined(_COUNTS, "Count the results", CountsFn(), CountsFn())
        page = combined(_PAGE, "Tally the page", PageTallyFn(self.samples, self.max_previews), PagePicksFn())
        saved = fields[SUCCESS][_SAVED] | "Gather the saved clips" >> _Gathered(key=report_order)
        # Everything written: the outputs the page and the release read, once every report above exists.
        done = [pc | f"Done {i}" >> beam.Map(lambda _: None) for i, pc in enumerate(written + [statistics, indexed])]
        return (page
                | "Run outputs" >> beam.Map(
                    _run_outputs, ctx, proc, beam.pvalue.AsSingleton(saved), beam.pvalue.AsSingleton(counts),
                    beam.pvalue.AsSingleton(orphans), beam.pvalue.AsSingleton(total),
                    *(beam.pvalue.AsList(pc) for pc in done)))


_LINE, _KEPT_LOW_LINE, _PAGE, _COUNTS, _ENTRY, _KEPT, _NUMBERS, _SAVED = (
    "line", "kept_low_line", "page", "counts", "entry", "kept_outputs", "numbers", "saved")
_FIELDS = (_KEPT_LOW_LINE, _PAGE, _COUNTS, _ENTRY, _KEPT, _NUMBERS, _SAVED)


class _Fields(beam.DoFn):
    """A result of one status → what each report takes from it, on its own tag (main: its report's line)."""

    def __init__(self, status: str, columns: Dict[str, Sequence[str]], output_dir: str):
        self.status, self.columns, self.output_dir = status, columns, output_dir

    def process(self, r: ClipResult):
        order = report_order(r)
        yield order, report_line(self.columns[self.status], r, self.output_dir)
        if r.status == SUCCESS:
            if r.kept_low:
                yield beam.pvalue.TaggedOutput(
                    _KEPT_LOW_LINE, (order, report_line(self.columns[LOW_QUALITY], r, self.output_dir)))
            yield beam.pvalue.TaggedOutput(_NUMBERS, (order, r.measures.num_frames, r.measures.motion_mean))
            # To the release: what it reads of the clip, nothing of the store's bookkeeping.
            yield beam.pvalue.TaggedOutput(_SAVED, dataclasses.replace(
                r, record=release_facts(r.record), record_object=None, moments=None))
        for i, clip in enumerate(report_clips([r], self.output_dir)):
            yield beam.pvalue.TaggedOutput(_PAGE, ((order, i), clip))
        yield beam.pvalue.TaggedOutput(_COUNTS, result_counts(r))
        if r.record_object is not None and r.feature_stem:
            yield beam.pvalue.TaggedOutput(
                _ENTRY, (r.feature_stem, r.record_object.size, r.record_object.version, r.record))
        for orphan in kept_outputs(self.output_dir, r):
            yield beam.pvalue.TaggedOutput(_KEPT, orphan)


class _Gathered(beam.PTransform):
    """A stream's elements in one list, sorted (by `key`, else as they are): one group on a constant key,
    each element encoded once. The group exists even for an empty stream (an element of the job's own
    marks it), so a report of no row is written with its header alone."""

    def __init__(self, key=None):
        super().__init__()
        self.key = key

    def expand(self, elements):
        marker = (elements.pipeline
                  | "Start" >> beam.Impulse()
                  | "The group's mark" >> beam.Map(lambda _: (None, (False, None))))
        return ((elements | "On one key" >> beam.Map(lambda e: (None, (True, e))), marker)
                | "With the mark" >> beam.Flatten()
                | "Gather" >> beam.GroupByKey()
                | "Sorted" >> beam.Map(lambda group, key: sorted((e for real, e in group[1] if real), key=key),
                                       self.key))


class _Lines(beam.PTransform):
    """(sort key, CSV line) of a report's rows → the report, written in metadata order."""

    def __init__(self, name: str, columns: Sequence[str], output_dir: str, proc):
        super().__init__()
        self.name, self.columns, self.output_dir, self.proc = name, tuple(columns), output_dir, proc

    def expand(self, lines):
        return (lines
                | "Gather" >> _Gathered()
                | "Write" >> beam.Map(_write_lines, self.name, self.columns, self.output_dir, self.proc))


def _write_lines(lines: List, name: str, columns: Sequence[str], output_dir: str, proc: Dict) -> int:
    text = header_line(columns) + "".join(line for _, line in lines)
    storage.write_text(proc_path(output_dir, name), text, unless=proc.get(name))
    return len(lines)


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


class CountsFn(beam.CombineFn):
    """The run summary's counts: every result's result_counts, added."""

    def create_accumulator(self):
        return {}

    def add_input(self, counts, more):
        for key, n in more.items():
            counts[key] = counts.get(key, 0) + n
        return counts

    def merge_accumulators(self, accumulators):
        merged: Dict[str, int] = {}
        for counts in accumulators:
            self.add_input(merged, counts)
        return merged

    def extract_output(self, counts):
        return counts


class PageTallyFn(beam.CombineFn):
    """(place in report order, ReportClip) → a report_data.PageTally: counters, the measured clips' numbers
    and the few clips the page can list or preview, never every row."""

    def __init__(self, samples: int, max_previews: int):
        self.samples, self.max_previews = samples, max_previews

    def create_accumulator(self):
        return PageTally(self.samples, self.max_previews)

    def add_input(self, tally, item):
        position, clip = item
        tally.add(clip, position)
        return tally

    def merge_accumulators(self, tallies):
        return _merged(tallies, self.create_accumulator)

    def extract_output(self, tally):
        return tally


class PagePicksFn(beam.CombineFn):
    """PageTally of each stream → the report page's ReportPicks."""

    def create_accumulator(self):
        return None

    def add_input(self, tally, more):
        return more if tally is None else tally.merge(more)

    def merge_accumulators(self, tallies):
        return _merged([t for t in tallies if t is not None], lambda: None)

    def extract_output(self, tally):
        return tally.picks() if tally is not None else PageTally(0, 0).picks()


def _merged(tallies, empty):
    tallies = iter(tallies)
    merged = next(tallies, None)
    if merged is None:
        return empty()
    for tally in tallies:
        merged.merge(tally)
    return merged


class EntriesDigest(beam.CombineFn):
    """The same number for the same (stem, size, version) entries whatever their order: a sum of their
    hashes, so the index is rewritten only when an entry changed. `fields`: an item → (stem, size, version)."""

    def __init__(self, fields):
        self.fields = fields

    def create_accumulator(self):
        return 0

    def add_input(self, accumulator, item):
        return (accumulator + entry_hash(*self.fields(item))) % (1 << 256)

    def merge_accumulators(self, accumulators):
        return sum(accumulators) % (1 << 256)

    def extract_output(self, accumulator):
        return accumulator


def _held_entry(item):
    stem, entry = item
    return stem, entry.size, entry.version


def _new_entry(item):
    stem, size, version, _ = item
    return stem, size, version


def entry_hash(stem: str, size: int, version: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{stem}\0{size}\0{version}".encode()).digest(), "big")


def _index_is_stale(_, total: Optional[ExactMoments], digest: int, read_digest: int, stored: Optional[Total],
                    problems: int, fingerprint: str) -> bool:
    """False when the index holds exactly these entries and this total already (a run with nothing new
    writes nothing)."""
    new_total = Total(fingerprint, total) if total is not None else None
    return bool(problems) or digest != read_digest or stored != new_total


def _write_index(entries: List, stale: bool, total: Optional[ExactMoments], output_dir: str,
                 fingerprint: str) -> bool:
    """True when written."""
    if not stale:
        return False
    record_index.write(output_dir, {stem: Entry(size, version, record) for stem, size, version, record in entries},
                       Total(fingerprint, total) if total is not None else None)
    return True


def _run_outputs(page_picks, ctx: RunContext, proc: Dict, saved: List[ClipResult], counts: Dict,
                 orphans: List[dict], total: Optional[ExactMoments], *_written) -> RunOutputs:
    options = ctx.feature_options
    schema = json.dumps(feature_schema(options), indent=1, allow_nan=False) + "\n"  # strict JSON: no NaN
    storage.write_text(proc_path(ctx.output_dir, SCHEMA_JSON), schema, unless=proc.get(SCHEMA_JSON))
    moments = total.rounded() if total is not None else None
    return RunOutputs(ctx.output_dir, saved, list(ctx.extra_columns), dict(options),
                      summary(counts, moments, ctx.config, options, ctx.started_at, orphans), orphans, page_picks,
                      proc_listing=dict(proc))
