"""The plan of a release, decided from the run's typed results and records alone, before any feature file is read:
its id, every clip's split and shard, the row schema, and what the card will say about the splits.

Shards: the clips of a split, in video_file order, are cut into
ceil(split bytes / --release_shard_mb) shards of about the same size, each
over the limit by at most the clip that crosses it. The default, 256 MB, is
half of `datasets`' own 500 MB push_to_hub shards, so a split of a few GB still
has several files for parallel data loaders. Row order within a split is
video_file order, so the same release always holds its rows in the same order.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Optional

import numpy as np

from transforms.common import storage
from transforms.duplicates.audit import Audit, text_key_of
from transforms.duplicates.settings import audit_settings
from transforms.features import registry
from transforms.release import history, layout, manifest, verify
from transforms.release.stats import STATS_NPZ
from transforms.release.conditions import broken_promises, overlaps
from transforms.release.inputs import ReleaseError, clip_records, require_saved_clips
from transforms.release.schema import ADDED, ReleaseSchema, metadata_columns, release_feature_schema, release_schema
from transforms.release.settings import ReleaseSettings, column_problems, heldout_column_problems
from transforms.release.splits import (Assignment, Clip, HeldOutError, HeldOutRule, SplitCounts, SplitFileError,
                                       SplitPins, assign, count, drop_copies, group_key, heldout_problems,
                                       read_split_pins, splits_csv)
from transforms.reports.duplicates_report import AuditInputError, audit_of
from transforms.reports.run_reports import RunOutputs

BUILD = "build"        # no complete release has this id: build it
EXISTS = "exists"      # already released, and its files are those its manifest names: nothing to write
REPAIR = "repair"      # released, but some files are missing or damaged: rewrite them (transforms/release/verify.py)
SKIPPED = "skipped"    # nothing to release (no saved clip)
UNREAD = "unread"      # ReleasePlan.latest before latest.json is read


@dataclasses.dataclass(frozen=True)
class ClipEntry:
    """One clip to write: where it goes and its row's values (all but the features array)."""

    video_file: str
    stem: str
    split: str
    shard: str
    num_frames: int
    values: Dict[str, object]
    features_sha256: str = ""   # of its .npy, as its record vouches: checked when the shard reads it


@dataclasses.dataclass
class ReleasePlan:
    status: str
    release_id: str
    inputs: dict
    settings: ReleaseSettings
    schema: ReleaseSchema
    feature_schema: dict                 # the release's feature_schema.json
    run_summary: dict
    assignment: Assignment
    counts: SplitCounts
    clips: List[ClipEntry]
    shards: Dict[str, List[str]]         # split → shard names, in order; a split without clips has none
    check: Optional[verify.Check] = None # what the release folder held when planned (verify.check_release)
    audit: Optional[Audit] = None        # the duplicate audit of the saved clips
    # The release this one was cut after, and the rows that moved since (manifest.json's "cut_from"):
    # {"release_id": id or None, "moved": [[video_file, split then, split now], …]}.
    cut_from: Dict[str, object] = dataclasses.field(default_factory=lambda: {"release_id": None, "moved": []})
    # What releases/latest.json held when planned (plan.read_latest), so naming an existing release needs no
    # second read; UNREAD when not read.
    latest: object = UNREAD

    @property
    def shard_files(self) -> List[str]:
        return [layout.shard_file(name) for names in self.shards.values() for name in names]

    def shards_to_write(self) -> List[str]:
        """The shard names this plan writes: all of them for a build; for a repair the damaged ones, and
        every train shard when stats.npz is damaged (its moments are summed from them again)."""
        if self.status == BUILD:
            return [name for names in self.shards.values() for name in names]
        if self.status != REPAIR:
            return []
        damaged = set(self.check.damaged)
        stats_again = STATS_NPZ in damaged
        return [name for split, names in self.shards.items() for name in names
                if layout.shard_file(name) in damaged or (stats_again and split == "train")]


