"""BuildRelease: the release as Beam steps, decided at run time.

Inside the main job the reports do not exist while the graph is built, so
nothing here depends on them before the job runs:

  Plan the release   one DoFn, after the reports: reads them and the records, derives the
                     release id; if that release is complete, it only makes latest.json
                     name it (no feature file is read, nothing else is written)
  Read features      each clip's .npy, on whichever worker gets it (the clips are spread),
                     cast to --release_dtype; the train clips' moments on the side
  Write shards       rows grouped by shard, ordered by video_file, each shard written by
                     Beam's fileio.WriteToFiles on a worker into the run's staging folder
                     (its path is named by the run id, known when the graph is built)
  Publish            once every shard is written: into releases/<id>/, manifest last

The step's output is one element whatever happened (built, unchanged, skipped), so
what follows it in the job (the lease release on Dataflow) always runs.
"""
from __future__ import annotations

import logging
from typing import List, NamedTuple, Optional, Tuple

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.metrics import Metrics
from apache_beam.options.value_provider import StaticValueProvider

from transforms.common.moments import GlobalMomentsFn
from transforms.common.progress import NAMESPACE, ensure_log_handler
from transforms.features import definitions
from transforms.release import layout, publish
from transforms.release.inputs import NothingToRelease, ReleaseError
from transforms.release.plan import BUILD, EXISTS, SKIPPED, ClipEntry, plan_release
from transforms.release.schema import FEATURES, ReleaseSchema
from transforms.release.settings import ReleaseSettings
from transforms.release.shards import ParquetShardSink, Shard, shard_digest, shard_file_name
from transforms.store import storage
from transforms.store.write_features import feature_path

LOG = logging.getLogger("ghsl")
TRAIN_MOMENTS = "train_moments"
BEAM_TEMP = ".beam-temp"


class Skipped(NamedTuple):
    """The plan when there is nothing to release."""

    reason: str
    status: str = SKIPPED
    clips: tuple = ()


class BuildRelease(beam.PTransform):
    """Any one element (the signal that the reports are written) → the release's outcome (publish.outcome)."""

    def __init__(self, output_dir: str, settings: ReleaseSettings, run_id: str):
        super().__init__()
        self.output_dir = output_dir
        self.settings = settings
        self.run_id = run_id

    def expand(self, ready: beam.PCollection):
        staging = layout.staging_dir(self.output_dir, self.run_id)
        shard_dir = storage.join(staging, layout.DATA)
        plans = ready | "Plan the release" >> beam.ParDo(_PlanRelease(self.output_dir, self.settings, self.run_id))
        # What the workers need of the plan: the row format, not every clip's entry.
        row_format = beam.pvalue.AsSingleton(plans | "Row format" >> beam.Map(_row_format))
        read = (plans
                | "Clips to write" >> beam.FlatMap(lambda p: p.clips if p.status == BUILD else [])
                # The clips leave the plan in one bundle; spread them so that workers read them in parallel.
                | "Spread clips" >> beam.Reshuffle()
                | "Read features" >> beam.ParDo(_ReadClip(self.output_dir), row_format).with_outputs(
                    TRAIN_MOMENTS, main="rows"))
        digests = (read.rows
                   | "Group by shard" >> beam.GroupByKey()
                   | "Order rows" >> beam.Map(_ordered_shard, row_format)
                   | "Write shards" >> fileio.WriteToFiles(
                       path=shard_dir, destination=_shard_name, sink=ParquetShardSink,
                       file_naming=shard_file_name, shards=1,
                       temp_directory=StaticValueProvider(str, storage.join(staging, BEAM_TEMP)))
                   | "Hash shards" >> beam.Map(lambda written: (written.file_name,
                                                                shard_digest(storage.join(shard_dir, written.file_name)))))
        train = read[TRAIN_MOMENTS] | "Train statistics" >> beam.CombineGlobally(GlobalMomentsFn())
        return plans | "Publish" >> beam.Map(_publish, self.output_dir, staging, beam.pvalue.AsList(digests),
                                              beam.pvalue.AsSingleton(train))


class _PlanRelease(beam.DoFn):
    def __init__(self, output_dir: str, settings: ReleaseSettings, run_id: str):
        self.output_dir = output_dir
        self.settings = settings
        self.run_id = run_id

    def setup(self):
        ensure_log_handler()

    def process(self, _):
        try:
            plan = plan_release(self.output_dir, self.settings)
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


class _ReadClip(beam.DoFn):
    def __init__(self, output_dir: str):
        self.output_dir = output_dir
        self.read = Metrics.counter(NAMESPACE, "release_clips_read")

    def process(self, clip: ClipEntry, row_format):
        schema, face_downsample = row_format
        array = storage.load_npy(feature_path(self.output_dir, clip.stem))
        if array.shape != (clip.num_frames, schema.dim):
            raise ReleaseError(f"{feature_path(self.output_dir, clip.stem)} holds an array of shape {array.shape}, "
                               f"processed_metadata.csv says ({clip.num_frames}, {schema.dim}): the outputs are not "
                               f"those of one finished run. Run pipeline.run again.")
        stored = array.astype(schema.dtype)
        self.read.inc()
        yield clip.shard, {**clip.values, FEATURES: stored}
        if clip.split == "train":
            yield beam.pvalue.TaggedOutput(TRAIN_MOMENTS, definitions.moments(schema.feature_version, stored,
                                                                              face_downsample))


def _row_format(plan) -> Optional[Tuple[ReleaseSchema, int]]:
    """(row schema, face_downsample: the column layout behind v2's moments); None with nothing to release."""
    if plan.status == SKIPPED:
        return None
    return plan.schema, plan.feature_schema["options"]["face_downsample"]


def _ordered_shard(grouped, row_format) -> Shard:
    name, rows = grouped
    return Shard(name, row_format[0], sorted(rows, key=lambda row: row["video_file"]))


def _shard_name(shard: Shard) -> str:
    return shard.name


def _publish(plan, output_dir: str, staging: str, digests: List, train_moments):
    if plan.status == SKIPPED:
        result = publish.outcome(None, output_dir, publish.SKIPPED, plan.reason)
    elif plan.status == EXISTS:
        result = publish.outcome(plan, output_dir, publish.UNCHANGED)
    else:
        result = publish.publish(plan, output_dir, staging, digests, train_moments)
    Metrics.counter(NAMESPACE, f"releases_{result['status']}").inc()
    return result
