"""Moments of saved clips and their sums: the global feature statistics (§Global statistics).

Each clip contributes its moments (frame count, Σx and Σx² per feature, in
float64), computed once where its array is written; the statistics only add
moments, in feature-stem order (transforms/reports/run_reports.py). Records keep
each clip's moments, so statistics over unchanged clips never read their arrays again.
"""
from __future__ import annotations

import math
from typing import Mapping, NamedTuple, Optional, Tuple

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


# --- exact sums ------------------------------------------------------------------------------------
#
# Float additions depend on their order, and a Beam runner adds in any order it likes (it lifts a
# combine into each bundle and merges the partial sums however they arrive). ExactMoments adds the
# float64 values exactly instead: each value is an integer times a power of two, and integers add
# without rounding, so the same clips give the same bits whatever the order, the bundles and the merges.
# Subtraction is exact too, which lets a re-run take a changed clip out of a stored total and put its
# new moments in, without summing the others again. Rounding happens once, when the total becomes floats.

class ExactMoments(NamedTuple):
    """Moments summed exactly: count as in Moments; each column's Σx and Σx² as (mantissa, exponent)
    integer pairs whose value is mantissa × 2**exponent."""

    count: object                      # int, or a tuple of ints (a count per column)
    total: Tuple[Tuple[int, int], ...]
    total_sq: Tuple[Tuple[int, int], ...]

    @classmethod
    def of(cls, m: Moments) -> "ExactMoments":
        count = tuple(int(c) for c in m.count) if np.ndim(m.count) else int(m.count)
        return cls(count, _exact(m.total), _exact(m.total_sq))

    def negated(self) -> "ExactMoments":
        count = tuple(-c for c in self.count) if isinstance(self.count, tuple) else -self.count
        return ExactMoments(count, tuple((-m, e) for m, e in self.total), tuple((-m, e) for m, e in self.total_sq))

    def plus(self, other: "ExactMoments") -> "ExactMoments":
        if isinstance(self.count, tuple) != isinstance(other.count, tuple) or len(self.total) != len(other.total):
            raise ValueError("moments of different layouts cannot be added")
        count = (tuple(a + b for a, b in zip(self.count, other.count)) if isinstance(self.count, tuple)
                 else self.count + other.count)
        return ExactMoments(count, _add(self.total, other.total), _add(self.total_sq, other.total_sq))

    def rounded(self) -> Optional[Moments]:
        """The sums as float64 (each rounded once, to nearest); None when no frame is left."""
        count = np.asarray(self.count, np.int64) if isinstance(self.count, tuple) else int(self.count)
        if np.max(count) == 0:
            return None
        return Moments(count, _floats(self.total), _floats(self.total_sq))

    def to_json(self) -> dict:
        """Integers as text: JSON numbers of this size would lose digits in most readers."""
        return {"count": list(self.count) if isinstance(self.count, tuple) else self.count,
                "sum": [f"{m:x}p{e}" for m, e in self.total], "sum_sq": [f"{m:x}p{e}" for m, e in self.total_sq]}

    @classmethod
    def from_json(cls, data: dict) -> "ExactMoments":
        def pairs(texts):
            return tuple((int(m, 16), int(e)) for m, e in (t.split("p") for t in texts))

        count = tuple(int(c) for c in data["count"]) if isinstance(data["count"], list) else int(data["count"])
        return cls(count, pairs(data["sum"]), pairs(data["sum_sq"]))


def _exact(values: np.ndarray) -> Tuple[Tuple[int, int], ...]:
    """Each float64 as (mantissa, exponent), exactly: frexp's 53-bit mantissa as an integer."""
    mantissas, exponents = np.frexp(np.asarray(values, dtype=np.float64))
    if not np.isfinite(mantissas).all():
        raise ValueError("moments must be finite")
    integers = (mantissas * float(2 ** 53)).astype(np.int64)
    return tuple(_trimmed(int(m), int(e) - 53) for m, e in zip(integers.tolist(), exponents.tolist()))


def _trimmed(mantissa: int, exponent: int) -> Tuple[int, int]:
    """The same value with no trailing zero bits in the mantissa, so equal values have one spelling."""
    if mantissa == 0:
        return 0, 0
    zeros = (mantissa & -mantissa).bit_length() - 1
    return mantissa >> zeros, exponent + zeros


def _add(a: Tuple[Tuple[int, int], ...], b: Tuple[Tuple[int, int], ...]) -> Tuple[Tuple[int, int], ...]:
    out = []
    for (ma, ea), (mb, eb) in zip(a, b):
        if ma == 0:
            out.append((mb, eb))
        elif mb == 0:
            out.append((ma, ea))
        else:
            e = min(ea, eb)
            out.append(_trimmed((ma << (ea - e)) + (mb << (eb - e)), e))
    return tuple(out)


def _floats(pairs: Tuple[Tuple[int, int], ...]) -> np.ndarray:
    # float(int) rounds to nearest (ties to even); ldexp then scales exactly for the magnitudes moments have.
    return np.array([math.ldexp(float(m), e) if m else 0.0 for m, e in pairs], dtype=np.float64)
