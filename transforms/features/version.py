"""A feature version: one value that the options, the video step, the reports, the release and its card ask.

Nothing outside transforms/features/ names a version or branches on one: they
look the run's version up in the registry (registry.py) by its name, the
feature options' "feature_version", and call it. A version is one module: a
`FeatureVersion` subclass that says

  * its options, their defaults and help (the --help lines and the Flex Template
    parameters come from them), and the mistakes in their values;
  * its verdict on one clip from the clip's stored landmarks (`compute`);
  * its columns (names and count), per-clip moments and the statistics made from
    their sum, and the share of frames in which each part was seen, if it knows;
  * what the reports add for it (extra processed_metadata.csv columns, which are
    fields of verdict.Measures), the text the release schema and card give its
    frames and columns, and how a standardization snippet reads for it.

Its fingerprint is the sha256 of its name and option values with the landmark
fingerprint (transforms/store/records.feature_fingerprint): changing an option
of the run's version recomputes features from the stored landmarks; changing an
option that only another version reads recomputes nothing.

Pure NumPy, no Beam or MediaPipe. docs/features.md, "Adding a feature version".
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from transforms.common import moments as stats
from transforms.features import hands
from transforms.features.landmarks import ClipPoints, frame_dim
from transforms.features.verdict import ClipVerdict


def flag(value: str) -> bool:
    """A boolean option that works bare (--keep_low_quality) and with a value (--keep_low_quality=true).

    Flex Template launchers pass every parameter as --name=value.
    """
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "y", "on"):
        return True
    if lowered in ("0", "false", "no", "n", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


@dataclasses.dataclass(frozen=True)
class Option:
    """One command-line option that changes a version's features (--name)."""

    name: str
    type: Callable[[str], object]   # int, float or flag
    default: object
    help: str
    bounds: Optional[Tuple[float, float]] = None   # inclusive; checked before any work

    def problem(self, value) -> Optional[str]:
        """What is wrong with `value`, with how to fix it; None when it is usable.

        A float must be finite whatever its bounds: NaN passes no comparison, so a threshold of NaN keeps or
        rejects everything, and it would be written into run_summary.json and feature_schema.json, which
        strict JSON readers then refuse."""
        if isinstance(value, float) and not math.isfinite(value):
            return f"--{self.name}={value} is not a number: give a finite number, e.g. --{self.name}={self.default}."
        if self.bounds is None or self.bounds[0] <= value <= self.bounds[1]:
            return None
        low, high = self.bounds
        if high == float("inf"):
            return f"--{self.name} must be {low:g} or more."
        return f"--{self.name} must be between {low:g} and {high:g}."


@dataclasses.dataclass(frozen=True)
class CardText:
    """What a release's card (transforms/release/card.py) says that depends on the feature version."""

    definition: str     # "How the data was created": which definition made the features
    standardize: str    # Python lines that standardize `x` with `stats` (and `schema`, feature_schema.json)
    standardize_note: str   # added after "Standardize with the train split's statistics (stats.npz)"
    stats_words: str    # over which values the mean and std are taken
    limits: Tuple[str, ...]  # "Known limits" lines


class FeatureVersion:
    """The interface every feature version implements; the defaults here suit a version with no
    presence columns whose statistics are over every value (as v1)."""

    name: str = ""
    help: str = ""                      # its line in --feature_version's help
    options: Tuple[Option, ...] = ()
    report_columns: Tuple[str, ...] = ()  # Measures fields processed_metadata.csv adds for this version
    frames_text: str = ""               # what a row's frames are, for the release schema
    card: CardText = CardText("", "", "", "", ())

    # --- options -------------------------------------------------------------------------------

    def option_names(self) -> Tuple[str, ...]:
        """The options whose values make this version's features (and fingerprint), in their order."""
        return tuple(o.name for o in self.options)

    def option_problems(self, values: Dict[str, object]) -> List[str]:
        """Mistakes in the values of this version's options, each with how to fix it (beyond each
        Option's own bounds, which the registry checks)."""
        return []

    # --- one clip ------------------------------------------------------------------------------

    def compute(self, points: ClipPoints, options: Dict[str, object]) -> ClipVerdict:
        """The verdict on one clip from its landmarks, with this version's option values."""
        raise NotImplementedError

    def judge(self, points: ClipPoints, options: Dict[str, object]) -> ClipVerdict:
        """compute's verdict with what every report says whatever the version: the frames decoded,
        the video's frame rate, the features' width and the clip's dominant hand."""
        verdict = self.compute(points, options)
        extra: Dict[str, object] = {}
        if not verdict.dominant_hand:
            extra["dominant_hand"], extra["dominant_hand_reason"] = hands.dominant_hand(points)
        features = verdict.features
        return dataclasses.replace(verdict, frames_decoded=len(points), source_fps=round(points.fps, 3),
                                   frame_feature_dim=features.shape[1] if features is not None else 0, **extra)

    # --- columns and statistics ----------------------------------------------------------------

    def columns(self, options: Dict[str, object]) -> List[str]:
        """The name of every column of a saved array, in order."""
        raise NotImplementedError

    def dim(self, options: Dict[str, object]) -> int:
        return len(self.columns(options))

    def columns_text(self, options: Dict[str, object]) -> str:
        """What the columns hold, for the release schema's `features` field."""
        return ""

    def column_presence(self, options: Dict[str, object]) -> Optional[List[int]]:
        """For each column, the column that says whether its part was seen (-1: none); None when the
        version has no presence columns. The release's feature_schema.json keeps it for standardizing."""
        return None

    def moments(self, features: np.ndarray, options: Dict[str, object]) -> stats.Moments:
        """A saved clip's contribution to the global statistics."""
        return stats.moments_of(features)

    def statistics(self, merged: Optional[stats.Moments], options: Dict[str, object]) -> Dict[str, np.ndarray]:
        """The arrays of global_stats.npz (and of a release's stats.npz) made from summed moments, in the
        order the files hold them: feature_mean, feature_std, frame_count, then the version's own."""
        mean, std = stats.mean_std(merged, self.dim(options))
        return dict(feature_mean=mean, feature_std=std, frame_count=np.int64(stats.frame_count(merged)))

    def presence_rates(self, merged: Optional[stats.Moments], options: Dict[str, object]) -> Dict[str, float]:
        """Share of saved frames in which each part was seen ({} when the version does not know)."""
        return {}

    def statistics_names(self) -> Tuple[str, ...]:
        """The arrays statistics() adds after frame_count, as the card lists them."""
        return ()

    # --- drawing ---------------------------------------------------------------------------------

    def drawable(self, features: np.ndarray, options: Dict[str, object]) -> np.ndarray:
        """The saved features as frame vectors in the landmark layout (transforms/features/landmarks.py:
        pose with visibility, left hand, right hand, the kept face points), for the report's skeleton
        previews; a part the version does not keep is zeros there (not drawn). This default suits a
        version whose columns start with that layout."""
        return np.asarray(features)[:, :frame_dim(int(options["face_downsample"]))]
