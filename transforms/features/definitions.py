"""The feature definitions a run can choose with --feature_version, behind one interface.

v1 (v1.py) is the team's exact definition and the default; v2 (v2.py,
docs/features-v2.md) keeps time, zeroes and flags what was not seen, and rejects
clips with no signing. Both read a clip's stored landmarks (ClipPoints), so
switching between them recomputes features and decodes no video.

Each version's options are the fields of its config dataclass, and only those
make its feature fingerprint: a v2 threshold changed on a v1 run recomputes
nothing.

v2's layout depends on one option: with fill_gaps > 0 each frame has four more
columns (filled_pose … filled_face). The layout functions take `filled` for it;
`has_filled_columns(feature_options)` says which layout a run has.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Tuple

import numpy as np

from transforms.features import hands, v1, v2
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


# The longest gap fill_gaps may fill: one second at 30 fps. Past that a hand has left
# the view or stopped being tracked, and a straight line would invent its movement.
MAX_FILL_GAPS = 30


def has_filled_columns(feature_options: Dict[str, object]) -> bool:
    """The run's features have v2's four filled columns (v2 with fill_gaps > 0)."""
    return feature_options.get("feature_version") == "v2" and int(feature_options.get("fill_gaps") or 0) > 0


def sign_aware_problems(version: str, fill_gaps: int, canonical_hand: bool) -> List[str]:
    """Mistakes in the sign-aware options, each with how to fix it; empty when they are usable."""
    problems = []
    if not 0 <= fill_gaps <= MAX_FILL_GAPS:
        problems.append(f"--fill_gaps={fill_gaps} is not a gap length: give 0 (off) to {MAX_FILL_GAPS} frames "
                        f"(a part missing longer than that is gone, not lost for a moment); 3 to 5 fills "
                        f"MediaPipe's dropouts in fast signing.")
    if version == "v1" and canonical_hand:
        problems.append("--canonical_hand needs --feature_version=v2: v1 is the team's fixed definition and "
                        "never mirrors. Add --feature_version=v2, or drop --canonical_hand.")
    if version == "v1" and fill_gaps:
        problems.append("--fill_gaps needs --feature_version=v2: v1 is the team's fixed definition and fills "
                        "nothing. Add --feature_version=v2, or drop --fill_gaps.")
    return problems


def dominant_hand(points: ClipPoints) -> Tuple[str, str]:
    """The clip's dominant hand and, when unknown, why (transforms/features/hands.py): any version."""
    return hands.dominant_hand(points)


def dim(version: str, face_downsample: int, filled: bool = False) -> int:
    return v1.frame_dim(face_downsample) if version == "v1" else v2.feature_dim(face_downsample, filled)


def column_names(version: str, face_downsample: int, filled: bool = False) -> List[str]:
    return v2.v1_column_names(face_downsample) if version == "v1" else v2.column_names(face_downsample, filled)


def moments(version: str, features: np.ndarray, face_downsample: int,
            filled: Optional[bool] = None) -> stats.Moments:
    """A saved clip's contribution to the global statistics.

    v1: every value of every frame. v2: per column, only the frames where its part
    was seen, filled frames not counted (count is then one number per column);
    filled None: the layout is told from the array's width.
    """
    if version == "v1":
        return stats.moments_of(features)
    return stats.Moments(*v2.present_moments(features, face_downsample, filled))


def mean_std(version: str, merged, dim_: int) -> Tuple[np.ndarray, np.ndarray]:
    if version == "v1" or merged is None:
        return stats.mean_std(merged, dim_)
    return v2.stats_from_moments(*merged)


def presence_rates(version: str, merged, filled: bool = False) -> Dict[str, float]:
    """Share of saved frames in which each part was seen (v2; v1 does not know).

    Seen, not filled: with filled columns a presence column's sum counts filled
    frames too, so the filled column's sum is taken off.
    """
    if version == "v1" or merged is None:
        return {}
    count, total, _ = merged
    frames = max(int(count[-1]), 1)
    parts = len(v2.PARTS)
    present = np.asarray(total[-2 * parts:-parts] if filled else total[-parts:], np.float64)
    seen = present - np.asarray(total[-parts:], np.float64) if filled else present
    return {part: float(seen[i] / frames) for i, part in enumerate(v2.PARTS)}
