"""The options a release is built with, parsed and checked before any work.

Defaults live in pipeline/options.py (GhslOptions, "dataset release"); this
module turns the option values into a ReleaseSettings and says, for each
mistake, how to fix it.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Optional, Sequence, Tuple

SPLITS = ("train", "validation", "test")
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

    def as_dict(self) -> Dict[str, object]:
        """What the release id, the manifest and the card record about the options."""
        return {"split_by": list(self.split_by), "split_ratios": list(self.ratios), "split_seed": self.seed,
                "split_file": self.split_file, "release_dtype": self.dtype,
                "release_shard_bytes": self.shard_bytes}


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
    return columns


def from_options(opts) -> ReleaseSettings:
    """ReleaseSettings from GhslOptions; raises SettingsError naming every mistake."""
    problems: List[str] = []
    split_by, ratios = (), (0.0, 0.0, 0.0)
    try:
        split_by = parse_split_by(opts.split_by)
    except SettingsError as exc:
        problems.append(str(exc))
    try:
        ratios = parse_ratios(opts.split_ratios)
    except SettingsError as exc:
        problems.append(str(exc))
    if opts.release_shard_mb <= 0:
        problems.append(f"--release_shard_mb={opts.release_shard_mb:g}: give a positive size in MB.")
    if problems:
        raise SettingsError(" ".join(problems))
    return ReleaseSettings(split_by=split_by, ratios=ratios, seed=opts.split_seed, split_file=opts.split_file or None,
                           dtype=opts.release_dtype, shard_bytes=int(opts.release_shard_mb * 1024 * 1024))


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
