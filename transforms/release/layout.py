"""Where releases live, and what makes a folder a release.

    OUT/releases/<release id>/
        data/<split>-00000-of-00002.parquet   the rows, by split (written there by the workers)
        stats.npz, feature_schema.json, splits.csv, README.md
        croissant.json                        the release in Croissant 1.1 (releases built before it have none)
        manifest.json                         written last: only a folder holding it is a release
    OUT/releases/latest.json                  {"release_id", "path", "clips"}: the release matching the last
                                              run's outputs; "path" relative to releases/, so a copied or
                                              moved output folder still finds it
    OUT/releases/folds.json                   the leave-one-out releases of the last `pipeline.release
                                              --heldout_folds`: {"heldout_by", "folds": [{"fold", "heldout",
                                              "release_id"}]}

A complete release is never modified or deleted. A folder without manifest.json
is what a killed run left behind (so is a `.staging/` folder of older versions);
the next run that builds a release deletes it, under the output folder's
lease, so no other run can be writing it.
"""
from __future__ import annotations

import json
from typing import Dict, List, Optional, Set

from transforms.common import storage

RELEASES = "releases"
LATEST = "latest.json"
FOLDS = "folds.json"
MANIFEST = "manifest.json"
REFUSED = "refused.txt"     # in a folder without manifest: why its release was refused
DATA = "data"
SHARD_SUFFIX = ".parquet"


def releases_dir(output_dir: str) -> str:
    return storage.join(output_dir, RELEASES)


def release_dir(output_dir: str, release_id: str) -> str:
    return storage.join(output_dir, RELEASES, release_id)


def manifest_path(output_dir: str, release_id: str) -> str:
    return storage.join(release_dir(output_dir, release_id), MANIFEST)


def latest_path(output_dir: str) -> str:
    return storage.join(output_dir, RELEASES, LATEST)


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}"


def shard_file(name: str) -> str:
    """A shard's path inside its release folder."""
    return f"{DATA}/{name}{SHARD_SUFFIX}"


def is_release(output_dir: str, release_id: str) -> bool:
    return storage.exists(manifest_path(output_dir, release_id))


class LatestUnreadable(ValueError):
    """releases/latest.json is not what a run writes; the message names it."""


def read_latest(output_dir: str) -> Optional[dict]:
    """latest.json's content, None when there is none; LatestUnreadable when it is not a latest.json."""
    path = latest_path(output_dir)
    data = storage.read_if_present(path)
    if data is None:
        return None
    try:
        found = json.loads(data)
    except ValueError as exc:
        raise LatestUnreadable(f"{path} is not JSON ({exc})") from None
    if not isinstance(found, dict) or not isinstance(found.get("release_id"), str):
        raise LatestUnreadable(f"{path} does not name a release")
    return found


def unfinished_folders(output_dir: str) -> List[str]:
    """The folders under releases/ without a manifest."""
    root = releases_dir(output_dir)
    files_by_folder: Dict[str, Set[str]] = {}
    for relative in storage.list_objects(root):
        folder, _, rest = relative.partition("/")
        if rest:  # latest.json and folds.json are no folder's
            files_by_folder.setdefault(folder, set()).add(rest)
    return [storage.join(root, folder) for folder, files in sorted(files_by_folder.items()) if MANIFEST not in files]
