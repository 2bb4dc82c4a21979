"""Links between clips that are the same recording: exact (same file digest) and near (same movement).

Both kinds are `Link`s, so families.py joins them by one mechanism.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import List, Mapping, Sequence

import numpy as np

from transforms.duplicates.alignment import align
from transforms.duplicates.candidates import Candidates, candidate_pairs
from transforms.duplicates.settings import THRESHOLD
from transforms.duplicates.signature import Signatures

EXACT, NEAR = "exact", "near"


@dataclasses.dataclass(frozen=True)
class Link:
    first: str           # video_file; first < second
    second: str
    kind: str            # EXACT or NEAR
    similarity: float    # 1.0 for an exact link
    mirrored: bool = False

    def __post_init__(self):
        if not self.first < self.second:
            raise ValueError(f"a link names its clips in order: {self.first!r} < {self.second!r}")


def link(a: str, b: str, kind: str, similarity: float, mirrored: bool = False) -> Link:
    """A Link whatever the order of the two clips."""
    return Link(min(a, b), max(a, b), kind, similarity, mirrored)


def exact_links(digests: Mapping[str, str]) -> List[Link]:
    """video_file → digest of its file (the .pose sha256, or the store's MD5): each copy linked to the earliest."""
    by_digest = defaultdict(list)
    for video_file, digest in digests.items():
        by_digest[digest].append(video_file)
    links = []
    for same in by_digest.values():
        first, *others = sorted(same)
        links.extend(Link(first, other, EXACT, 1.0) for other in others)
    return sorted(links, key=lambda l: (l.first, l.second))


def near_links(video_files: Sequence[str], signatures: Signatures, threshold: float = THRESHOLD) -> List[Link]:
    """Pairs of clips whose aligned similarity reaches the threshold; video_files[i] has signatures[i].

    The best orientation of each pair is kept (both are searched).
    """
    if len(video_files) != len(signatures):
        raise ValueError(f"{len(video_files)} video files for {len(signatures)} signatures")
    pairs = candidate_pairs(signatures)
    scores, _ = align(signatures, pairs.first, pairs.second, pairs.mirrored)
    return scored_links(video_files, pairs, scores, threshold)


def scored_links(video_files: Sequence[str], pairs: Candidates, scores: np.ndarray,
                 threshold: float = THRESHOLD) -> List[Link]:
    """The links among aligned candidates (near_links' last step, apart for the benchmark to time the others)."""
    keep = scores >= threshold
    first, second, mirrored, scores = pairs.first[keep], pairs.second[keep], pairs.mirrored[keep], scores[keep]
    # Per pair, the orientation that matched best.
    order = np.lexsort((-scores, second, first))
    best = {}
    for k in order:
        best.setdefault((int(first[k]), int(second[k])), k)
    return sorted((link(video_files[i], video_files[j], NEAR, float(scores[k]), bool(mirrored[k]))
                   for (i, j), k in best.items()), key=lambda l: (l.first, l.second))
