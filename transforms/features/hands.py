"""Which hand signs: a clip's dominant hand from its stored landmarks, for v1 and v2 clips alike.

Pure NumPy, cheap (one pass over the hand points) and deterministic. The rule
and why it is this one: docs/features-v2.md, §Dominant hand.

The dominant hand is the one that travels over a larger area. Each hand's
*spread* is the standard deviation of its position (the centroid of its 21
points, in pixels) over the frames where MediaPipe saw it, in units of the
signer's shoulder span. The non-dominant hand rests, holds a base shape, or is
out of view; the dominant one moves. Spread, not path length: path length adds
up MediaPipe's frame-to-frame jitter, which on a still hand is as large as a
slow real movement, while the spread of a still hand stays near zero. Frames
seen are not a measure either: the dominant hand moves fastest and so is the
one MediaPipe loses most often (SOUP.mp4: the stirring right hand is seen in
35 frames, the resting left one in 40).

"left" and "right" are the signer's own hands, as MediaPipe Holistic names them.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from transforms.features.landmarks import ClipPoints

LEFT, RIGHT, UNKNOWN = "left", "right", "unknown"
HANDS = (LEFT, RIGHT)

# A hand whose centroid spreads less than this many shoulder spans is still: on the
# demo clips a resting hand spreads 0.02–0.03 from MediaPipe's jitter, a signing hand 0.2–0.45.
MIN_SPREAD = 0.05
# One hand must spread this many times the other's, so that two hands working alike
# (a symmetric two-handed sign: FOOTBALL.mp4, 1.2×) give no verdict rather than noise.
MARGIN = 1.5

L_SHOULDER, R_SHOULDER = 11, 12

# Reason labels, as v2's reasons: "<label>: <details>".
NO_HANDS = "No hands"
NO_SHOULDERS = "No shoulders"
HANDS_STILL = "Hands still"
HANDS_ALIKE = "Hands alike"


def dominant_hand(points: ClipPoints) -> Tuple[str, str]:
    """("left" | "right", "") or ("unknown", "<label>: <why>") for one clip's landmarks."""
    total = len(points)
    seen = {hand: np.asarray(getattr(points, f"{hand}_hand_present"), bool) for hand in HANDS}
    if not any(s.any() for s in seen.values()):
        return UNKNOWN, f"{NO_HANDS}: no hand was seen in any of the {total} frames"
    unit = shoulder_span(points)
    if unit <= 0:
        return UNKNOWN, (f"{NO_SHOULDERS}: no frame has a pose with both shoulders, so hand movement has "
                         f"no scale to be measured in")
    left, right = (hand_spread(points, hand) / unit for hand in HANDS)
    measured = f"the left hand spreads {left:.3f} shoulder spans, the right {right:.3f}"
    if max(left, right) < MIN_SPREAD:
        return UNKNOWN, f"{HANDS_STILL}: {measured} (a signing hand spreads at least {MIN_SPREAD:g})"
    if max(left, right) < MARGIN * min(left, right):
        return UNKNOWN, f"{HANDS_ALIKE}: {measured} (one must spread {MARGIN:g}× the other)"
    return (LEFT if left > right else RIGHT), ""


def hand_spread(points: ClipPoints, hand: str) -> float:
    """Standard deviation (pixels) of the hand's centroid over the frames where it was seen; 0 if seen in < 2.

    sqrt(var(x) + var(y)) with x, y in pixels, so both axes are in the same unit
    whatever the frame's shape.
    """
    present = np.asarray(getattr(points, f"{hand}_hand_present"), bool)
    if present.sum() < 2:
        return 0.0
    xy = np.asarray(getattr(points, f"{hand}_hand"), np.float64)[present, :, :2].mean(axis=1)
    xy *= (points.width, points.height)
    return float(np.sqrt(xy.var(axis=0).sum()))


def shoulder_span(points: ClipPoints) -> float:
    """Median distance in pixels between the shoulders over the frames with a pose; 0 without any.

    v2's shoulder_width times the frame width: the signer's size, whatever the resolution.
    """
    present = np.asarray(points.pose_present, bool)
    shoulders = np.asarray(points.pose, np.float64)[present][:, [L_SHOULDER, R_SHOULDER], :2]
    spans = np.hypot(*((shoulders[:, 0] - shoulders[:, 1]) * (points.width, points.height)).T)
    spans = spans[np.isfinite(spans)]
    return float(np.median(spans)) if spans.size else 0.0
