"""How alike two clips' movements are once one is shifted in time onto the other: the near-duplicate similarity.

Pure NumPy, vectorized over pairs of signatures (signature.py).

A copy keeps real time: re-encoding, downscaling and another frame rate keep every
movement at the same second, and trimming a few frames only moves the start. So
the alignment is a shift in seconds, nothing else: clip b's samples at b's times t
are compared with clip a at t + shift, a interpolated between its samples. Every
shift that leaves an overlap of MIN_OVERLAP of the longer clip is reachable: whole
samples two apart first, then steps of 1, 1/2 and 1/4 sample around each pair's best
(21 shifts per pair); the best wins. No warping: a re-take, signed again at its own
pace, keeps its differences in timing (docs/duplicates.md, §Limits).

At a shift, over the samples both clips cover, with point weights
ω = min(reliability_a, reliability_b)² (a point one clip barely saw counts little),
normalized to sum to 1:

    residual = Σ ω |a − b|²  averaged over the samples       (2-D, shoulder spans²)
    motion   = Σ ω (|a − ā|² + |b − b̄|² + |ā − b̄|²)         (ā, b̄: each point's mean)
    similarity = 1 − residual / min(motion, MOTION_CAP²)

Below the cap this is Lin's concordance correlation: 1 for identical movement, about
0 for unrelated movement, and low when the clips hardly move (then MediaPipe's noise
is as large as the movement, so no claim is made). Above the cap, movement earns no
further credit and the clips must agree in absolute terms (to within about
MOTION_CAP × sqrt(1 − threshold) shoulder spans): a large sign repeated in a re-take
is not a copy because its large movement correlates.

Cost: about 55 µs per pair and orientation on these machines (docs/duplicates.md, §Scale).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from transforms.duplicates.signature import MIRROR, SAMPLES, Signature, Signatures, stack

# The aligned overlap must cover this share of the longer clip: a copy trimmed by up to 30 % of its
# length in all is still compared (measured copies lose up to 10 frames of 41: 24 %, and a copy of
# another frame rate can be 2 % longer than its original).
MIN_OVERLAP = 0.7
# Shoulder spans (root mean square over the points): movement above it earns no more credit.
MOTION_CAP = 0.15
# Coarse shifts, in samples of b: enough for the whole range MIN_OVERLAP allows (b the shorter clip).
_REACH = int(np.ceil((1 - MIN_OVERLAP) / MIN_OVERLAP * SAMPLES))
_CHUNK = 512    # pairs scored at once: a few MB of float32 temporaries, which stay in cache


@dataclasses.dataclass(frozen=True)
class Match:
    similarity: float
    mirrored: bool     # b matched a once flipped left to right
    shift: float       # seconds: b's time t is a's time t + shift


def similarity(a: Signature, b: Signature) -> Match:
    """The better of b as it is and b mirrored, aligned onto a."""
    both = stack([a, b])
    first, second = np.zeros(2, int), np.ones(2, int)
    scores, shifts = align(both, first, second, np.array([False, True]))
    best = int(np.argmax(scores))
    return Match(float(scores[best]), bool(best), float(shifts[best]))


def align(signatures: Signatures, first: np.ndarray, second: np.ndarray, mirrored: np.ndarray):
    """(similarity, shift in seconds) for each pair (first[k], second[k]), the second mirrored where asked.

    −inf where no shift gives the overlap MIN_OVERLAP requires (durations too far apart) or
    no point is reliable in both clips.
    """
    first, second = np.asarray(first, int), np.asarray(second, int)
    mirrored = np.asarray(mirrored, bool)
    scores, shifts = np.full(len(first), -np.inf), np.zeros(len(first))
    for start in range(0, len(first), _CHUNK):
        part = slice(start, start + _CHUNK)
        scores[part], shifts[part] = _align_chunk(signatures, first[part], second[part], mirrored[part])
    return scores, shifts


def _align_chunk(signatures: Signatures, first, second, mirrored):
    pairs = len(first)
    b = signatures.trajectory[second]
    b_reliability = signatures.reliability[second]
    b = np.where(mirrored[:, None, None, None], b[:, :, MIRROR] * np.array([-1.0, 1.0], np.float32), b)
    b_reliability = np.where(mirrored[:, None], b_reliability[:, MIRROR], b_reliability)
    weight = np.minimum(signatures.reliability[first], b_reliability) ** 2
    total = weight.sum(axis=1, keepdims=True)
    weight = np.divide(weight, total, out=np.zeros_like(weight), where=total > 0)
    weight = np.repeat(weight, 2, axis=1).astype(np.float32)            # one weight per channel (x, y)
    grid = _Grid(signatures.trajectory[first].reshape(pairs, SAMPLES, -1), b.reshape(pairs, SAMPLES, -1), weight,
                 signatures.duration[first], signatures.duration[second])

    # Shifts in b's samples: every other sample over the whole allowed range, then halving the step
    # around each pair's best down to a quarter sample.
    best, best_step = np.full(pairs, -np.inf), np.zeros(pairs)
    for step in range(-_REACH, _REACH + 1, 2):
        better = _keep_best(best, grid.score_all(step))
        best_step[better] = step
    for refine in (1.0, 0.5, 0.25):
        around = best_step.copy()
        for offset in (-refine, refine):
            better = _keep_best(best, grid.score_each(around + offset))
            best_step[better] = around[better] + offset
    best[total[:, 0] <= 0] = -np.inf
    return best, best_step * signatures.duration[second] / SAMPLES


def _keep_best(best, score):
    better = score > best
    best[better] = score[better]
    return better


class _Grid:
    """A chunk of pairs, with a read once at b's sample times under every whole-sample shift.

    The coarse search then slices instead of interpolating; the refinement interpolates a at its own shifts.
    """

    def __init__(self, a, b, weight, da, db):
        self.a, self.b, self.weight, self.da, self.db = a, b, weight, da, db
        self.bw = b * weight[:, None, :]
        self.bb = np.einsum("klc,klc->kl", self.bw, b)                                   # (pairs, S)
        whole = np.arange(SAMPLES + 2 * _REACH) - _REACH                                   # b's sample + shift
        self.a_whole, self.aa_whole, self.in_whole = self._read_a(np.broadcast_to(whole, (len(a), len(whole))))

    def _read_a(self, b_samples: np.ndarray):
        """a interpolated at the times of b's (fractional) sample numbers: values, weighted squares, inside a."""
        position = (b_samples + 0.5) * (self.db / self.da)[:, None] - 0.5                 # in a's samples
        inside = ((position >= -1e-9) & (position <= SAMPLES - 1 + 1e-9)).astype(np.float32)
        low = np.clip(np.floor(position), 0, SAMPLES - 2).astype(np.intp)
        frac = np.clip(position - low, 0, 1).astype(np.float32)[:, :, None]
        rows = np.arange(len(self.a))[:, None]
        values = (self.a[rows, low] * (1 - frac) + self.a[rows, low + 1] * frac) * inside[:, :, None]
        return values, np.einsum("kfc,kc->kf", values * values, self.weight), inside

    def score_all(self, step: int) -> np.ndarray:
        """Every pair's similarity with b shifted by the same whole number of samples."""
        view = slice(_REACH + step, _REACH + step + SAMPLES)
        return self._score(self.a_whole[:, view], self.aa_whole[:, view], self.in_whole[:, view],
                           np.full(len(self.b), float(step)))

    def score_each(self, steps: np.ndarray) -> np.ndarray:
        """Each pair's similarity with b shifted by its own (fractional) number of samples."""
        return self._score(*self._read_a(np.arange(SAMPLES)[None, :] + steps[:, None]), steps)

    def _score(self, a_at, aa_at, inside, steps):
        weight, b = self.weight, self.b
        shift = steps * self.db / SAMPLES
        overlap = np.minimum(self.da, shift + self.db) - np.maximum(0.0, shift)
        allowed = overlap >= MIN_OVERLAP * np.maximum(self.da, self.db) - 1e-9
        count = inside.sum(axis=1)
        n = np.maximum(count, 1)
        sum_a = a_at.sum(axis=1)                                                      # (pairs, C)
        sum_b = np.einsum("kl,klc->kc", inside, b)
        aa = aa_at.sum(axis=1)
        ab = np.einsum("klc,klc->k", a_at, self.bw)
        bb = (inside * self.bb).sum(axis=1)
        mean_a, mean_b = sum_a / n[:, None], sum_b / n[:, None]
        residual = np.maximum(aa - 2 * ab + bb, 0) / n          # ≥ 0 but for float32 rounding
        spread = (aa - (weight * mean_a * sum_a).sum(axis=1) + bb - (weight * mean_b * sum_b).sum(axis=1)) / n
        motion = spread + (weight * (mean_a - mean_b) ** 2).sum(axis=1)
        denominator = np.minimum(motion, MOTION_CAP ** 2)
        score = 1 - np.divide(residual, denominator, out=np.full(len(b), np.inf), where=denominator > 0)
        return np.where(allowed & (count >= 2), score, -np.inf)
