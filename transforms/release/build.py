"""BuildRelease: the release as Beam steps, decided at run time.

Inside the main job the reports do not exist while the graph is built, so
nothing here depends on them before the job runs:

  Plan the release   one DoFn, after the reports: reads them and the records, derives the
                     release id; if that release is complete, it only makes latest.json
                     name it (no feature file is read, nothing else is written)
  Read shards        one element per shard (its clips in video_file order), spread over the
                     workers; each reads its clips' .npy files (on threads: the reads wait on
                     storage), casts them to --release_dtype, and sends the train clips'
                     moments on the side. No array goes through a shuffle.
  Write shards       each shard written by Beam's fileio.WriteToFiles on the worker that read
                     it, into the run's staging folder (named by the run id, known when the
                     graph is built)
  Publish            once every shard is written: into releases/<id>/, manifest last

The step's output is one element whatever happened (built, unchanged, skipped), so
what follows it in the job (the lease release on Dataflow) always runs.
"""
from __future__ import annotations

import concurrent.futures
import logging
from typing import Dict, List, NamedTuple, Optional

import apache_beam as beam
import numpy as np
from apache_beam.io import fileio
from apache_beam.metrics import Metrics
from apache_beam.options.value_provider import StaticValueProvider

from transforms.common import handoff
from transforms.common.moments import GlobalMomentsFn
from transforms.common.progress import NAMESPACE, ensure_log_handler
from transforms.reports.run_reports import WRITTEN_CSVS
from transforms.features import definitions
from transforms.release import layout, publish
from transforms.release.inputs import NothingToRelease, ReleaseError, written_outputs
from transforms.release.plan import BUILD, EXISTS, SKIPPED, ClipEntry, plan_release
from transforms.release.schema import FEATURES, ReleaseSchema
from transforms.release.settings import ReleaseSettings
from transforms.release.shards import ParquetShardSink, Shard, shard_digest, shard_file_name
from transforms.store import storage
from transforms.store.write_features import feature_path

LOG = logging.getLogger("ghsl")
TRAIN_MOMENTS = "train_moments"
BEAM_TEMP = ".beam-temp"
READ_THREADS = 8
RELEASE_OUTCOME = "release outcome"  # handoff name


class Skipped(NamedTuple):
    """The plan when there is nothing to release."""

    reason: str
    status: str = SKIPPED


class ShardWork(NamedTuple):
    """What one worker needs to write one shard."""

    name: str
    schema: ReleaseSchema
    face_downsample: int         # the column layout behind v2's moments
    clips: List[ClipEntry]       # in video_file order


class BuildRelease(beam.PTransform):
    """Any one element (the signal that the reports are written) → the release's outcome (publish.outcome).

    summaries: in the main job, WriteReports' output, whose reports the plan takes instead of reading them back.
    """

    def __init__(self, output_dir: str, settings: ReleaseSettings, run_id: str,
                 summaries: Optional[beam.PCollection] = None):
        super().__init__()
        self.output_dir = output_dir
        self.settings = settings
        self.run_id = run_id
        self.summaries = summaries

    def expand(self, ready: beam.PCollection):
        staging = layout.staging_dir(self.output_dir, self.run_id)
        shard_dir = storage.join(staging, layout.DATA)
        summaries = (self.summaries if self.summaries is not None
                     else ready.pipeline | "No reports at hand" >> beam.Create([None]))
        plans = ready | "Plan the release" >> beam.ParDo(_PlanRelease(self.output_dir, self.settings, self.run_id),
                                                         beam.pvalue.AsSingleton(summaries))
        read = (plans
                | "Shards to write" >> beam.FlatMap(_shard_work)
                # The shards leave the plan in one bundle; spread them so that workers write them in parallel.
                | "Spread shards" >> beam.Reshuffle()
                | "Read shards" >> beam.ParDo(_ReadShard(self.output_dir)).with_outputs(TRAIN_MOMENTS, main="shards"))
        digests = (read.shards
                   | "Write shards" >> fileio.WriteToFiles(
                       path=shard_dir, destination=_shard_name, sink=ParquetShardSink,
                       file_naming=shard_file_name, shards=1,
                       temp_directory=StaticValueProvider(str, storage.join(staging, BEAM_TEMP)))
                   | "Hash shards" >> beam.Map(lambda written: (written.file_name,
                                                                shard_digest(storage.join(shard_dir, written.file_name)))))
        train = read[TRAIN_MOMENTS] | "Train statistics" >> beam.CombineGlobally(GlobalMomentsFn())
        return plans | "Publish" >> beam.Map(_publish, self.output_dir, staging, beam.pvalue.AsList(digests),
                                              beam.pvalue.AsSingleton(train), self.run_id)


