"""Which pairs of clips are worth aligning: an indexed search, never all pairs.

Pure NumPy. Each clip gets a short vector (its *key*): the nose, elbows and hands
at KEY_TAPS instants KEY_STEP seconds apart around the middle of the clip, in the
signature's shoulder-span units (90 numbers). A copy keeps real time, so its key
lies close to the original's; trimming moves the middle by half the difference of
the two ends' trims (up to 2.5 frames, 0.17 s at 15 fps, for trims of up to 5
frames), so a clip also asks with its key taken QUERY_SHIFTS seconds off its middle,
and with each of these keys mirrored (left and right exchanged, x negated). The
shoulders are left out: after the per-clip normalization they sit at (±0.5, 0) for
everyone. The points are not weighted by reliability here: MediaPipe's visibility of
an arm changes between a clip and its flipped copy (test_video's left wrist: 0.47 and
0.22), and a key that follows it drifts further than one that does not.

The search is a coarse quantization (an inverted file): k-means puts the clips'
keys into about sqrt(N) cells; each asking key is compared, by one matrix product
per cell, with the keys of the PROBES cells nearest to it. Pairs closer than
SEARCH_RADIUS whose durations allow the alignment's overlap are the candidates.
Distances are computed for about 10 × PROBES × N^1.5 pairs of keys rather than N²/2,
and memory holds one set of keys at a time. Measured (docs/duplicates.md,
§Candidate search): real copies lie 0.05–0.96 from their original, distinct real
recordings at least 1.52 apart.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from transforms.duplicates.alignment import MIN_OVERLAP
from transforms.duplicates.signature import MIRROR, SAMPLES, Signatures

KEY_POINTS = (0, 3, 4, 5, 6)   # signature points: nose, elbows, hands
_KEY_MIRROR = [KEY_POINTS.index(int(MIRROR[p])) for p in KEY_POINTS]
KEY_TAPS = 9
KEY_STEP = 0.12                # seconds
# A clip asks with its key taken this many seconds before and after its middle too, so a copy whose
# middle moved (trimmed more at one end than the other) still finds it.
QUERY_SHIFTS = (-0.12, -0.06, 0.0, 0.06, 0.12)
SEARCH_RADIUS = 1.0            # key distance, in shoulder spans
PROBES = 3
_KMEANS_ROUNDS = 8
_KMEANS_SAMPLE = 64            # training keys per cell
_BLOCK = 8192                  # keys whose nearest cells are found at once


@dataclasses.dataclass(frozen=True)
class Candidates:
    first: np.ndarray      # (M,) int: index of the clip in the Signatures, always < second
    second: np.ndarray     # (M,) int
    mirrored: np.ndarray   # (M,) bool: the second clip's key matched once mirrored

    def __len__(self) -> int:
        return len(self.first)


def keys(signatures: Signatures, shift: float = 0.0) -> np.ndarray:
    """(N, KEY_TAPS × 5 × 2) float32: the tracked points around each clip's middle (+ shift; clamped to the clip)."""
    out = np.empty((len(signatures), KEY_TAPS * len(KEY_POINTS) * 2), np.float32)
    points = list(KEY_POINTS)
    for start in range(0, len(signatures), _BLOCK):
        block = slice(start, start + _BLOCK)
        trajectory, duration = signatures.trajectory[block], signatures.duration[block, None]
        taps = duration / 2 + shift + (np.arange(KEY_TAPS) - KEY_TAPS // 2)[None, :] * KEY_STEP
        position = np.clip(taps * SAMPLES / duration - 0.5, 0, SAMPLES - 1)
        low = np.minimum(np.floor(position).astype(int), SAMPLES - 2)
        frac = (position - low).astype(np.float32)[:, :, None, None]
        rows = np.arange(len(trajectory))[:, None]
        at = trajectory[rows, low][:, :, points] * (1 - frac) + trajectory[rows, low + 1][:, :, points] * frac
        out[block] = at.reshape(len(trajectory), -1)
    return out


def candidate_pairs(signatures: Signatures, radius: float = SEARCH_RADIUS, probes: int = PROBES,
                    seed: int = 0) -> Candidates:
    """Pairs of clips whose keys (one of them mirrored or not) lie within `radius`; each pair once per orientation."""
    n = len(signatures)
    if n < 2:
        return Candidates(np.zeros(0, int), np.zeros(0, int), np.zeros(0, bool))
    plain = keys(signatures)
    centroids = _kmeans(plain, max(1, int(round(np.sqrt(n)))), np.random.default_rng(seed))
    members_by_cell = _group(_nearest(plain, centroids, 1)[:, 0], len(centroids))
    probes = min(probes, len(centroids))

    # One set of asking keys at a time (a shift, an orientation), each pair kept once: memory stays at one key
    # per clip and one code per candidate.
    codes = np.zeros(0, np.int64)
    for flipped in (False, True):
        for shift in QUERY_SHIFTS:
            queries = keys(signatures, shift)
            if flipped:
                queries = mirrored_keys(queries)
            probed = _nearest(queries, centroids, probes)
            asking_by_cell = _group(probed.ravel(), len(centroids), np.repeat(np.arange(n), probes))
            found = []
            for members, asking in zip(members_by_cell, asking_by_cell):
                if len(members) and len(asking):
                    q, m = np.nonzero(_squared_distances(queries[asking], plain[members]) <= radius ** 2)
                    found.append(np.stack([asking[q], members[m]]))
            clip, other = np.concatenate(found, axis=1) if found else np.zeros((2, 0), int)
            first, second = np.minimum(clip, other), np.maximum(clip, other)
            # Not itself, and not longer than the alignment can overlap (MIN_OVERLAP): no copy.
            da, db = signatures.duration[first], signatures.duration[second]
            keep = (first != second) & (np.minimum(da, db) >= MIN_OVERLAP * np.maximum(da, db))
            codes = np.union1d(codes, (first[keep].astype(np.int64) * n + second[keep]) * 2 + flipped)
    return Candidates((codes // 2 // n).astype(int), (codes // 2 % n).astype(int), (codes % 2).astype(bool))


def mirrored_keys(plain: np.ndarray) -> np.ndarray:
    """The keys the clips flipped left to right would have: each key point takes its twin's values, x negated."""
    points = plain.reshape(len(plain), KEY_TAPS, len(KEY_POINTS), 2)
    return (points[:, :, _KEY_MIRROR] * np.array([-1.0, 1.0], np.float32)).reshape(plain.shape)


def _kmeans(points: np.ndarray, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Lloyd's k-means on a sample of the keys; a cell left empty keeps its centre."""
    sample = points[rng.choice(len(points), min(len(points), cells * _KMEANS_SAMPLE), replace=False)]
    centroids = sample[rng.choice(len(sample), cells, replace=False)].copy()
    for _ in range(_KMEANS_ROUNDS):
        nearest = _nearest(sample, centroids, 1)[:, 0]
        counts = np.bincount(nearest, minlength=cells)
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, sample)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


def _nearest(points: np.ndarray, centroids: np.ndarray, k: int) -> np.ndarray:
    """(len(points), k): indices of the k nearest centroids, nearest first."""
    out = np.empty((len(points), k), int)
    for start in range(0, len(points), _BLOCK):
        d = _squared_distances(points[start:start + _BLOCK], centroids)
        part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < d.shape[1] else np.tile(np.arange(d.shape[1]),
                                                                                          (len(d), 1))
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1)
        out[start:start + _BLOCK] = np.take_along_axis(part, order, axis=1)
    return out


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0)


def _group(labels: np.ndarray, count: int, values: np.ndarray = None):
    """[values whose label is c for c in range(count)] (values default: the positions)."""
    values = np.arange(len(labels)) if values is None else values
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    return [values[order[bounds[c]:bounds[c + 1]]] for c in range(count)]
