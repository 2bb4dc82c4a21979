"""Moments of saved clips and their sums: the global feature statistics (§Global statistics).

Each clip contributes its moments (frame count, Σx and Σx² per feature, in
float64), computed once where its array is written; the statistics only add
moments, in feature-stem order (transforms/reports/run_reports.py). Records keep
each clip's moments, so statistics over unchanged clips never read their arrays again.
"""
from __future__ import annotations

from typing import Mapping, NamedTuple, Optional

import numpy as np

STD_FLOOR = 1e-8  # variance floor of the v1 definition: std = sqrt(max(var, 1e-8))


class Moments(NamedTuple):
    count: int             # or, for features v2, (D,) int64: frames in which each column was seen
    total: np.ndarray      # (D,) float64, Σx
    total_sq: np.ndarray   # (D,) float64, Σx²


def moments_of(frames: np.ndarray) -> Moments:
    x = np.asarray(frames, dtype=np.float64)
    return Moments(len(x), x.sum(axis=0), np.square(x).sum(axis=0))


def add(a: Optional[Moments], b: Optional[Moments]) -> Optional[Moments]:
    if a is None:
        return b
    if b is None:
        return a
    return Moments(a.count + b.count, a.total + b.total, a.total_sq + b.total_sq)


def frame_count(m: Optional[Moments]) -> int:
    """Frames behind the moments (v2 counts per column; its presence columns count every frame)."""
    return 0 if m is None else int(np.max(m.count))


def mean_std(m: Optional[Moments], dim: int):
    """feature_mean and feature_std as float32 (D,); with no frames, zeros and the floor."""
    if m is None or m.count == 0:
        return np.zeros(dim, np.float32), np.full(dim, np.sqrt(STD_FLOOR), np.float32)
    mean = m.total / m.count
    var = np.maximum(m.total_sq / m.count - mean ** 2, STD_FLOOR)
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


def sum_in_order(by_clip: Mapping[str, Moments]) -> Optional[Moments]:
    """The clips' moments added in key order (the feature stem): the same clips give the same bits
    whatever order they arrived in, on any runner; None without clips."""
    total = None
    for key in sorted(by_clip):
        total = add(total, by_clip[key])
    return total