def _shard_work(plan) -> List[ShardWork]:
    if plan.status != BUILD:
        return []
    by_shard: Dict[str, List[ClipEntry]] = {}
    for clip in plan.clips:  # in video_file order
        by_shard.setdefault(clip.shard, []).append(clip)
    face_downsample = plan.feature_schema["options"]["face_downsample"]
    return [ShardWork(name, plan.schema, face_downsample, clips) for name, clips in by_shard.items()]


class _PlanRelease(beam.DoFn):
    def __init__(self, output_dir: str, settings: ReleaseSettings, run_id: str):
        self.output_dir = output_dir
        self.settings = settings
        self.run_id = run_id

    def setup(self):
        ensure_log_handler()

    def process(self, _, summary: Optional[dict]):
        try:
            outputs = written_outputs(summary) if summary and WRITTEN_CSVS in summary else None
            plan = plan_release(self.output_dir, self.settings, outputs, self.run_id)
        except NothingToRelease as exc:
            LOG.warning("No release: %s", exc)
            yield Skipped(str(exc))
            return
        if plan.status == EXISTS:
            moved = publish.point_latest(self.output_dir, plan)
            LOG.info("Release %s already exists, nothing to write%s: %s", plan.release_id,
                     " (latest.json now names it)" if moved else "", layout.release_dir(self.output_dir, plan.release_id))
        else:
            publish.remove_unfinished(self.output_dir, self.run_id)
            LOG.info("Building release %s (%d clips)", plan.release_id, len(plan.clips))
        yield plan


class _ReadShard(beam.DoFn):
    def __init__(self, output_dir: str):
        self.output_dir = output_dir
        self.read = Metrics.counter(NAMESPACE, "release_clips_read")

    def process(self, work: ShardWork):
        with concurrent.futures.ThreadPoolExecutor(READ_THREADS) as pool:
            arrays = list(pool.map(lambda clip: self._array(clip, work.schema), work.clips))
        for clip, array in zip(work.clips, arrays):
            if clip.split == "train":
                yield beam.pvalue.TaggedOutput(TRAIN_MOMENTS, definitions.moments(work.schema.feature_version, array,
                                                                                  work.face_downsample))
        self.read.inc(len(arrays))
        yield Shard(work.name, work.schema, [{**c.values, FEATURES: a} for c, a in zip(work.clips, arrays)])

    def _array(self, clip: ClipEntry, schema: ReleaseSchema) -> np.ndarray:
        """The clip's features as the release stores them."""
        path = feature_path(self.output_dir, clip.stem)
        array = storage.load_npy(path)
        if array.shape != (clip.num_frames, schema.dim):
            raise ReleaseError(f"{path} holds an array of shape {array.shape}, processed_metadata.csv says "
                               f"({clip.num_frames}, {schema.dim}): the outputs are not those of one finished run. "
                               f"Run pipeline.run again.")
        return array.astype(schema.dtype)


def _shard_name(shard: Shard) -> str:
    return shard.name


def _publish(plan, output_dir: str, staging: str, digests: List, train_moments, run_id: str) -> Dict[str, object]:
    if plan.status == SKIPPED:
        result = publish.outcome(None, output_dir, publish.SKIPPED, plan.reason)
    elif plan.status == EXISTS:
        result = publish.outcome(plan, output_dir, publish.UNCHANGED)
    else:
        result = publish.publish(plan, output_dir, staging, digests, train_moments)
    Metrics.counter(NAMESPACE, f"releases_{result['status']}").inc()
    handoff.hand(run_id, RELEASE_OUTCOME, result)  # for a launcher in this process (pipeline.release.job_outcome)
    return result
