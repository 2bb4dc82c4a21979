"""Where releases live, and what makes a folder a release.

    OUT/releases/<release id>/
        data/<split>-00000-of-00002.parquet   the rows, by split
        stats.npz, feature_schema.json, splits.csv, README.md
        manifest.json                         written last: only a folder holding it is a release
    OUT/releases/latest.json                  {"release_id": …}: the release matching the last run's outputs
    OUT/releases/.staging/<run id>/           where a run's Beam workers write shards before publishing

A complete release is never modified or deleted. A folder without manifest.json
is what a killed run left behind; the next run that builds a release deletes
it (and other runs' staging folders), under the output folder's lease, so no
other run can be writing them.
"""
from __future__ import annotations

import json
from typing import Dict, List, Optional, Set

from transforms.store import storage

RELEASES = "releases"
LATEST = "latest.json"
MANIFEST = "manifest.json"
STAGING = ".staging"
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


def staging_dir(output_dir: str, run_id: str) -> str:
    return storage.join(output_dir, RELEASES, STAGING, run_id)


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}"


def shard_file(name: str) -> str:
    """A shard's path inside its release folder."""
    return f"{DATA}/{name}{SHARD_SUFFIX}"


def is_release(output_dir: str, release_id: str) -> bool:
    return storage.exists(manifest_path(output_dir, release_id))


def read_latest(output_dir: str) -> Optional[dict]:
    data = storage.read_if_present(latest_path(output_dir))
    return json.loads(data) if data is not None else None


def unfinished_folders(output_dir: str, run_id: str) -> List[str]:
    """Release folders without a manifest, and other runs' staging folders."""
    root = releases_dir(output_dir)
    files_by_folder: Dict[str, Set[str]] = {}
    for relative in storage.list_relative(root):
        parts = relative.split("/")
        # releases/<id>/… and releases/.staging/<run id>/…; latest.json is no folder's.
        depth = 2 if parts[0] == STAGING else 1
        if len(parts) > depth:
            files_by_folder.setdefault("/".join(parts[:depth]), set()).add("/".join(parts[depth:]))
    doomed = []
    for folder, files in sorted(files_by_folder.items()):
        if folder.startswith(STAGING + "/"):
            if folder != f"{STAGING}/{run_id}":
                doomed.append(folder)
        elif MANIFEST not in files:
            doomed.append(folder)
    return [storage.join(root, f) for f in doomed]
