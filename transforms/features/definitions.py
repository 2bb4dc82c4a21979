"""The feature definitions a run can choose with --feature_version, behind one interface.

v1 (v1.py) is the team's exact definition and the default; v2 (v2.py,
docs/features-v2.md) keeps time, zeroes and flags what was not seen, and rejects
clips with no signing. Both read a clip's stored landmarks (ClipPoints), so
switching between them recomputes features and decodes no video.

Each version's options are the fields of its config dataclass, and only those
make its feature fingerprint: a v2 threshold changed on a v1 run recomputes
nothing.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Tuple

import numpy as np

from transforms.features import v1, v2
from transforms.features.landmarks import ClipPoints
from transforms.common import moments as stats

VERSIONS = ("v1", "v2")
DEFAULT = "v1"


def option_names(version: str) -> Tuple[str, ...]:
    """The options that change features of this version (besides the version itself)."""
    if version == "v1":
        return ("face_downsample",) + tuple(f.name for f in dataclasses.fields(v1.QualityConfig))
    return tuple(f.name for f in dataclasses.fields(v2.V2Config))


def compute(points: ClipPoints, feature_options: Dict[str, object]):
    """The verdict on one clip: v1.ClipFeatures or v2.ClipFeaturesV2 (both have status, reason,
    features, num_frames and the metrics the reports show)."""
    version = feature_options["feature_version"]
    values = {name: feature_options[name] for name in option_names(version)}
    if version == "v1":
        face_downsample = values.pop("face_downsample")
        return v1.clip_features(v1.from_points(points, face_downsample), v1.QualityConfig(**values))
    return v2.clip_features(points, v2.V2Config(**values))


def dim(version: str, face_downsample: int) -> int:
    return v1.frame_dim(face_downsample) if version == "v1" else v2.feature_dim(face_downsample)


def column_names(version: str, face_downsample: int) -> List[str]:
    return v2.v1_column_names(face_downsample) if version == "v1" else v2.column_names(face_downsample)


def moments(version: str, features: np.ndarray, face_downsample: int) -> stats.Moments:
    """A saved clip's contribution to the global statistics.

    v1: every value of every frame. v2: per column, only the frames where its part
    was seen (count is then one number per column).
    """
    if version == "v1":
        return stats.moments_of(features)
    return stats.Moments(*v2.present_moments(features, face_downsample))


def mean_std(version: str, merged, dim_: int) -> Tuple[np.ndarray, np.ndarray]:
    if version == "v1" or merged is None:
        return stats.mean_std(merged, dim_)
    return v2.stats_from_moments(*merged)


def presence_rates(version: str, merged) -> Dict[str, float]:
    """Share of saved frames in which each part was seen (v2; v1 does not know)."""
    if version == "v1" or merged is None:
        return {}
    count, total, _ = merged
    frames = max(int(count[-1]), 1)
    return {part: float(total[-len(v2.PARTS) + i] / frames) for i, part in enumerate(v2.PARTS)}
