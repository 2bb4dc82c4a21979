"""A release's stats.npz: the statistics a model standardizes with, over the train split only.

Computed from the arrays as the release stores them (so, with
--release_dtype=float16, from the float16 values), accumulated in float64 like
proc/global_stats.npz and with the same keys and definitions:

  feature_mean, feature_std   float32 (D), as the feature version takes them (FeatureVersion.statistics):
                              v1 over every train frame; v2 per column over the train frames where its
                              part was seen (its presence column is 1), std = sqrt(max(E[x²] − mean²,
                              1e-8)); a column never seen: 0 and 1
  frame_count                 train frames
  video_count                 train clips
  then the version's own arrays: v2's present_count (train frames behind each column's mean and
  std), presence_parts and presence_rate (share of train frames in which each part was seen)

Validation and test never enter them, so evaluating on those splits does not leak.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from transforms.common.moments import Moments
from transforms.reports.run_reports import feature_statistics, npz_bytes

STATS_NPZ = "stats.npz"


def train_stats_npz(moments: Optional[Moments], feature_options: dict, train_clips: int) -> bytes:
    return npz_bytes(dict(feature_statistics(moments, feature_options), video_count=np.int64(train_clips)))
