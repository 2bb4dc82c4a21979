"""What a feature version says about one clip: its verdict, and the numbers it measured on the way.

`Measures` is declared once, here. Every version's verdict carries these numbers
(a version fills the ones it knows and leaves the rest at their defaults), the
result records store them in this order (transforms/store/records.py), and the
reports' columns read them (transforms/reports/run_reports.py).

Pure Python, no NumPy work: the feature definitions build their verdicts with it.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Optional, Tuple

import numpy as np

SUCCESS, LOW_QUALITY, FAILED = "success", "low_quality", "failed"


@dataclasses.dataclass(frozen=True)
class Measures:
    """What the verdict on a clip measured: its record's numbers and the reports' columns."""

    frames_decoded: int = 0
    num_frames: int = 0
    frame_feature_dim: int = 0
    detection_ratio: float = 0.0
    mean_visibility: float = 0.0
    motion_mean: float = 0.0
    motion_p50: float = 0.0
    motion_p95: float = 0.0
    motion_max: float = 0.0
    kept_low: bool = False
    source_fps: float = 0.0      # of the video, as stored in its .pose
    trimmed_start: int = 0       # leading frames with no signer, not kept (versions that trim)
    trimmed_end: int = 0         # trailing frames with no signer, not kept
    # left, right or unknown, of the clip as filmed, from its landmarks (transforms/features/hands.py);
    # "" for a clip whose landmarks nobody saw (an undecodable video).
    dominant_hand: str = ""
    dominant_hand_reason: str = ""   # why unknown, "<label>: <details>"
    mirrored: bool = False           # the version mirrored it (v2 --canonical_hand: its dominant hand was the left)

    @classmethod
    def names(cls) -> Tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(Measures))

    def as_dict(self) -> Dict[str, object]:
        return {name: getattr(self, name) for name in Measures.names()}

    @property
    def measures(self) -> "Measures":
        """Just the numbers (a verdict without its status, reason and features)."""
        return Measures(**self.as_dict())

    def __reduce__(self):
        # Positional values, and the measures of a clip nobody measured as one shared value: a job moves
        # results by the hundred thousand, and a pickle with every field's name is three times as long.
        if type(self) is Measures and self == NOT_MEASURED:
            return _not_measured, ()
        return type(self), tuple(getattr(self, f.name) for f in dataclasses.fields(self))


NOT_MEASURED = Measures()


def _not_measured() -> Measures:
    return NOT_MEASURED


@dataclasses.dataclass(frozen=True, eq=False)
class ClipVerdict(Measures):
    """The verdict on one clip: its status, why, and unless it failed or was rejected, its features.

    frames_decoded is every frame of the clip's landmarks; num_frames the frames kept.
    """

    status: str = SUCCESS                  # success | low_quality | failed
    reason: str = ""                       # why it is low_quality or failed ("" for a clean success)
    features: Optional[np.ndarray] = None  # (num_frames, dim) float32; None when failed or rejected


def gated(verdict: ClipVerdict, reason: str, keep_low_quality: bool) -> ClipVerdict:
    """The verdict once a quality gate has spoken: unchanged without a reason; else rejected (low_quality),
    or, with keep_low_quality, kept and flagged kept_low, the reason said either way."""
    if not reason:
        return verdict
    if not keep_low_quality:
        return dataclasses.replace(verdict, status=LOW_QUALITY, reason=reason)
    return dataclasses.replace(verdict, reason=reason, kept_low=True)
