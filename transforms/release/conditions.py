"""The evaluation conditions of a release, measured from its rows: what the card says about each split.

Per split: clips, frames, sentences (distinct `sentence_id`), values of the
held-out column ("signers", whatever the column is) and categories. Then what
each split shares with train: sentence groups (of --split_by) and held-out
values, computed from the rows, next to the zeros the rule promises. Then the
clips left out and why. The functions take rows as mappings of a release row's
fields (a plan's ClipEntry.values, or what `datasets.load_dataset` returns), so
the card and a reader of the release measure the same thing the same way.
"""
from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

from transforms.common.safe_text import code_span, markdown_text
from transforms.release.settings import HELDOUT_SPLITS
from transforms.release.splits import BLANK_VALUE, COPY_OF_SEEN, VALIDATION_SENTENCE, HeldOut, HeldOutRule, LeftOut

SENTENCE_COLUMN = "sentence_id"
MAX_LISTED = 50  # left-out clips listed by name; beyond that, counted

# split → (its held-out values, its sentences, what it measures)
CONDITIONS = {
    "train": ("seen", "train sentences", "fitting; stats.npz is over this split only"),
    "validation": ("seen", "validation sentences (in no other split)", "model selection, early stopping"),
    "test": ("seen", "unseen sentences (test)", "new sentences by people the model has seen"),
    "test_unseen_signers": ("held out", "sentences seen in training", "known sentences by people never seen"),
    "test_unseen_both": ("held out", "unseen sentences (test)", "new sentences by people never seen: the hardest"),
}
# Splits that share no sentence group with train, and (with a held-out axis) no held-out value.
NO_SHARED_GROUPS = ("validation", "test", "test_unseen_both")
NO_SHARED_VALUES = HELDOUT_SPLITS


@dataclasses.dataclass(frozen=True)
class SplitSummary:
    split: str
    clips: int
    frames: int
    sentences: int              # distinct sentence_id
    values: Optional[int]       # distinct values of the held-out column; None without one
    categories: int


@dataclasses.dataclass(frozen=True)
class Overlap:
    """What one split shares with train, counted from the rows."""

    split: str
    shared_groups: int                    # sentence groups (of --split_by) also in train
    shared_values: Optional[int]          # held-out column values also in train; None without one
    groups_promised_zero: bool
    values_promised_zero: bool


