"""Families of clips that are one recording: union-find over exact and near links, and one report row per copy.

In each family the earliest `video_file` (string order) is the one the others are
copies of (`duplicate_of`): a rule that needs no dates and gives the same answer
whatever order the links come in. Every other member gets a row saying how it was
linked: by its strongest link (an exact one before any near one, then the highest
similarity, then the other clip's name), which may be to another copy when it
reached the family through one.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Iterable, List, Mapping, Tuple

from transforms.duplicates.links import EXACT, Link


@dataclasses.dataclass(frozen=True)
class Duplicate:
    video_file: str
    duplicate_of: str      # the family's earliest video_file
    linked_to: str         # the clip its strongest link joins it to
    kind: str              # "exact" or "near": that link's kind
    similarity: float      # that link's similarity; 1.0 for exact
    mirrored: bool         # that link matched one clip flipped left to right
    same_sentence: bool    # its sentence id is duplicate_of's


def families(links: Iterable[Link]) -> List[Tuple[str, ...]]:
    """Every family of two or more clips, members sorted, families sorted by their earliest member."""
    return components((l.first, l.second) for l in links)


def components(pairs: Iterable[Tuple[str, str]]) -> List[Tuple[str, ...]]:
    """Union-find: the connected groups of the names the pairs join, each sorted, sorted by their first name."""
    parent: Dict[str, str] = {}

    def root(clip: str) -> str:
        parent.setdefault(clip, clip)
        while parent[clip] != clip:
            parent[clip] = parent[parent[clip]]
            clip = parent[clip]
        return clip

    for first, second in pairs:
        a, b = root(first), root(second)
        if a != b:
            parent[max(a, b)] = min(a, b)   # a root stays the earliest name of its group
    members: Dict[str, List[str]] = {}
    for clip in parent:
        members.setdefault(root(clip), []).append(clip)
    return sorted(tuple(sorted(m)) for m in members.values())


def duplicate_rows(links: Iterable[Link], sentence_ids: Mapping[str, str]) -> List[Duplicate]:
    """One row per clip that is a copy of an earlier one (families()), in video_file order.

    sentence_ids: video_file → sentence id, for every linked clip.
    """
    links = list(links)
    linked = {c for l in links for c in (l.first, l.second)}
    missing = sorted(linked - set(sentence_ids))
    if missing:
        raise ValueError(f"no sentence id for linked clips {', '.join(missing[:5])}")
    strongest: Dict[str, Tuple[tuple, Link]] = {}
    for l in links:
        for clip, other in ((l.first, l.second), (l.second, l.first)):
            rank = (l.kind != EXACT, -l.similarity, other)
            if clip not in strongest or rank < strongest[clip][0]:
                strongest[clip] = (rank, l)
    rows = []
    for family in families(links):
        original = family[0]
        for clip in family[1:]:
            l = strongest[clip][1]
            rows.append(Duplicate(clip, original, l.second if l.first == clip else l.first, l.kind, l.similarity,
                                  l.mirrored, sentence_ids[clip] == sentence_ids[original]))
    return sorted(rows, key=lambda r: r.video_file)