def check_columns(outputs: RunOutputs, settings: ReleaseSettings) -> None:
    columns = metadata_columns(outputs.processed_columns)
    problems = column_problems(settings.split_by, columns, reserved=ADDED)
    problems += heldout_column_problems(settings.heldout_by, columns)
    if problems:
        raise ReleaseError(" ".join(problems))


def read_split_file(settings: ReleaseSettings) -> Optional[SplitPins]:
    if not settings.split_file:
        return None
    try:
        text = storage.read_bytes(settings.split_file).decode("utf-8-sig")
    except Exception as exc:  # not found, permission, not UTF-8…
        raise ReleaseError(f"Cannot read --split_file {settings.split_file}: {exc}. Check the path (local or "
                           f"gs://); it is a CSV with a group (or the --split_by columns) and a split column.") from exc
    try:
        return read_split_pins(text, settings.split_by, settings.heldout_by, source=f"--split_file {settings.split_file}")
    except SplitFileError as exc:
        raise ReleaseError(str(exc)) from None


def heldout_rule(settings: ReleaseSettings, pins: Optional[SplitPins]) -> Optional[HeldOutRule]:
    return HeldOutRule.from_settings(settings, pins.heldout if pins else None)


def check_heldout(settings: ReleaseSettings, values, pins: Optional[SplitPins] = None) -> None:
    """Stop, saying how to fix it, when the values of the held-out column cannot be held out as asked."""
    rule = heldout_rule(settings, pins)
    if rule is not None:
        problems = heldout_problems(values, settings.seed, rule)
        if problems:
            raise ReleaseError(" ".join(problems))


def plan_release(outputs: RunOutputs, settings: ReleaseSettings) -> ReleasePlan:
    """The plan (status BUILD, EXISTS or REPAIR); raises NothingToRelease (no saved clip) or ReleaseError.

    outputs: the run's typed results, each saved clip with its record (transforms/release/inputs.py).
    """
    output_dir = outputs.output_dir
    require_saved_clips(outputs)
    check_columns(outputs, settings)
    pins = read_split_file(settings)
    records = clip_records(outputs)
    try:
        audit = outputs.duplicates if outputs.duplicates is not None else audit_of(outputs)
    except AuditInputError as exc:
        raise ReleaseError(str(exc)) from None

    proc_schema = outputs.feature_schema
    dim = int(proc_schema["dim"])
    columns = outputs.processed_columns
    schema = release_schema(columns, outputs.feature_options, dim, settings.dtype)
    saved = {r.video_file: r for r in outputs.saved}
    texts = {v: outputs.processed_text(r) for v, r in saved.items()}
    heldout_by = settings.heldout_by
    # A family of copies is one recording: the .pose sha256 of its earliest clip stands for all of them.
    family_of = audit.family_of()
    recording = {v: records[family_of.get(v, v)]["landmarks"]["sha256"] for v in saved}
    text_key = _text_keys(texts, settings.split_by, audit)
    clip_list = [Clip(v, group_key(texts[v], settings.split_by), recording[v],
                      texts[v][heldout_by] if heldout_by else None, text_key.get(v)) for v in saved]

    def placed(previous: Optional[history.Previous]):
        """(assignment, inputs, release id) with the groups an earlier release placed kept there."""
        try:
            found = assign(clip_list, settings.seed, settings.ratios, pins.groups if pins else None,
                           heldout_rule(settings, pins), released=previous.group_split if previous else None)
        except HeldOutError as exc:
            raise ReleaseError(str(exc)) from None
        if settings.drop_duplicates:
            found = drop_copies(found)
        # The splits are an input too: the same data and options after another earlier release can place a
        # family elsewhere (history.py), and an id always names one set of splits.
        found_inputs = manifest.release_inputs(settings.as_dict(), pins.for_id() if pins else None, proc_schema,
                                               columns, list(texts.values()), records, audit_settings(),
                                               manifest.sha256(manifest.canonical(splits_csv(found))))
        return found, found_inputs, manifest.release_id(found_inputs)

    # Placed by the rule alone first: when that is the release latest.json names, it is the release the earlier
    # one gives too (a release keeps every group where it already is), so a re-run with nothing new reads no
    # earlier splits. Otherwise the previous release of these split options keeps its groups in their splits.
    latest = read_latest(output_dir)
    assignment, inputs, release_id = placed(None)
    previous = None
    if not (isinstance(latest, dict) and latest.get("release_id") == release_id):
        previous = history.previous_release(output_dir, settings, latest)
        if previous is not None:
            assignment, inputs, release_id = placed(previous)
    frames = {v: r.measures.num_frames for v, r in saved.items()}
    counts = count(assignment, {v: r.row.category for v, r in saved.items()}, frames)
    shard_of, shards = _shards(assignment.split, assignment.splits, frames, dim * np.dtype(settings.dtype).itemsize,
                               settings.shard_bytes)
    try:
        clips = [ClipEntry(v, saved[v].feature_stem, assignment.split[v], shard_of[v], frames[v],
                           schema.values(saved[v], assignment.split[v], output_dir), records[v]["features"]["sha256"])
                 for v in sorted(assignment.split)]
    except ValueError as exc:
        raise ReleaseError(str(exc)) from None
    broken = broken_promises(overlaps([c.values for c in clips], assignment.splits, settings.split_by,
                                      settings.heldout_by), settings.split_by, settings.heldout_by)
    if broken:  # the rule guarantees these zeros; a release that contradicts them is never published
        raise ReleaseError(f"The splits break their promises ({'; '.join(broken)}); this is a bug, please report it.")

    known = (previous.manifest if previous and previous.release_id == release_id else None)
    check = verify.check_release(output_dir, release_id, known)
    status = {verify.INTACT: EXISTS, verify.DAMAGED: REPAIR}.get(check.state, BUILD)
    # A release written already says what it was cut after (its card says it too); a new one compares.
    cut_from = (check.manifest.get(manifest.CUT_FROM) if check.manifest else None) or {
        "release_id": previous.release_id if previous and previous.release_id != release_id else None,
        "moved": [list(m) for m in history.moved_rows(previous, assignment.split, assignment.left_out)]}
    presence = registry.of(outputs.feature_options).column_presence(outputs.feature_options)
    return ReleasePlan(status, release_id, inputs, settings, schema,
                       release_feature_schema(proc_schema, schema, presence), outputs.summary, assignment,
                       counts, clips, shards, check, audit, cut_from, latest)


