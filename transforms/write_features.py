"""WriteFeatures: publish one .npy per successful clip and keep its moments for the statistics.

File format: `features/pose_data/<video_file without extension>.npy`, NumPy
.npy (no pickle), float32, shape (kept frames, 540), one row per kept frame,
columns as in transforms/features.py.
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam

from transforms import stats, storage
from transforms.results import ClipResult

FEATURES_SUBDIR = ("features", "pose_data")


def feature_path(output_dir: str, feature_stem: str) -> str:
    return storage.join(output_dir, *FEATURES_SUBDIR, feature_stem + ".npy")


class WriteFeatures(beam.DoFn):
    def __init__(self, output_dir: str):
        self.output_dir = output_dir

    def process(self, result: ClipResult):
        path = feature_path(self.output_dir, result.feature_stem)
        # All-or-nothing publish: a retried bundle rewrites the same complete file.
        storage.write_bytes(path, storage.npy_bytes(result.features))
        moments = stats.moments_of(result.features)
        yield dataclasses.replace(result, features=None, moments=moments, feature_path=path)
