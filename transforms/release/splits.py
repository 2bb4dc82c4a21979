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
4. A family of copies (transforms/duplicates: the same .pose sha256, or the same
   movement read from the landmarks) is one recording; a clip's `recording` is its
   family's. Groups linked by a shared recording, or (sentence-level splits) by
   sentence ids whose texts are one sentence (`text_key`), directly or through
   other groups, are assigned as one: they all take the split of the best-ranked
   group of the set: a pinned group first, then a group an earlier release placed
   (point 9), then the lowest position. Hence a recording is never on two sides of
   a split. The card lists every linked set, and passing a release's splits.csv as
   --split_file freezes its splits for good.

The held-out axis (--heldout_by; docs/release.md, "Evaluation conditions"):

5. The values of the held-out column (signers, say) are put in one order: by
   position of "heldout:<value>" (the first 8 bytes of
   sha256("<seed>:heldout:<value>") over 2**64), the value text breaking ties.
   The first k values of that order are held out: k = --heldout_size as a count,
   or max(1, round(share × n)) for a share (halves round up), never all n. Fold i
   (--heldout_fold=i) holds out the i-th value alone. The order depends on the
   seed and the set of values only, so videos of the values already there never
   change it; a new value can (pin with splits.csv to freeze it). A --split_file
   with the held-out column and a `heldout` column pins values; the others
   follow the rule.
6. Points 1–4 place every clip's sentence group, held-out or not. A clip's split
   is then its *condition*: a seen value gives train, validation or test as its
   sentence's split; a held-out value gives test_unseen_signers for a train
   sentence, test_unseen_both for a test sentence, and for a validation
   sentence the clip is left out (neither condition applies).
7. A recording (one .pose sha256) found under a held-out value and a seen value
   is kept on the seen side only: its held-out copies are left out, so no
   recording is on two sides of the held-out axis either.

Blank values (empty, or only spaces): in a --split_by column a blank is a value
like any other, written as it is, so the clips that share it (with the same other
--split_by values) are one group, in one split. In the held-out column a blank says
nothing about who signed: the clip could be a held-out signer's as well as a seen
one's, so it is in neither side (left out, point 8) and its blank is no value of
the order. Both are counted in the log and in the card (`blank_values`).

8. A clip whose held-out value is blank is left out.

9. Earlier releases (transforms/release/history.py): a group the previous release
   of the same split options placed keeps that split, and ranks before unplaced
   groups in a linked set. So a new copy joins its family's split, and a released
   clip moves only when a family (or text group) joins groups an earlier release
   put in different splits: a family first found among released clips, which the
   card reports with the rows that moved.
10. --drop_duplicates (drop_copies): of each family's clips in a split, the
   earliest video_file stays and the others leave the release.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
from collections import defaultdict
from fractions import Fraction
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from transforms.release.settings import ALL_SPLITS, HELDOUT_SPLITS, SPLITS, ReleaseSettings

TINY_GROUPS = 10  # a split with fewer groups than this cannot give a reliable estimate
GROUP_COLUMN = "group"
SPLIT_COLUMN = "split"
SENTENCE_SPLIT_COLUMN = "sentence_split"   # a two-axis splits.csv: the split of the clip's sentence group
HELDOUT_COLUMN = "heldout"                 # a two-axis splits.csv: true when the clip's value is held out
SPLITS_CSV_COLUMNS = ("video_file", GROUP_COLUMN, SPLIT_COLUMN)  # a one-axis release's splits.csv
LEFT_OUT = "left_out"                      # the `split` of a clip in no split, in a two-axis splits.csv
HELDOUT_SALT = "heldout"
# Conditions of a held-out value's clips, by the split of their sentence; a validation sentence has none.
UNSEEN_SPLIT = {"train": HELDOUT_SPLITS[0], "test": HELDOUT_SPLITS[1]}
# Why a clip is left out (LeftOut.kind).
VALIDATION_SENTENCE = "validation sentence"
COPY_OF_SEEN = "copy of a seen recording"
BLANK_VALUE = "blank held-out value"
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