def summarize(rows: Iterable[Mapping[str, object]], splits: Sequence[str],
              heldout_by: Optional[str] = None) -> List[SplitSummary]:
    """One summary per split, in the order given (a split without rows has zeros)."""
    clips: Dict[str, int] = defaultdict(int)
    frames: Dict[str, int] = defaultdict(int)
    seen: Dict[str, Dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for row in rows:
        split = row["split"]
        clips[split] += 1
        frames[split] += int(row["num_frames"])
        seen[split]["sentences"].add(str(row[SENTENCE_COLUMN]))
        seen[split]["categories"].add(str(row["category"]))
        if heldout_by:
            seen[split]["values"].add(str(row[heldout_by]))
    return [SplitSummary(s, clips[s], frames[s], len(seen[s]["sentences"]),
                         len(seen[s]["values"]) if heldout_by else None, len(seen[s]["categories"]))
            for s in splits]


def overlaps(rows: Iterable[Mapping[str, object]], splits: Sequence[str], split_by: Sequence[str],
             heldout_by: Optional[str] = None) -> List[Overlap]:
    """What every split but train shares with train."""
    groups: Dict[str, set] = defaultdict(set)
    values: Dict[str, set] = defaultdict(set)
    for row in rows:
        groups[row["split"]].add(_group(row, split_by))
        if heldout_by:
            values[row["split"]].add(str(row[heldout_by]))
    return [Overlap(s, len(groups[s] & groups["train"]),
                    len(values[s] & values["train"]) if heldout_by else None,
                    s in NO_SHARED_GROUPS, bool(heldout_by) and s in NO_SHARED_VALUES)
            for s in splits if s != "train"]


def broken_promises(found: Sequence[Overlap], split_by: Sequence[str], heldout_by: Optional[str] = None) -> List[str]:
    """Every promised zero that the rows contradict (empty for a correct release)."""
    problems = []
    for o in found:
        if o.groups_promised_zero and o.shared_groups:
            problems.append(f"{o.split} shares {o.shared_groups} {_columns(split_by)} group(s) with train")
        if o.values_promised_zero and o.shared_values:
            problems.append(f"{o.split} shares {o.shared_values} {heldout_by} value(s) with train")
    return problems


def _group(row: Mapping[str, object], split_by: Sequence[str]) -> str:
    if len(split_by) == 1:
        return str(row[split_by[0]])
    return json.dumps([str(row[c]) for c in split_by], ensure_ascii=False)


def _columns(split_by: Sequence[str]) -> str:
    return ", ".join(map(code_span, split_by))


def conditions_markdown(rows: Sequence[Mapping[str, object]], splits: Sequence[str], split_by: Sequence[str],
                        heldout_by: Optional[str] = None, left_out: Sequence[LeftOut] = (),
                        heldout: Optional[HeldOut] = None, rule: Optional[HeldOutRule] = None,
                        seed: int = 0) -> str:
    """The card's "Evaluation conditions" section from the release's rows and, for two axes, the held-out
    decision (splits.Assignment.heldout and .left_out, the rule it was made by, --split_seed)."""
    lines = ["### Evaluation conditions", ""]
    if heldout is not None and rule is not None:
        lines += [heldout_rule_markdown(heldout, rule, seed), ""]
    lines += [summary_table(summarize(rows, splits, heldout_by), heldout_by), "",
              overlap_table(overlaps(rows, splits, split_by, heldout_by), split_by, heldout_by)]
    if heldout is not None:
        lines += ["", left_out_markdown(left_out)]
    return "\n".join(lines).rstrip() + "\n"


def heldout_rule_markdown(heldout: HeldOut, rule: HeldOutRule, seed: int) -> str:
    column, n = heldout.column, len(heldout.order)
    order = ", ".join(map(code_span, heldout.order))
    if heldout.fold is not None:
        how = f"fold {heldout.fold} of {n} (--heldout_fold={heldout.fold}) holds out value {heldout.fold} of the order"
    else:
        how = f"{rule.size_words()} holds out the first {len(heldout.by_rule)} of the order"
    text = (f"Held out: {code_span(column)} (--heldout_by) = " + ", ".join(map(code_span, heldout.held))
            + "; seen: " + ", ".join(map(code_span, heldout.seen)) + ". \"Signers\" below means values of "
            f"{code_span(column)}. The {n} values in their order, by the first 8 bytes of sha256(\"{seed}:heldout:<value>\") "
            f"(value text on a tie): {order}; {how}. The order depends on the seed and the set of values alone, so "
            f"videos of these values added later never change it.")
    if heldout.unpinned is not None:
        text += (f" The --split_file pins {len(heldout.pinned)} of the values; "
                 + ("the others follow the rule: " + ", ".join(map(code_span, heldout.unpinned)) + "."
                    if heldout.unpinned else "it names them all."))
    return text


def summary_table(summaries: Sequence[SplitSummary], heldout_by: Optional[str] = None) -> str:
    head = ["split", "signers", "sentences", "clips", "frames", "distinct sentences"]
    if heldout_by:
        head.append(f"distinct {code_span(heldout_by)}")
    head += ["categories", "measures"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summaries:
        values, sentences, use = CONDITIONS[s.split]
        cells = [s.split, values if heldout_by else "all", sentences, str(s.clips), str(s.frames), str(s.sentences)]
        if heldout_by:
            cells.append(str(s.values))
        cells += [str(s.categories), use]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def overlap_table(found: Sequence[Overlap], split_by: Sequence[str], heldout_by: Optional[str] = None) -> str:
    head = ["split", f"{_columns(split_by)} groups also in train"]
    if heldout_by:
        head.append(f"{code_span(heldout_by)} values also in train")
    lines = ["What each split shares with train, counted from the rows (\"0, promised\": the rule guarantees 0):", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for o in found:
        cells = [o.split, _shared(o.shared_groups, o.groups_promised_zero)]
        if heldout_by:
            cells.append(_shared(o.shared_values, o.values_promised_zero))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _shared(n: int, promised: bool) -> str:
    return f"{n}, promised" if promised and n == 0 else f"**{n}, 0 promised**" if promised else str(n)


def left_out_markdown(left_out: Sequence[LeftOut]) -> str:
    if not left_out:
        return "**Left out.** None: every clip is in one split."
    by_kind: Dict[str, List[LeftOut]] = defaultdict(list)
    for clip in left_out:
        by_kind[clip.kind].append(clip)
    why = {VALIDATION_SENTENCE: "a held-out value with a validation sentence (neither unseen condition applies)",
           COPY_OF_SEEN: "the same recording as a seen value's clip (kept on the seen side only)",
           BLANK_VALUE: "a blank held-out value (whose clip it is is unknown: neither side)"}
    lines = [f"**Left out.** {len(left_out)} clip(s) are in no split (`split` = left_out in splits.csv):"]
    for kind, clips in sorted(by_kind.items()):
        lines += ["", f"{len(clips)} for {why[kind]}:", ""]
        lines += [f"- {code_span(c.video_file)}: {markdown_text(c.reason)}" for c in clips[:MAX_LISTED]]
        if len(clips) > MAX_LISTED:
            lines.append(f"- … and {len(clips) - MAX_LISTED} more (see splits.csv)")
    return "\n".join(lines)

