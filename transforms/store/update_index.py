"""The record index in the job: the reused clips' moments in, the new index out.

ReusedMoments gives the statistics the moments of the saved clips reused from
the index: their sum alone when the index holds exactly that sum (nothing read),
else each clip's moments from moments.npz (one read). UpdateIndex writes the
index again, once every result is in, unless the plan found it current.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Tuple

import apache_beam as beam

from transforms.common.moments import Moments
from transforms.store import record_index
from transforms.store.plan import Plan
from transforms.store.results import SUCCESS, ClipResult

ReusedClip = Tuple[Optional[str], Optional[str], Moments]  # (stem, record version, moments); stem None: a sum


class ReusedMoments(beam.PTransform):
    def __init__(self, output_dir: str, plan: Plan):
        super().__init__()
        self.output_dir = output_dir
        self.plan = plan

    def expand(self, pbegin):
        if self.plan.needs_moments:
            return (pbegin
                    | "Clips" >> beam.Create([self.plan.reused_saved], reshuffle=False)
                    | "Read moments.npz" >> beam.FlatMap(_read, self.output_dir))
        summed = [(None, None, self.plan.reused_sum)] if self.plan.reused_sum is not None else []
        return pbegin | "Their sum" >> beam.Create(summed, reshuffle=False)


def _read(wanted: Dict[str, str], output_dir: str) -> Iterable[ReusedClip]:
    for stem, moments in record_index.read_moments(output_dir, wanted).items():
        yield stem, wanted[stem], moments


class UpdateIndex(beam.PTransform):
    """Final results (with their moments) in; the index rewritten, from them and from the reused clips.

    reused: ReusedMoments' output. saved: the moments the statistics were computed from (a singleton).
    """

    def __init__(self, output_dir: str, plan: Plan, reused: beam.PCollection, saved: beam.PCollection):
        super().__init__()
        self.output_dir = output_dir
        self.plan = plan
        self.reused = reused
        self.saved = saved

    def expand(self, results: beam.PCollection):
        if self.plan.index_current:
            return results.pipeline | "Nothing to update" >> beam.Create([], reshuffle=False)
        return (results
                | "What the index keeps" >> beam.FlatMap(_kept)
                | "Gather" >> beam.combiners.ToList()
                | "Write the index" >> beam.Map(self._write, beam.pvalue.AsList(self.reused),
                                                beam.pvalue.AsSingleton(self.saved)))

    def _write(self, kept: List[tuple], reused: List[ReusedClip], saved: Optional[Moments]) -> int:
        old: Optional[record_index.Index] = None
        entries: Dict[str, record_index.Entry] = {}
        moments: Dict[str, Tuple[str, Moments]] = {stem: (version, m) for stem, version, m in reused if stem}
        for stem, info, record, clip_moments in kept:
            if record is None:  # reused from the index as it stood when the run was planned
                old = old if old is not None else record_index.read(self.output_dir)
                entry = old.entries.get(stem)
                if entry is None or entry.version != info.version:
                    continue  # not in it after all: the next run reads its record
                record = entry.record
            entries[stem] = record_index.Entry(info.size, info.version, record)
            if clip_moments is not None:
                moments[stem] = (info.version, clip_moments)
        moments = {stem: vm for stem, vm in moments.items() if stem in entries}
        record_index.write(self.output_dir, entries, moments, saved)
        return len(entries)


def _kept(result: ClipResult):
    """(stem, record file, record or None, moments or None) of a result whose record the index keeps."""
    if result.record_object is None or not result.feature_stem:
        return []
    moments = result.moments if result.status == SUCCESS else None
    return [(result.feature_stem, result.record_object, result.record, moments)]