def read_latest(output_dir: str):
    """What releases/latest.json holds: its content, None when there is none, or the LatestUnreadable it raised."""
    try:
        return layout.read_latest(output_dir)
    except layout.LatestUnreadable as exc:
        return exc


def _text_keys(texts: Dict[str, Dict[str, str]], split_by, audit: Audit) -> Dict[str, str]:
    """video_file → the group its clip would have if its sentence id were its text group's first id, for clips
    whose sentence id shares its text with another id. Only when the split is by sentence (sentence_id among
    --split_by): a split by signer keeps no sentence apart anyway."""
    if "sentence_id" not in split_by:
        return {}
    first_id = text_key_of(audit.text_groups)
    return {v: group_key({**row, "sentence_id": first_id[row["sentence_id"]]}, split_by)
            for v, row in texts.items() if row["sentence_id"] in first_id}


def _shards(split_of: Dict[str, str], splits, frames: Dict[str, int], bytes_per_frame: int, shard_bytes: int):
    """(video_file → shard name, split → shard names) for the rule in the module docstring."""
    shard_of, shards = {}, {}
    for split in splits:
        videos = sorted(v for v, s in split_of.items() if s == split)
        if not videos:
            continue
        total = sum(frames[v] for v in videos) * bytes_per_frame
        n = max(1, math.ceil(total / shard_bytes))
        index, before = {}, 0
        for v in videos:
            index[v] = min(n - 1, before * n // max(total, 1))
            before += frames[v] * bytes_per_frame
        # A clip bigger than a shard can leave a shard number unused: number the shards that hold clips.
        used = sorted(set(index.values()))
        names = {i: layout.shard_name(split, k, len(used)) for k, i in enumerate(used)}
        shard_of.update({v: names[i] for v, i in index.items()})
        shards[split] = list(names.values())
    return shard_of, shards

