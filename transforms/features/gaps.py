"""Short detection gaps of a part, and their filling by linear interpolation.

Pure NumPy. MediaPipe loses a hand for a few frames in fast signing (motion
blur) while the hand is obviously still there. A gap of at most `max_gap`
frames with the part seen on both sides is filled with the straight line
between the last frame before it and the first frame after it; longer gaps
and gaps at either end of the clip stay absent, because there a line would
invent a movement nobody saw (docs/features-v2.md, §Short-gap filling).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np


def short_gaps(present: np.ndarray, max_gap: int) -> np.ndarray:
    """(T,) bool: the frames of every run of absent frames of length ≤ max_gap with a seen frame on both sides."""
    present = np.asarray(present, bool)
    before, after = _neighbours(present)
    inside = (before >= 0) & (after < len(present))
    return ~present & inside & (after - before - 1 <= max_gap)


def fill_short_gaps(frames: np.ndarray, presence: np.ndarray, column_parts: np.ndarray,
                    max_gap: int) -> Tuple[np.ndarray, np.ndarray]:
    """Frames with each part's short gaps filled, and (T, parts) bool: which part was filled in which frame.

    frames (T, C): one column per value, part p's columns where column_parts == p,
    exactly 0 where the part is absent. presence (T, parts) bool: where each part
    was seen. Every column of a filled part is interpolated, in float32:
    x[t] = x[a] + (t − a)/(b − a) · (x[b] − x[a]), a and b the seen frames around t.
    """
    out = np.array(frames, dtype=np.float32, copy=True)
    filled = np.zeros(presence.shape, bool)
    for part in range(presence.shape[1]):
        gap = short_gaps(presence[:, part], max_gap)
        if not gap.any():
            continue
        filled[:, part] = gap
        before, after = _neighbours(presence[:, part])
        rows = np.flatnonzero(gap)
        a, b = before[rows], after[rows]
        weight = ((rows - a) / (b - a)).astype(np.float32)[:, None]
        columns = np.flatnonzero(column_parts == part)
        start, end = out[a[:, None], columns], out[b[:, None], columns]
        out[rows[:, None], columns] = start + weight * (end - start)
    return out, filled


def _neighbours(present: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """For every frame, the last seen frame at or before it (−1: none) and the first at or after it (T: none)."""
    frames = np.arange(len(present))
    before = np.maximum.accumulate(np.where(present, frames, -1))
    after = np.minimum.accumulate(np.where(present, frames, len(present))[::-1])[::-1]
    return before, after
