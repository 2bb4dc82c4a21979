"""The options a release is built with, parsed and checked before any work.

Defaults live in pipeline/options.py (GhslOptions, "dataset release"); this
module turns the option values into a ReleaseSettings and says, for each
mistake, how to fix it.

Two axes (docs/release.md, "Evaluation conditions"): --split_by makes the
sentence axis (train, validation, test, as always); --heldout_by, when given,
names a column whose values (signers, say) are held out of training, which adds
the splits test_unseen_signers and test_unseen_both. Without it a release is
exactly what it was before the held-out axis existed, id included.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Optional, Sequence, Tuple

SPLITS = ("train", "validation", "test")                  # the sentence axis: a one-axis release's splits
HELDOUT_SPLITS = ("test_unseen_signers", "test_unseen_both")  # held-out values with train / test sentences
ALL_SPLITS = SPLITS + HELDOUT_SPLITS                         # a two-axis release's splits, in this order
# The columns of a two-axis splits.csv besides the held-out column itself; --heldout_by cannot be one of them.
SPLITS_CSV_NAMES = ("video_file", "group", "sentence_split", "heldout", "split")
DTYPES = ("float32", "float16")
RATIO_TOLERANCE = 1e-6


class SettingsError(ValueError):
    """The release options cannot work; the message says how to fix them."""


@dataclasses.dataclass(frozen=True)
class ReleaseSettings:
    split_by: Tuple[str, ...]              # metadata columns whose values, together, make a clip's group
    ratios: Tuple[float, float, float]     # train, validation, test
    seed: int
    split_file: Optional[str]              # CSV pinning groups to splits (splits.read_pins)
    dtype: str                             # of the feature arrays in the Parquet shards
    shard_bytes: int                       # target size of one shard's feature arrays
    heldout_by: Optional[str] = None       # the held-out column; None: one axis, as before it existed
    heldout_count: Optional[int] = None    # hold out this many values …
    heldout_share: Optional[float] = None  # … or max(1, round(share × values)), never all (exactly one is set)
    heldout_fold: Optional[int] = None     # hold out exactly value i of the documented order instead
    license: Optional[str] = None          # the release's licence (an SPDX id or a URL); None: not set
    citation: Optional[str] = None         # how to cite it (BibTeX or text); None: not set
    drop_duplicates: bool = False          # keep one clip of each family of copies (splits.drop_copies)

    @property
    def splits(self) -> Tuple[str, ...]:
        """The splits this release has (some may come out empty), in order."""
        return release_splits(self.heldout_by is not None)

    def fold(self, index: int) -> "ReleaseSettings":
        """The same settings holding out value `index` of the order (splits.heldout_order): one fold."""
        return dataclasses.replace(self, heldout_fold=index)

    def as_dict(self) -> Dict[str, object]:
        """What the release id, the manifest and the card record about the options.

        The held-out keys appear only when the axis is on, and the licence and citation only when set, so a
        release built without them keeps its id."""
        out: Dict[str, object] = {
            "split_by": list(self.split_by), "split_ratios": list(self.ratios), "split_seed": self.seed,
            "split_file": self.split_file, "release_dtype": self.dtype, "release_shard_bytes": self.shard_bytes}
        if self.heldout_by is not None:
            out["heldout_by"] = self.heldout_by
            if self.heldout_fold is not None:
                out["heldout_fold"] = self.heldout_fold
            else:
                out["heldout_size"] = self.heldout_count if self.heldout_count is not None else self.heldout_share
        # The card and croissant.json state them, and a release folder is never rewritten: another licence or
        # citation is another release.
        if self.license is not None:
            out["release_license"] = self.license
        if self.citation is not None:
            out["release_citation"] = self.citation
        # Another set of rows: another release. Off, it is not in the inputs at all.
        if self.drop_duplicates:
            out["drop_duplicates"] = True
        return out


def release_splits(heldout: bool) -> Tuple[str, ...]:
    """The splits of a one-axis (False) or two-axis (True) release."""
    return ALL_SPLITS if heldout else SPLITS


def parse_ratios(text: str) -> Tuple[float, float, float]:
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise SettingsError(f"--split_ratios={text}: give three numbers for train, validation and test, "
                            f"e.g. --split_ratios=0.8,0.1,0.1.") from None
    if len(values) != len(SPLITS) or not all(math.isfinite(v) for v in values):
        raise SettingsError(f"--split_ratios={text}: give three numbers for train, validation and test, "
                            f"e.g. --split_ratios=0.8,0.1,0.1.")
    if any(v < 0 for v in values):
        raise SettingsError(f"--split_ratios={text}: a ratio cannot be negative (0 leaves that split empty).")
    if abs(sum(values) - 1.0) > RATIO_TOLERANCE:
        raise SettingsError(f"--split_ratios={text} sums to {sum(values):g}: the three ratios must sum to 1, "
                            f"e.g. --split_ratios=0.8,0.1,0.1.")
    return values[0], values[1], values[2]


def parse_split_by(text: str) -> Tuple[str, ...]:
    columns = tuple(c.strip() for c in str(text or "").split(",") if c.strip())
    if not columns:
        raise SettingsError("--split_by is empty: name the metadata column(s) that make a group, e.g. "
                            "--split_by=sentence_id or --split_by=signer,take.")
    # A repeated column changes every group's text (["7", "7"] instead of "7"), and so every group's
    # position: the same data would be split differently, moving clips between splits, for nothing.
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        once = ",".join(dict.fromkeys(columns))
        raise SettingsError(f"--split_by={text} names {', '.join(repeated)} more than once, which would change every "
                            f"group and move clips between splits: name each column once, --split_by={once}.")
    return columns


def parse_heldout_by(text: Optional[str], split_by: Sequence[str]) -> Optional[str]:
    """The held-out column, or None (empty: no held-out axis)."""
    column = str(text or "").strip()
    if not column:
        return None
    if "," in column:
        raise SettingsError(f"--heldout_by={text}: name one column whose values are held out, e.g. "
                            f"--heldout_by=signer (several columns would hold out pairs of values, not signers).")
    if column in split_by:
        raise SettingsError(
            f"--heldout_by={column} is also in --split_by={','.join(split_by)}: the two axes must be different "
            f"columns (sentences on one, signers on the other). Keep --split_by=sentence_id (the default) and "
            f"--heldout_by={column}, or drop --heldout_by to split on --split_by alone.")
    if column in SPLITS_CSV_NAMES:
        raise SettingsError(f"--heldout_by={column}: `{column}` is a column of the release's splits.csv; rename the "
                            f"metadata column and hold out that.")
    return column


HELDOUT_SIZE_HOW = ("give a count of values to hold out (an integer ≥ 1, e.g. --heldout_size=1) or a share of "
                    "them (0 < share < 1, e.g. --heldout_size=0.2)")


def _blank(text) -> bool:
    return text is None or str(text).strip() == ""


def parse_heldout_size(text) -> Tuple[Optional[int], Optional[float]]:
    """(count, None) for an integer ≥ 1, (None, share) for 0 < share < 1, (None, None) when empty."""
    if _blank(text):
        return None, None
    how = HELDOUT_SIZE_HOW
    try:
        value = float(str(text).strip())
    except ValueError:
        raise SettingsError(f"--heldout_size={text}: {how}.") from None
    if not math.isfinite(value) or value <= 0:
        raise SettingsError(f"--heldout_size={text}: {how}.")
    if value < 1:
        return None, value
    if not value.is_integer():
        raise SettingsError(f"--heldout_size={text}: a size of 1 or more is a count and must be a whole number; "
                            f"{how}.")
    return int(value), None


def parse_heldout_fold(text) -> Optional[int]:
    if _blank(text):
        return None
    try:
        fold = int(str(text).strip())
    except ValueError:
        fold = -1
    if fold < 0:
        raise SettingsError(f"--heldout_fold={text}: give the index of the value to hold out, 0 for the first "
                            f"value of the order (0 to k-1 for k values; docs/release.md).")
    return fold


def from_options(opts) -> ReleaseSettings:
    """ReleaseSettings from GhslOptions; raises SettingsError naming every mistake."""
    problems: List[str] = []
    split_by, ratios = (), (0.0, 0.0, 0.0)
    heldout_by, count, share, fold = None, None, None, None
    try:
        split_by = parse_split_by(opts.split_by)
    except SettingsError as exc:
        problems.append(str(exc))
    try:
        ratios = parse_ratios(opts.split_ratios)
    except SettingsError as exc:
        problems.append(str(exc))
    heldout_text, size_text, fold_text = opts.heldout_by, opts.heldout_size, opts.heldout_fold
    try:
        heldout_by = parse_heldout_by(heldout_text, split_by)
    except SettingsError as exc:
        problems.append(str(exc))
    try:
        count, share = parse_heldout_size(size_text)
    except SettingsError as exc:
        problems.append(str(exc))
    try:
        fold = parse_heldout_fold(fold_text)
    except SettingsError as exc:
        problems.append(str(exc))
    if heldout_by is not None and fold is None and count is None and share is None and _blank(size_text):
        problems.append(f"--heldout_size is empty: {HELDOUT_SIZE_HOW}, or hold out one value with --heldout_fold.")
    if fold is not None and heldout_by is None and _blank(heldout_text):
        problems.append(f"--heldout_fold={fold_text} needs --heldout_by: name the column whose values the folds hold "
                        f"out, e.g. --heldout_by=signer --heldout_fold={fold_text}.")
    shard_mb = opts.release_shard_mb
    # NaN passes no comparison and int(inf) overflows: both crashed inside the job, while shards were written.
    if not (math.isfinite(shard_mb) and shard_mb * 1024 * 1024 >= 1):
        problems.append(f"--release_shard_mb={shard_mb:g}: give a positive size in MB (at least one byte), "
                        f"e.g. --release_shard_mb=256.")
    if problems:
        raise SettingsError(" ".join(problems))
    on = heldout_by is not None
    return ReleaseSettings(split_by=split_by, ratios=ratios, seed=opts.split_seed, split_file=opts.split_file or None,
                           dtype=opts.release_dtype, shard_bytes=int(opts.release_shard_mb * 1024 * 1024),
                           heldout_by=heldout_by, heldout_count=count if on else None,
                           heldout_share=share if on else None, heldout_fold=fold if on else None,
                           license=_text_or_none(opts.release_license), citation=_text_or_none(opts.release_citation),
                           drop_duplicates=bool(opts.drop_duplicates))


def _text_or_none(text) -> Optional[str]:
    return None if _blank(text) else str(text).strip()


def column_problems(split_by: Sequence[str], metadata_columns: Sequence[str], reserved: Sequence[str]) -> List[str]:
    """The --split_by columns the metadata lacks, and metadata columns that would clash with a release field."""
    problems = []
    missing = [c for c in split_by if c not in metadata_columns]
    if missing:
        problems.append(
            f"--split_by={','.join(split_by)}: the metadata has no column {', '.join(missing)}; its columns are "
            f"{', '.join(metadata_columns)}. Name one of those, or several separated by commas.")
    clashing = [c for c in metadata_columns if c in reserved]
    if clashing:
        problems.append(
            f"The metadata column(s) {', '.join(clashing)} have the name of a field the release adds; rename them "
            f"in the metadata file.")
    return problems


def heldout_column_problems(heldout_by: Optional[str], metadata_columns: Sequence[str]) -> List[str]:
    """The held-out column, when the metadata lacks it (naming the columns it has)."""
    if heldout_by is None or heldout_by in metadata_columns:
        return []
    return [f"--heldout_by={heldout_by}: the metadata has no column {heldout_by}; its columns are "
            f"{', '.join(metadata_columns)}. Name the one whose values (signers, say) are to be held out, e.g. "
            f"--heldout_by=take for the published SignTalk-GH names (`1000A.mp4`: the letter is `take`)."]
