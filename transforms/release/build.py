"""BuildRelease: the release as Beam steps, planned at run time from the reports step's typed results.

  Plan the release   from the run's results and records: the release id, every clip's split
                     and shard; if that release is complete, latest.json is made to name it and
                     nothing else is read or written
  Write shards       one element per shard (its clips in video_file order), spread over the
                     workers; each reads its clips' .npy files (on threads: the reads wait on
                     storage), checks each against the sha256 its record vouches for, casts
                     them to --release_dtype, writes the Parquet file straight into
                     releases/<id>/data/ and sums its train clips' moments. No array goes
                     through a shuffle. A file that fails its check refuses the release.
  Publish            once every shard is written: the small files, the manifest last, latest.json.
                     A release whose folder was found damaged (transforms/release/verify.py) has
                     only its damaged files written again, each checked against its manifest.

The step's output is one element whatever happened (built, unchanged, skipped), so
what follows it in the job (the run summary, the lease) always runs.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import logging
from typing import List, NamedTuple, Optional, Tuple, Union

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from transforms.common import moments as stats
from transforms.common import storage
from transforms.common.progress import NAMESPACE, ensure_log_handler
from transforms.features import registry
from transforms.release import layout, publish
from transforms.release.inputs import NothingToRelease, ReleaseError
from transforms.release.plan import EXISTS, REPAIR, ClipEntry, ReleasePlan, plan_release
from transforms.release.schema import FEATURES, ReleaseSchema
from transforms.release.settings import ReleaseSettings
from transforms.release.shards import Shard, write_shard
from transforms.reports.run_reports import RunOutputs
from transforms.store.paths import feature_path

LOG = logging.getLogger("ghsl")
READ_THREADS = 8


class Planned(NamedTuple):
    outputs: RunOutputs
    plan: Optional[ReleasePlan]      # None: nothing to release
    reason: str = ""                 # why not
    names_latest: bool = True


class Released(NamedTuple):
    """The step's one output: the run's outputs, and what became of the release (publish.outcome)."""

    outputs: RunOutputs
    outcome: dict


class ShardWork(NamedTuple):
    """What one worker needs to write one shard."""

    output_dir: str
    release_id: str
    name: str
    schema: ReleaseSchema
    feature_options: dict        # the run's feature version and options: how a clip's moments are taken
    clips: List[ClipEntry]       # in video_file order


class BuildRelease(beam.PTransform):
    """RunOutputs (one element) → Released (one element).

    names_latest: publishing makes latest.json name this release (not for the folds, see pipeline/graph.py).
    """

    def __init__(self, settings: ReleaseSettings, names_latest: bool = True):
        super().__init__()
        self.settings = settings
        self.names_latest = names_latest

    def expand(self, outputs):
        plans = outputs | "Plan the release" >> beam.Map(plan_in_job, self.settings, self.names_latest)
        written = (plans
                   | "Shards to write" >> beam.FlatMap(shard_work)
                   # The shards leave the plan in one bundle; spread them so that workers write them in parallel.
                   | "Spread shards" >> beam.Reshuffle()
                   | "Write shards" >> beam.ParDo(WriteShard()))
        # The plan and its written shards meet in one group, which the plan alone makes exist even when
        # no shard is written (a release that exists already, or nothing to release).
        return ((plans, written)
                | "Plan and shards" >> beam.Flatten()
                | "One group" >> beam.WithKeys(lambda _: None)
                | "Gather shards" >> beam.GroupByKey()
                | "Publish" >> beam.MapTuple(lambda _, items: publish_planned(*_plan_and_shards(items))))


def plan_in_job(outputs: RunOutputs, settings: ReleaseSettings, names_latest: bool = True) -> Planned:
    """The plan; what goes on from here carries no row that it does not need (the steps after the release
    read the run's summary only, and a release that exists needs none of its clips)."""
    ensure_log_handler()
    light = dataclasses.replace(outputs, results=[])
    try:
        plan = plan_release(outputs, settings)
    except NothingToRelease as exc:
        LOG.warning("No release: %s", exc)
        return Planned(light, None, str(exc), names_latest)
    publish.settle_existing(outputs.output_dir, plan)
    if plan.status == EXISTS:
        # Nothing was written since the plan read latest.json (an intact release settles nothing but its manifest).
        moved = names_latest and publish.point_latest(outputs.output_dir, plan, plan.latest)
        LOG.info("Release %s already exists, nothing to write%s: %s", plan.release_id,
                 " (latest.json now names it)" if moved else "",
                 layout.release_dir(outputs.output_dir, plan.release_id))
        plan = dataclasses.replace(plan, clips=[], inputs={})
    elif plan.status == REPAIR:
        LOG.info("Repairing release %s (%d shard(s) to write again)", plan.release_id, len(plan.shards_to_write()))
    else:
        publish.remove_unfinished(outputs.output_dir)
        LOG.info("Building release %s (%d clips)", plan.release_id, len(plan.clips))
    return Planned(light, plan, "", names_latest)


def shard_work(planned: Planned) -> List[ShardWork]:
    plan = planned.plan
    if plan is None:
        return []
    wanted = set(plan.shards_to_write())
    by_shard = {}
    for clip in plan.clips:  # in video_file order
        if clip.shard in wanted:
            by_shard.setdefault(clip.shard, []).append(clip)
    return [ShardWork(planned.outputs.output_dir, plan.release_id, name, plan.schema, planned.outputs.feature_options,
                      clips)
            for name, clips in by_shard.items()]


class WriteShard(beam.DoFn):
    """A ShardWork in; (shard file, its manifest entry, its train clips' moments summed) out."""

    def __init__(self):
        self.read = Metrics.counter(NAMESPACE, "release_clips_read")

    def process(self, work: ShardWork):
        with concurrent.futures.ThreadPoolExecutor(READ_THREADS) as pool:
            arrays = list(pool.map(lambda clip: _array(work.output_dir, clip, work.schema), work.clips))
        self.read.inc(len(arrays))
        refused = [array for array in arrays if isinstance(array, str)]
        if refused:  # the shard is not written: the release is refused, naming the files (publish.refuse)
            yield layout.shard_file(work.name), None, None, refused
            return
        train, version = None, registry.of(work.feature_options)
        for clip, array in zip(work.clips, arrays):
            if clip.split == "train":
                train = stats.add(train, version.moments(array, work.feature_options))
        shard = Shard(work.name, work.schema, [{**c.values, FEATURES: a} for c, a in zip(work.clips, arrays)])
        path = layout.shard_file(work.name)
        entry = write_shard(shard, storage.join(layout.release_dir(work.output_dir, work.release_id), path))
        yield path, entry, train, []


def _array(output_dir: str, clip: ClipEntry, schema: ReleaseSchema) -> Union[np.ndarray, str]:
    """The clip's features as the release stores them; or, when the .npy is not the array its record
    vouches for, why (a release never carries data nothing verified)."""
    path = feature_path(output_dir, clip.stem)
    data = storage.read_if_present(path)
    if data is None:
        return f"{path} is missing"
    if hashlib.sha256(data).hexdigest() != clip.features_sha256:
        return f"{path} is not the array its record vouches for (sha256 differs)"
    array = storage.npy_from_bytes(data)
    if array.shape != (clip.num_frames, schema.dim):
        raise ReleaseError(f"{path} holds an array of shape {array.shape}, processed_metadata.csv says "
                           f"({clip.num_frames}, {schema.dim}): the outputs are not those of one finished run. "
                           f"Run pipeline.run again.")
    return array.astype(schema.dtype)


def _plan_and_shards(items) -> Tuple[Planned, list]:
    items = list(items)
    [planned] = [item for item in items if isinstance(item, Planned)]
    return planned, [item for item in items if not isinstance(item, Planned)]


def publish_planned(planned: Planned, written: List[Tuple[str, dict, Optional[stats.Moments], List[str]]]) -> Released:
    plan, out = planned.plan, planned.outputs.output_dir
    refused = sorted(problem for *_, problems in written for problem in problems)
    if plan is None:
        result = publish.outcome(None, publish.SKIPPED, planned.reason)
    elif plan.status == EXISTS:
        result = publish.outcome(plan, publish.UNCHANGED)
    elif refused:
        result = publish.refuse(plan, out, f"{len(refused)} feature file(s) cannot be released: {refused[0]}"
                                           f"{' (and more)' if len(refused) > 1 else ''}. Run pipeline.run on {out} "
                                           f"to heal them, then release again.")
    else:
        train = None
        for _, _, moments, _ in sorted(written, key=lambda w: w[0]):  # shard order: the same sum on every runner
            train = stats.add(train, moments)
        entries = {path: entry for path, entry, _, _ in written}
        if plan.status == REPAIR:
            result = publish.repair(plan, out, entries, train, planned.names_latest)
        else:
            result = publish.publish(plan, out, entries, train, planned.names_latest)
    Metrics.counter(NAMESPACE, f"releases_{result['status']}").inc()
    return Released(planned.outputs, result)
