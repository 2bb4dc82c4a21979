"""How alike two clips' movements are once one is shifted in time onto the other: the near-duplicate similarity.

Pure NumPy, vectorized over pairs of signatures (signature.py).

A copy keeps real time: re-encoding, downscaling and another frame rate keep every
movement at the same second, and trimming a few frames only moves the start. So
the alignment is a shift in seconds, nothing else: clip b's samples at b's times t
are compared with clip a at t + shift, a interpolated between its samples. Shifts
from −(1 − MIN_OVERLAP) to +(1 − MIN_OVERLAP) of the longer clip are tried, one
sample apart and then a quarter sample apart around the best one; the best wins.
No warping: a re-take, signed again at its own pace, keeps its differences in
timing (docs/duplicates.md, §Limits).

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
_FINE_STEPS = np.array([-0.75, -0.5, -0.25, 0.25, 0.5, 0.75])
_CHUNK = 4096   # pairs scored at once: about 60 MB of float32 temporaries


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
    a = signatures.trajectory[first]
    b = signatures.trajectory[second]
    b_reliability = signatures.reliability[second]
    b = np.where(mirrored[:, None, None, None], b[:, :, MIRROR] * np.array([-1.0, 1.0], np.float32), b)
    b_reliability = np.where(mirrored[:, None], b_reliability[:, MIRROR], b_reliability)
    weight = np.minimum(signatures.reliability[first], b_reliability) ** 2
    total = weight.sum(axis=1, keepdims=True)
    weight = np.divide(weight, total, out=np.zeros_like(weight), where=total > 0)
    da, db = signatures.duration[first], signatures.duration[second]

    # Shifts in units of b's sample spacing: coarse over the whole allowed range, then fine around the best.
    spacing = db / SAMPLES
    best, best_step = np.full(len(first), -np.inf), np.zeros(len(first))
    for step in range(-_REACH, _REACH + 1):
        _keep_best(best, best_step, _score(a, b, weight, da, db, np.full(len(first), step) * spacing), step)
    coarse = best_step.copy()
    for offset in _FINE_STEPS:
        steps = coarse + offset
        _keep_best(best, best_step, _score(a, b, weight, da, db, steps * spacing), steps)
    best[total[:, 0] <= 0] = -np.inf
    return best, best_step * spacing


def _keep_best(best, best_step, score, step):
    better = score > best
    best[better] = score[better]
    best_step[better] = np.broadcast_to(step, best.shape)[better]


def _score(a, b, weight, da, db, shift):
    """Similarity of each pair with b's sample times moved by `shift` seconds onto a's time axis."""
    overlap = np.minimum(da, shift + db) - np.maximum(0.0, shift)
    allowed = overlap >= MIN_OVERLAP * np.maximum(da, db) - 1e-9

    times = (np.arange(SAMPLES) + 0.5)[None, :] * (db / SAMPLES)[:, None] + shift[:, None]
    position = times * (SAMPLES / da)[:, None] - 0.5           # in a's samples
    inside = (position >= -1e-9) & (position <= SAMPLES - 1 + 1e-9)
    low = np.clip(np.floor(position), 0, SAMPLES - 2).astype(int)
    frac = np.clip(position - low, 0, 1).astype(np.float32)[:, :, None, None]
    rows = np.arange(len(a))[:, None]
    a_at = a[rows, low] * (1 - frac) + a[rows, low + 1] * frac     # (pairs, SAMPLES, POINTS, 2)

    mask = inside[:, :, None, None].astype(np.float32)
    count = np.maximum(inside.sum(axis=1), 1)[:, None, None]
    mean_a = (a_at * mask).sum(axis=1) / count                      # (pairs, POINTS, 2)
    mean_b = (b * mask).sum(axis=1) / count
    residual = (((a_at - b) ** 2 * mask).sum(axis=(1, 3)) / count[:, :, 0] * weight).sum(axis=1)
    spread = ((((a_at - mean_a[:, None]) ** 2 + (b - mean_b[:, None]) ** 2) * mask).sum(axis=(1, 3))
              / count[:, :, 0])
    motion = ((spread + ((mean_a - mean_b) ** 2).sum(axis=2)) * weight).sum(axis=1)
    denominator = np.minimum(motion, MOTION_CAP ** 2)
    score = 1 - np.divide(residual, denominator, out=np.full(len(a), np.inf), where=denominator > 0)
    return np.where(allowed & (inside.sum(axis=1) >= 2), score, -np.inf)
