"""Which split each clip goes to: group-disjoint, stable as data is added, and duplicate-safe.

The rule (docs/release.md, "How the splits are made"):

1. A clip's *group* is the text of its --split_by column(s): the value itself for
   one column, a JSON list of the values for several (`["A", "2"]`).
2. A group's *position* is a number in [0, 1) that depends on its group text and
   --split_seed only: the first 8 bytes of sha256("<seed>:<group>") read as a
   big-endian integer, divided by 2**64. Positions below the train ratio go to
   train, those below train + validation to validation, the rest to test. So a
   group's split never depends on which other groups exist: adding videos or
   sentences never moves a clip already released. The ratios hold on average;
   with few groups a split can come out far from its ratio, or empty (the card
   says so).
3. A --split_file pins groups to splits; a group it does not name falls back to
   the rule (the card lists them).
4. Two clips whose .pose files have the same sha256 are the same recording.
   Groups linked by a shared recording (directly or through other groups) are
   assigned as one: they all take the split of the linked group with the lowest
   position — among the pinned groups of the set if it has any. Hence a
   recording is never on two sides of a split. The only way a released clip can
   move is that a later video is an exact copy of a recording in another group
   whose position is lower; the card lists every linked set, and passing a
   release's splits.csv as --split_file freezes its splits for good.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
from collections import defaultdict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from transforms.release.settings import SPLITS

TINY_GROUPS = 10  # a split with fewer groups than this cannot give a reliable estimate
GROUP_COLUMN = "group"
SPLIT_COLUMN = "split"


class SplitFileError(ValueError):
    """The --split_file cannot be used; the message says how to fix it."""


def group_key(row: Mapping[str, str], columns: Sequence[str]) -> str:
    if len(columns) == 1:
        return row[columns[0]]
    return json.dumps([row[c] for c in columns], ensure_ascii=False)


def position(group: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{group}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def rule_split(group: str, seed: int, ratios: Sequence[float]) -> str:
    u, bound = position(group, seed), 0.0
    for split, ratio in zip(SPLITS, ratios):
        bound += ratio
        if u < bound:
            return split
    # Only when rounding makes the ratios sum to a hair under 1: the last split with a share takes it.
    return [s for s, r in zip(SPLITS, ratios) if r > 0][-1]


def read_pins(text: str, split_by: Sequence[str], source: str = "--split_file") -> Dict[str, str]:
    """group → split from a CSV with a `group` column (a release's splits.csv is one) or the --split_by
    columns, and a `split` column. Raises SplitFileError for unknown splits or a group pinned twice."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = list(reader.fieldnames or [])
    if SPLIT_COLUMN not in header or not (GROUP_COLUMN in header or all(c in header for c in split_by)):
        raise SplitFileError(
            f"{source} has the columns {', '.join(header) or 'none'}: it needs a `split` column and either a "
            f"`group` column (as in a release's splits.csv) or the --split_by column(s) {', '.join(split_by)}.")
    pins: Dict[str, str] = {}
    unknown, conflicts = [], []
    for line, row in enumerate(reader, start=2):
        group = row[GROUP_COLUMN] if GROUP_COLUMN in header else group_key(row, split_by)
        split = (row[SPLIT_COLUMN] or "").strip()
        if split not in SPLITS:
            unknown.append(f"line {line}: {split!r}")
        elif pins.setdefault(group, split) != split:
            conflicts.append(f"{group!r} ({pins[group]} and {split})")
    if unknown:
        raise SplitFileError(f"{source} names splits that do not exist ({'; '.join(unknown[:5])}"
                             f"{'; …' if len(unknown) > 5 else ''}): use train, validation or test.")
    if conflicts:
        raise SplitFileError(f"{source} pins groups to two splits: {', '.join(conflicts[:5])}. Keep one row per group.")
    return pins


@dataclasses.dataclass(frozen=True)
class Clip:
    video_file: str
    group: str
    recording: str     # sha256 of the clip's .pose: equal for two copies of one video


@dataclasses.dataclass(frozen=True)
class DuplicateSet:
    recording: str
    video_files: Tuple[str, ...]
    split: str


@dataclasses.dataclass(frozen=True)
class MovedGroup:
    """A group that left its own split (rule or pin) to stay with a group sharing a recording."""

    group: str
    own_split: str
    split: str
    decided_by: str


@dataclasses.dataclass
class Assignment:
    split: Dict[str, str]            # video_file → split
    group: Dict[str, str]            # video_file → group
    duplicates: List[DuplicateSet]
    moved: List[MovedGroup]
    pinned_groups: int               # groups present here that the split file pins
    unpinned: Optional[List[str]]    # with a split file: groups it does not name; None without one


def assign(clips: Sequence[Clip], seed: int, ratios: Sequence[float],
           pins: Optional[Mapping[str, str]] = None) -> Assignment:
    groups = sorted({c.group for c in clips})
    own = {g: pins[g] if pins and g in pins else rule_split(g, seed, ratios) for g in groups}
    # The order that decides a linked set: pinned groups first, then by position (group text on a tie).
    rank = {g: (not (pins and g in pins), position(g, seed), g) for g in groups}

    parent = {g: g for g in groups}

    def root(g: str) -> str:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    by_recording: Dict[str, List[Clip]] = defaultdict(list)
    for c in clips:
        by_recording[c.recording].append(c)
    for same in by_recording.values():
        for c in same[1:]:
            a, b = root(same[0].group), root(c.group)
            if a != b:
                parent[max(a, b, key=rank.get)] = min(a, b, key=rank.get)

    # Every union keeps the better-ranked root, so a set's root is its deciding group.
    split_of = {g: own[root(g)] for g in groups}
    moved = [MovedGroup(g, own[g], split_of[g], root(g)) for g in groups if split_of[g] != own[g]]
    duplicates = [DuplicateSet(rec, tuple(sorted(c.video_file for c in same)), split_of[same[0].group])
                  for rec, same in sorted(by_recording.items()) if len(same) > 1]
    return Assignment(
        split={c.video_file: split_of[c.group] for c in clips},
        group={c.video_file: c.group for c in clips},
        duplicates=sorted(duplicates, key=lambda d: d.video_files),
        moved=moved,
        pinned_groups=sum(1 for g in groups if pins and g in pins),
        unpinned=None if pins is None else [g for g in groups if g not in pins],
    )


@dataclasses.dataclass
class SplitCounts:
    clips: Dict[str, int]
    groups: Dict[str, int]
    frames: Dict[str, int]
    by_category: Dict[str, Dict[str, int]]   # category → split → clips

    def small(self, ratios: Sequence[float]) -> List[Tuple[str, str]]:
        """(split, why) for every split that is empty or has too few groups to be reliable."""
        found = []
        total_groups = sum(self.groups.values())
        for split, ratio in zip(SPLITS, ratios):
            n = self.groups[split]
            if n == 0:
                why = ("its ratio is 0" if ratio == 0 else
                       f"none of the {total_groups} groups fell into it (ratio {ratio:g}); with this few groups "
                       f"add data, change --split_seed or pin groups with --split_file")
                found.append((split, f"empty: {why}"))
            elif n < TINY_GROUPS:
                found.append((split, f"tiny: {n} group(s), {self.clips[split]} clip(s), {self.frames[split]} "
                                     f"frames, of {total_groups} groups in all; too few for a reliable estimate"))
        return found


def count(assignment: Assignment, category: Mapping[str, str], frames: Mapping[str, int]) -> SplitCounts:
    clips = {s: 0 for s in SPLITS}
    frame_counts = {s: 0 for s in SPLITS}
    groups: Dict[str, set] = {s: set() for s in SPLITS}
    by_category: Dict[str, Dict[str, int]] = defaultdict(lambda: {s: 0 for s in SPLITS})
    for video_file, split in assignment.split.items():
        clips[split] += 1
        frame_counts[split] += frames[video_file]
        groups[split].add(assignment.group[video_file])
        by_category[category[video_file]][split] += 1
    return SplitCounts(clips, {s: len(g) for s, g in groups.items()}, frame_counts,
                       dict(sorted(by_category.items())))
