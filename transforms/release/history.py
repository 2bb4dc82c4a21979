"""The release a new one is cut after: which clips it released, and in which split.

A group's split depends on its own key, so adding videos moves nothing, with one
exception the rule alone cannot avoid: a new copy whose group ranks before its
family's would take the family, released clips and all, to its own split. So the
splitter is given the splits of the previous release made with the same split
options (splits.py, point 9): a group it placed keeps its split, and a new copy
joins its family's. A released clip can then move only when a family (or a text
group) joins groups the previous release put in different splits, e.g. copies
first found by a new audit; the plan compares the two and the card says which rows
moved.

The previous release is the one latest.json names when its split options (SPLIT_OPTIONS:
the groups, ratios, seed and held-out axis; not the dtype, shards, licence, split file,
feature options or the audit) are this one's; otherwise the newest complete release with
them (its manifest the latest written), if any. Its splits.csv is read only when its bytes
are those its manifest names. A release that is itself the previous one (a re-run with
nothing changed) places every group where it already is, so its own id comes out again.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import logging
from typing import Dict, Iterator, Mapping, Optional, Tuple

from transforms.common import storage
from transforms.release import layout, verify
from transforms.release.splits import GROUP_COLUMN, LEFT_OUT, SENTENCE_SPLIT_COLUMN, SPLIT_COLUMN
from transforms.release.settings import ReleaseSettings

LOG = logging.getLogger("ghsl")
SPLITS_CSV = "splits.csv"
SPLIT_OPTIONS = ("split_by", "split_ratios", "split_seed", "heldout_by", "heldout_size", "heldout_fold")


@dataclasses.dataclass(frozen=True)
class Previous:
    release_id: str
    split: Dict[str, str]          # video_file → its split (a two-axis release's condition, or left_out)
    group_split: Dict[str, str]    # group → its (sentence) split
    manifest: dict                 # its manifest, as read


def split_options(options: Mapping[str, object]) -> Dict[str, object]:
    return {k: options.get(k) for k in SPLIT_OPTIONS}


def previous_release(output_dir: str, settings: ReleaseSettings, latest=None) -> Optional[Previous]:
    """The previous release of these split options (module docstring), or None. latest: what latest.json holds,
    as the caller read it (plan.read_latest)."""
    wanted = split_options(settings.as_dict())
    for release_id, found in _candidates(output_dir, latest):
        options = ((found.get("inputs") or {}).get("options")) or {}
        if split_options(options) == wanted:
            return _read(output_dir, release_id, found)
    return None


def _candidates(output_dir: str, latest) -> Iterator[Tuple[str, dict]]:
    """(release id, manifest) of complete releases: latest.json's first, then the others, newest manifest first.
    The others are listed only when latest.json's is not the one wanted."""
    first = latest["release_id"] if isinstance(latest, dict) else None
    if first:
        found = verify.read_manifest(output_dir, first)
        if found.manifest is not None:
            yield first, found.manifest
    listing = storage.list_objects(layout.releases_dir(output_dir))
    manifests = sorted(((info.updated, name.split("/", 1)[0]) for name, info in listing.items()
                        if name.count("/") == 1 and name.endswith("/" + layout.MANIFEST)), reverse=True)
    for _, release_id in manifests:
        if release_id != first:
            found = verify.read_manifest(output_dir, release_id)
            if found.manifest is not None:
                yield release_id, found.manifest


def _read(output_dir: str, release_id: str, found: dict) -> Optional[Previous]:
    path = storage.join(layout.release_dir(output_dir, release_id), SPLITS_CSV)
    data = storage.read_if_present(path)
    entry = found.get("files", {}).get(SPLITS_CSV) or {}
    if data is None or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        LOG.warning("%s is not the file its release's manifest names: release %s is not used to keep released "
                    "clips in their splits.", path, release_id)
        return None
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    split, group_split = {}, {}
    for row in reader:
        split[row["video_file"]] = row[SPLIT_COLUMN]
        sentence = row.get(SENTENCE_SPLIT_COLUMN) or row[SPLIT_COLUMN]
        if sentence != LEFT_OUT:
            group_split[row[GROUP_COLUMN]] = sentence
    return Previous(release_id, split, group_split, found)


def moved_rows(previous: Optional[Previous], split: Mapping[str, str], left_out: Mapping[str, object]
               ) -> Tuple[Tuple[str, str, str], ...]:
    """(video_file, split then, split now) of every clip of the previous release in another split now (left_out
    included); clips no longer released (dropped, or gone from the run) are not rows that moved."""
    if previous is None:
        return ()
    moved = []
    for video_file, before in sorted(previous.split.items()):
        now = split.get(video_file, LEFT_OUT if video_file in left_out else None)
        if now is not None and now != before:
            moved.append((video_file, before, now))
    return tuple(moved)