class SplitFileError(ValueError):
    """The --split_file cannot be used; the message says how to fix it."""


class HeldOutError(ValueError):
    """Nothing sensible can be held out of these values as asked; the message says how to fix it."""


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


def heldout_position(value: str, seed: int) -> float:
    """A held-out value's position: sha256("<seed>:heldout:<value>"), read as position() reads a group's."""
    return position(f"{HELDOUT_SALT}:{value}", seed)


def is_blank(value) -> bool:
    return value is None or not str(value).strip()


def blank_values(rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> Dict[str, int]:
    """For each of `columns` (in order) that has any, how many rows have a blank value there."""
    counts = {c: 0 for c in columns}
    for row in rows:
        for c in columns:
            counts[c] += is_blank(row.get(c))
    return {c: n for c, n in counts.items() if n}


def blank_words(counts: Mapping[str, int], split_by: Sequence[str], heldout_by: Optional[str],
                what: str = "clip(s)") -> List[str]:
    """What the splits do with blank values, one sentence per column that has any (module docstring)."""
    words = []
    for column in split_by:
        if counts.get(column):
            words.append(f"{counts[column]} {what} have a blank {column} (--split_by): a blank is a value like any "
                         f"other there, so those with the same blank (and the same other --split_by values) are "
                         f"one group, all in one split.")
    if heldout_by and counts.get(heldout_by):
        words.append(f"{counts[heldout_by]} {what} have a blank {heldout_by} (--heldout_by): whose they are is "
                     f"unknown, so they are left out of every split (neither held out nor seen; left_out in "
                     f"splits.csv).")
    return words


def heldout_order(values, seed: int) -> List[str]:
    """The documented order of the held-out column's values: the rule holds out its first k, fold i its i-th.
    A blank is no value (module docstring, point 8)."""
    return sorted({v for v in values if not is_blank(v)}, key=lambda v: (heldout_position(v, seed), v))


def heldout_size(n: int, count: Optional[int] = None, share: Optional[float] = None) -> int:
    """How many of n values the rule holds out: the count, or max(1, round(share × n)) (halves up), never all n.

    The share is taken as the decimal it was written as (0.7 × 5 = 3.5 rounds to 4), not its binary float."""
    if count is not None:
        return count
    k = math.floor(Fraction(repr(share)) * n + Fraction(1, 2))
    return max(0, min(max(1, k), n - 1))


@dataclasses.dataclass(frozen=True)
class HeldOutRule:
    """What decides the held-out values: ReleaseSettings' held-out options and the split file's value pins."""

    column: str
    count: Optional[int] = None
    share: Optional[float] = None
    fold: Optional[int] = None
    pins: Optional[Mapping[str, bool]] = None    # value → held out, from a --split_file

    def __post_init__(self):
        if self.fold is None and (self.count is None) == (self.share is None):
            raise ValueError(f"a held-out rule needs a count or a share, or a fold (got {self})")

    @classmethod
    def from_settings(cls, settings: ReleaseSettings, pins: Optional[Mapping[str, bool]] = None
                      ) -> Optional["HeldOutRule"]:
        """None when the release has no held-out axis."""
        if settings.heldout_by is None:
            return None
        return cls(settings.heldout_by, settings.heldout_count, settings.heldout_share, settings.heldout_fold, pins)

    def size_words(self) -> str:
        if self.fold is not None:
            return f"--heldout_fold={self.fold}"
        return f"--heldout_size={self.count if self.count is not None else f'{self.share:g}'}"


@dataclasses.dataclass(frozen=True)
class HeldOut:
    """The held-out values decided for one release."""

    column: str
    order: Tuple[str, ...]             # every value present, in the documented order
    held: Tuple[str, ...]              # the held-out values, in that order
    by_rule: Tuple[str, ...]           # what the rule (or fold) alone would hold out
    pinned: Tuple[str, ...]            # values present that the split file pins
    unpinned: Optional[Tuple[str, ...]]  # with value pins: values present that the file does not name
    fold: Optional[int]

    @property
    def seen(self) -> Tuple[str, ...]:
        return tuple(v for v in self.order if v not in self.held)


def heldout_problems(values, seed: int, rule: HeldOutRule) -> List[str]:
    """Why these values cannot be held out as asked (empty: they can), each with how to fix it."""
    order = heldout_order(values, seed)
    n, column = len(order), rule.column
    listed = ", ".join(order[:20]) + (", …" if n > 20 else "")
    if n == 0:
        return [f"--heldout_by={column}: no clip has a value of {column}; name a column that says who signed."]
    if n == 1:
        return [f"--heldout_by={column}: every clip has the same {column} ({order[0]}), so nothing can be held out "
                f"(holding it out would leave no clip to train on). Add videos of other values of {column}, hold "
                f"out another column, or drop --heldout_by for a one-axis release."]
    problems = []
    if rule.count is not None and rule.fold is None and rule.count >= n:
        problems.append(f"--heldout_size={rule.count}: {column} has {n} values ({listed}) and at least one must stay "
                        f"seen for training: hold out at most {n - 1}, or a share such as --heldout_size=0.2.")
    if rule.fold is not None and rule.fold >= n:
        problems.append(f"--heldout_fold={rule.fold}: {column} has {n} values, so the folds are 0 to {n - 1} "
                        f"(fold i holds out value i of the order {listed}).")
    if problems:
        return problems
    pins = {v: h for v, h in (rule.pins or {}).items() if v in order}
    if rule.fold is not None and pins:
        disagree = [v for v, h in pins.items() if h != (v == order[rule.fold])]
        if disagree:
            problems.append(f"--heldout_fold={rule.fold} holds out {column} {order[rule.fold]}, but the --split_file "
                            f"pins {', '.join(f'{v} as ' + ('held out' if pins[v] else 'seen') for v in disagree)}: "
                            f"drop --heldout_fold to keep the file's choice, or pass a split file made for this fold.")
            return problems
    held = _held(order, rule)
    if not held or len(held) == n:
        what = "no value held out" if not held else "no value left seen for training"
        problems.append(f"The --split_file pins the {column} values so that, with the rule for the others, there is "
                        f"{what} ({n} values: {listed}): pin at least one value `heldout=true` and one `false`.")
    return problems


def decide_heldout(values, seed: int, rule: HeldOutRule) -> HeldOut:
    """The held-out values under the rule (module docstring, point 5); raises HeldOutError."""
    problems = heldout_problems(values, seed, rule)
    if problems:
        raise HeldOutError(" ".join(problems))
    order = heldout_order(values, seed)
    held = _held(order, rule)
    pinned = tuple(v for v in order if rule.pins and v in rule.pins)
    return HeldOut(rule.column, tuple(order), tuple(v for v in order if v in held),
                   tuple(v for v in order if v in _by_rule(order, rule)), pinned,
                   None if rule.pins is None else tuple(v for v in order if v not in rule.pins), rule.fold)


def _by_rule(order: Sequence[str], rule: HeldOutRule) -> set:
    if rule.fold is not None:
        return {order[rule.fold]}
    return set(order[:heldout_size(len(order), rule.count, rule.share)])


def _held(order: Sequence[str], rule: HeldOutRule) -> set:
    by_rule = _by_rule(order, rule)
    pins = rule.pins or {}
    return {v for v in order if (pins[v] if v in pins else v in by_rule)}


@dataclasses.dataclass(frozen=True)
class SplitPins:
    """What a --split_file pins: sentence groups to splits, held-out values to held out or seen."""

    groups: Optional[Dict[str, str]]     # group → train/validation/test; None: the file pins no group
    heldout: Optional[Dict[str, bool]]   # value → held out; None: the file pins no value

    def for_id(self):
        """What the release id hashes: the group pins alone when no value is pinned (a one-axis file's id as
        before), else both."""
        if self.heldout is None:
            return self.groups
        return {"groups": self.groups, "heldout": self.heldout}


def read_pins(text: str, split_by: Sequence[str], source: str = "--split_file") -> Dict[str, str]:
    """group → split from a CSV with a `group` column (a release's splits.csv is one) or the --split_by
    columns, and a `split` column (or, in a two-axis splits.csv, `sentence_split`). Raises SplitFileError for
    unknown splits or a group pinned twice."""
    return read_split_pins(text, split_by, None, source).groups


def read_split_pins(text: str, split_by: Sequence[str], heldout_by: Optional[str] = None,
                    source: str = "--split_file") -> SplitPins:
    """Both axes' pins from a CSV. Sentence groups: a `group` column or the --split_by columns, with a
    `sentence_split` column (a two-axis splits.csv) or else a `split` column. Held-out values (with
    heldout_by): the heldout_by column and a `heldout` column (true/false). A file may pin either axis or
    both; raises SplitFileError saying what is wrong and how to fix it."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = list(reader.fieldnames or [])
    columns = ", ".join(header) or "none"
    split_column = next((c for c in (SENTENCE_SPLIT_COLUMN, SPLIT_COLUMN) if c in header), None)
    has_group = GROUP_COLUMN in header or all(c in header for c in split_by)
    if heldout_by and HELDOUT_COLUMN in header and heldout_by not in header:
        raise SplitFileError(
            f"{source} has a `{HELDOUT_COLUMN}` column but no `{heldout_by}` column (its columns: {columns}): it "
            f"was made with another --heldout_by. Pass that one, or a file whose held-out column is {heldout_by}.")
    pins_values = bool(heldout_by) and heldout_by in header and HELDOUT_COLUMN in header
    if not (split_column and has_group) and not (pins_values and split_column is None):
        raise SplitFileError(
            f"{source} has the columns {columns}: it needs a `split` column and either a `group` column (as in a "
            f"release's splits.csv) or the --split_by column(s) {', '.join(split_by)}"
            + (f"; or, to pin held-out values, the `{heldout_by}` and `{HELDOUT_COLUMN}` (true/false) columns."
               if heldout_by else "."))
    rows = list(enumerate(reader, start=2))
    groups = _group_pins(rows, header, split_by, split_column, source) if split_column and has_group else None
    heldout = _value_pins(rows, heldout_by, source) if pins_values else None
    return SplitPins(groups, heldout)


def _group_pins(rows, header, split_by, split_column, source) -> Dict[str, str]:
    pins: Dict[str, str] = {}
    unknown: List[Tuple[int, str]] = []
    conflicts = []
    for line, row in rows:
        group = row[GROUP_COLUMN] if GROUP_COLUMN in header else group_key(row, split_by)
        split = (row[split_column] or "").strip()
        if split not in SPLITS:
            unknown.append((line, split))
        elif pins.setdefault(group, split) != split:
            conflicts.append(f"{group!r} ({pins[group]} and {split})")
    if unknown:
        listed = "; ".join(f"line {line}: {split!r}" for line, split in unknown[:5])
        conditions = any(split in HELDOUT_SPLITS + (LEFT_OUT,) for _, split in unknown)
        raise SplitFileError(
            f"{source} names splits that do not exist ({listed}{'; …' if len(unknown) > 5 else ''}): use train, "
            f"validation or test."
            + (f" A two-axis release's splits.csv pins sentence groups by its `{SENTENCE_SPLIT_COLUMN}` column; "
               f"keep that column in the file." if conditions else ""))
    if conflicts:
        raise SplitFileError(f"{source} pins groups to two splits: {', '.join(conflicts[:5])}. Keep one row per group.")
    return pins


def _value_pins(rows, heldout_by: str, source: str) -> Dict[str, bool]:
    pins: Dict[str, bool] = {}
    bad, conflicts = [], []
    for line, row in rows:
        flag = (row[HELDOUT_COLUMN] or "").strip().lower()
        if flag not in _TRUE + _FALSE:
            bad.append(f"line {line}: {row[HELDOUT_COLUMN]!r}")
            continue
        value, held = row[heldout_by], flag in _TRUE
        if pins.setdefault(value, held) != held and value not in conflicts:
            conflicts.append(value)
    if bad:
        raise SplitFileError(f"{source} has `{HELDOUT_COLUMN}` flags that are neither true nor false "
                             f"({'; '.join(bad[:5])}{'; …' if len(bad) > 5 else ''}): write true or false.")
    if conflicts:
        raise SplitFileError(f"{source} pins {heldout_by} values both held out and seen: "
                             f"{', '.join(repr(v) for v in conflicts[:5])}. Keep one flag per value.")
    return pins


@dataclasses.dataclass(frozen=True)
class Clip:
    video_file: str
    group: str
    recording: str     # its family's: the .pose sha256 of the family's earliest clip (its own outside a family)
    heldout_value: Optional[str] = None   # its value of the held-out column, in a two-axis release
    text_key: Optional[str] = None        # equal for clips whose sentence ids share one text (None: no other id)


@dataclasses.dataclass(frozen=True)
class DuplicateSet:
    recording: str
    video_files: Tuple[str, ...]
    split: str                        # of the copies kept (LEFT_OUT when none is)
    left_out: Tuple[str, ...] = ()    # copies in no split (a held-out value's, point 7)


@dataclasses.dataclass(frozen=True)
class MovedGroup:
    """A group that left its own split (rule, pin or earlier release) to stay with a group sharing a recording
    or a sentence text."""

    group: str
    own_split: str
    split: str
    decided_by: str


@dataclasses.dataclass(frozen=True)
class LeftOut:
    """A clip of a two-axis release that is in no split, and why."""

    video_file: str
    kind: str      # VALIDATION_SENTENCE or COPY_OF_SEEN
    reason: str


@dataclasses.dataclass
class Assignment:
    split: Dict[str, str]            # video_file → split, for every clip released (not those left out)
    group: Dict[str, str]            # video_file → group
    duplicates: List[DuplicateSet]
    moved: List[MovedGroup]
    pinned_groups: int               # groups present here that the split file pins
    unpinned: Optional[List[str]]    # with a split file: groups it does not name; None without one
    splits: Tuple[str, ...] = SPLITS                                   # the release's splits, in order
    sentence_split: Dict[str, str] = dataclasses.field(default_factory=dict)  # video_file → its group's split
    heldout: Optional[HeldOut] = None                                  # two-axis: the held-out values
    heldout_value: Dict[str, str] = dataclasses.field(default_factory=dict)  # two-axis: video_file → value
    left_out: Dict[str, LeftOut] = dataclasses.field(default_factory=dict)   # two-axis: clips in no split
    released_groups: int = 0                                           # groups placed by an earlier release
    dropped: Dict[str, str] = dataclasses.field(default_factory=dict)  # --drop_duplicates: copy → the one kept


def assign(clips: Sequence[Clip], seed: int, ratios: Sequence[float],
           pins: Optional[Mapping[str, str]] = None, heldout: Optional[HeldOutRule] = None,
           released: Optional[Mapping[str, str]] = None) -> Assignment:
    """Every clip's split (module docstring). heldout: the held-out axis; without it, one axis as always.
    released: group → the split an earlier release put it in (point 9). Raises HeldOutError when the values
    cannot be held out as asked."""
    sentences = _sentence_axis(clips, seed, ratios, pins, released)
    if heldout is None:
        return sentences
    return _conditions(sentences, clips, seed, heldout)


def _sentence_axis(clips: Sequence[Clip], seed: int, ratios: Sequence[float],
                   pins: Optional[Mapping[str, str]], released: Optional[Mapping[str, str]] = None) -> Assignment:
    groups = sorted({c.group for c in clips})
    pinned = {g for g in groups if pins and g in pins}
    earlier = {g for g in groups if released and g in released and released[g] in SPLITS and g not in pinned}
    own = {g: pins[g] if g in pinned else released[g] if g in earlier else rule_split(g, seed, ratios)
           for g in groups}
    # The order that decides a linked set: pinned groups first, then groups an earlier release placed, then by
    # position (group text on a tie).
    rank = {g: (g not in pinned, g not in earlier, position(g, seed), g) for g in groups}

    parent = {g: g for g in groups}

    def root(g: str) -> str:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    by_recording: Dict[str, List[Clip]] = defaultdict(list)
    by_text: Dict[str, List[Clip]] = defaultdict(list)
    for c in clips:
        by_recording[c.recording].append(c)
        if c.text_key is not None:
            by_text[c.text_key].append(c)
    for same in [*by_recording.values(), *by_text.values()]:
        for c in same[1:]:
            a, b = root(same[0].group), root(c.group)
            if a != b:
                parent[max(a, b, key=rank.get)] = min(a, b, key=rank.get)

    # Every union keeps the better-ranked root, so a set's root is its deciding group.
    split_of = {g: own[root(g)] for g in groups}
    moved = [MovedGroup(g, own[g], split_of[g], root(g)) for g in groups if split_of[g] != own[g]]
    duplicates = [DuplicateSet(rec, tuple(sorted(c.video_file for c in same)), split_of[same[0].group])
                  for rec, same in sorted(by_recording.items()) if len(same) > 1]
    split = {c.video_file: split_of[c.group] for c in clips}
    return Assignment(
        split=split,
        group={c.video_file: c.group for c in clips},
        duplicates=sorted(duplicates, key=lambda d: d.video_files),
        moved=moved,
        pinned_groups=len(pinned),
        unpinned=None if pins is None else [g for g in groups if g not in pins],
        sentence_split=dict(split),
        released_groups=len(earlier),
    )


def drop_copies(assignment: Assignment) -> Assignment:
    """--drop_duplicates: of each family's clips in a split, the earliest video_file alone stays (point 10);
    the others leave the release, splits.csv included."""
    dropped: Dict[str, str] = {}
    for d in assignment.duplicates:
        kept = [v for v in d.video_files if v in assignment.split]   # video_files are sorted
        dropped.update({v: kept[0] for v in kept[1:]})
    if not dropped:
        return assignment
    return dataclasses.replace(
        assignment, dropped=dropped,
        split={v: s for v, s in assignment.split.items() if v not in dropped},
        group={v: g for v, g in assignment.group.items() if v not in dropped},
        sentence_split={v: s for v, s in assignment.sentence_split.items() if v not in dropped})


def _conditions(sentences: Assignment, clips: Sequence[Clip], seed: int, rule: HeldOutRule) -> Assignment:
    missing = [c.video_file for c in clips if c.heldout_value is None]
    if missing:
        raise ValueError(f"clips without a value of the held-out column {rule.column}: {', '.join(missing[:5])}")
    decided = decide_heldout([c.heldout_value for c in clips], seed, rule)
    held = set(decided.held)
    seen_copy: Dict[str, Clip] = {}
    for c in sorted(clips, key=lambda c: c.video_file):
        if c.heldout_value not in held and not is_blank(c.heldout_value):
            seen_copy.setdefault(c.recording, c)
    split, left_out = {}, {}
    for c in clips:
        own = sentences.sentence_split[c.video_file]
        if is_blank(c.heldout_value):
            left_out[c.video_file] = LeftOut(
                c.video_file, BLANK_VALUE,
                f"its {rule.column} is blank ({c.heldout_value!r}): it could be a held-out or a seen one's")
        elif c.heldout_value not in held:
            split[c.video_file] = own
        elif c.recording in seen_copy:
            other = seen_copy[c.recording]
            left_out[c.video_file] = LeftOut(
                c.video_file, COPY_OF_SEEN,
                f"the same recording (.pose sha256) as {other.video_file}, whose {rule.column} "
                f"{other.heldout_value!r} is seen ({sentences.sentence_split[other.video_file]}): kept there only")
        elif own in UNSEEN_SPLIT:
            split[c.video_file] = UNSEEN_SPLIT[own]
        else:
            left_out[c.video_file] = LeftOut(
                c.video_file, VALIDATION_SENTENCE,
                f"{rule.column} {c.heldout_value!r} is held out and its sentence group is in validation: neither "
                f"unseen condition applies")
    duplicates = []
    for d in sentences.duplicates:
        kept = [split[v] for v in d.video_files if v in split]
        duplicates.append(dataclasses.replace(d, split=kept[0] if kept else LEFT_OUT,
                                              left_out=tuple(v for v in d.video_files if v in left_out)))
    return dataclasses.replace(
        sentences, split=split, duplicates=duplicates, splits=ALL_SPLITS, heldout=decided,
        heldout_value={c.video_file: c.heldout_value for c in clips}, left_out=dict(sorted(left_out.items())))


def splits_csv(assignment: Assignment) -> Tuple[Tuple[str, ...], List[Dict[str, str]]]:
    """(columns, rows) of a release's splits.csv, every clip in video_file order.

    One axis: video_file, group, split, as always. Two axes: video_file, group, sentence_split, <held-out
    column>, heldout (true/false), split (the condition, or left_out); passed back as --split_file it pins
    both axes."""
    videos = sorted(assignment.group)
    if assignment.heldout is None:
        return SPLITS_CSV_COLUMNS, [{"video_file": v, GROUP_COLUMN: assignment.group[v],
                                     SPLIT_COLUMN: assignment.split[v]} for v in videos]
    column, held = assignment.heldout.column, set(assignment.heldout.held)
    columns = ("video_file", GROUP_COLUMN, SENTENCE_SPLIT_COLUMN, column, HELDOUT_COLUMN, SPLIT_COLUMN)
    return columns, [{"video_file": v, GROUP_COLUMN: assignment.group[v],
                      SENTENCE_SPLIT_COLUMN: assignment.sentence_split[v], column: assignment.heldout_value[v],
                      HELDOUT_COLUMN: "true" if assignment.heldout_value[v] in held else "false",
                      SPLIT_COLUMN: assignment.split.get(v, LEFT_OUT)} for v in videos]


@dataclasses.dataclass
class SplitCounts:
    clips: Dict[str, int]
    groups: Dict[str, int]
    frames: Dict[str, int]
    by_category: Dict[str, Dict[str, int]]   # category → split → clips
    total_groups: Optional[int] = None       # distinct groups released (two axes share groups between splits)

    def small(self, ratios: Sequence[float]) -> List[Tuple[str, str]]:
        """(split, why) for every split that is empty or has too few groups to be reliable."""
        found = []
        total_groups = sum(self.groups.values()) if self.total_groups is None else self.total_groups
        ratio_of = dict(zip(SPLITS, ratios))
        for split in self.clips:
            n = self.groups[split]
            if n == 0:
                if split not in ratio_of:
                    why = (f"no clip of a held-out value has a {'train' if split == HELDOUT_SPLITS[0] else 'test'} "
                           f"sentence; hold out more values (--heldout_size) or add data")
                elif ratio_of[split] == 0:
                    why = "its ratio is 0"
                else:
                    why = (f"none of the {total_groups} groups fell into it (ratio {ratio_of[split]:g}); with this "
                           f"few groups add data, change --split_seed or pin groups with --split_file")
                found.append((split, f"empty: {why}"))
            elif n < TINY_GROUPS:
                found.append((split, f"tiny: {n} group(s), {self.clips[split]} clip(s), {self.frames[split]} "
                                     f"frames, of {total_groups} groups in all; too few for a reliable estimate"))
        return found


def count(assignment: Assignment, category: Mapping[str, str], frames: Mapping[str, int]) -> SplitCounts:
    """Counts over the clips released (a two-axis release's left-out clips are in none)."""
    splits = assignment.splits
    clips = {s: 0 for s in splits}
    frame_counts = {s: 0 for s in splits}
    groups: Dict[str, set] = {s: set() for s in splits}
    by_category: Dict[str, Dict[str, int]] = defaultdict(lambda: {s: 0 for s in splits})
    for video_file, split in assignment.split.items():
        clips[split] += 1
        frame_counts[split] += frames[video_file]
        groups[split].add(assignment.group[video_file])
        by_category[category[video_file]][split] += 1
    return SplitCounts(clips, {s: len(g) for s, g in groups.items()}, frame_counts,
                       dict(sorted(by_category.items())), len(set().union(*groups.values())))
