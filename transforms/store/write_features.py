"""Publishing fresh results: the .npy of a saved clip, then its result record.

The clip's .pose landmark file was published before (transforms/landmarks/extract.py).

Feature file format: `features/pose_data/<video_file without extension>.npy`,
NumPy .npy (no pickle), float32, shape (kept frames, 540) for v1 and (kept
frames, 544) for v2, one row per kept frame, columns as in transforms/features/v1.py
and v2.py and named in proc/feature_schema.json. Record format: transforms/store/records.py.

Order matters for retries (Beam and Dataflow retry bundles): the .npy is
published whole (transforms/store/storage.py), then the record that vouches for
it, then the result is emitted. A failure anywhere in between leaves either
nothing new, or a complete .npy the next attempt overwrites with the same
bytes, or a complete .npy and record that the next run reuses.

After a run, pose_data/ holds the .npy of exactly the clips listed in
processed_metadata.csv, plus the orphans listed in orphaned_outputs.csv (see
transforms/store/orphans.py): a clip judged anew and no longer a success loses its old .npy.
"""
from __future__ import annotations

import dataclasses
import os

import apache_beam as beam

from transforms.store import records

from transforms.features import definitions

from transforms.store import storage
from transforms.store.results import FAILED, LOW_QUALITY, ClipResult

FEATURES_SUBDIR = ("features", "pose_data")

# Test-only: "after_features:<folder>" or "after_record:<folder>" makes each video
# fail once at that point (a marker file per video in <folder> remembers it).
INJECT_FAILURE_ENV = "GHSL_INJECT_FAILURE"


def feature_path(output_dir: str, feature_stem: str) -> str:
    return storage.join(output_dir, *FEATURES_SUBDIR, feature_stem + ".npy")


class _Publisher(beam.DoFn):
    def __init__(self, output_dir: str, feature_options: dict):
        self.output_dir = output_dir
        self.feature_options = feature_options

    def _record(self, result: ClipResult) -> ClipResult:
        """Publishes the result's record; returns the result with the record and its file's listing entry."""
        made_by = records.feature_fingerprint(self.feature_options, result.landmarks["fingerprint"])
        record = records.to_record(result, result.source, made_by)
        written = storage.write_text(records.record_path(self.output_dir, result.feature_stem),
                                     records.to_json(record), unless=result.outputs.record)
        return dataclasses.replace(result, record=records.without_moments(record), record_object=written,
                                   outputs=result.outputs._replace(record=written))


class WriteFeatures(_Publisher):
    """Saves a successful clip's features, records how they were made, emits its report row.

    A file whose bytes the bucket already holds (the listing's CRC32C) is not uploaded again.
    """

    def process(self, result: ClipResult):
        path = feature_path(self.output_dir, result.feature_stem)
        written = storage.write_bytes(path, storage.npy_bytes(result.features), unless=result.outputs.npy)
        _maybe_fail("after_features", result.feature_stem)
        version, face_downsample = self.feature_options["feature_version"], self.feature_options["face_downsample"]
        published = dataclasses.replace(result, features=None,
                                        moments=definitions.moments(version, result.features, face_downsample),
                                        feature_path=path, outputs=result.outputs._replace(npy=written))
        published = self._record(published)
        _maybe_fail("after_record", result.feature_stem)
        yield published


class RecordRejection(_Publisher):
    """Records a deterministic verdict (and clears the clip's old features) so the next run can reuse it.

    A MISSING video or an error that may be transient says nothing about the
    clip: its published outputs are left alone (listed as orphans, see
    transforms/store/orphans.py), so a mistyped --video_dir never deletes features.
    """

    def process(self, result: ClipResult):
        if result.status in (LOW_QUALITY, FAILED) and not result.retryable and result.landmarks:
            if result.outputs.npy is not None:
                storage.delete_if_present(feature_path(self.output_dir, result.feature_stem))
                result = dataclasses.replace(result, outputs=result.outputs._replace(npy=None))
            result = self._record(result)
        yield result.slim()


def _maybe_fail(stage: str, feature_stem: str) -> None:
    setting = os.environ.get(INJECT_FAILURE_ENV, "")
    if not setting.startswith(stage + ":"):
        return
    marker = os.path.join(setting.split(":", 1)[1], feature_stem.replace("/", "__") + "." + stage)
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError(f"Injected failure {stage} for {feature_stem} (test only, {INJECT_FAILURE_ENV})")
