"""Publishing a release whose shards Beam has written to the run's staging folder.

Order, so that a run killed at any point leaves no folder that passes for a
release (layout.py): the shards are renamed into releases/<id>/data/, then
stats.npz, feature_schema.json, splits.csv and README.md are written, then
manifest.json (every file's size and sha256), then latest.json names the
release, then the staging folder is deleted. A retried publish finds the
shards it already moved in place and carries on.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from typing import Dict, List, Mapping, Optional, Tuple

from apache_beam.io.filesystems import FileSystems

from transforms.common.moments import Moments
from transforms.release import layout, manifest
from transforms.release.card import FEATURE_SCHEMA_JSON, README, SPLITS_CSV, dataset_card
from transforms.release.plan import ReleasePlan
from transforms.release.stats import STATS_NPZ, train_stats_npz
from transforms.reports.run_reports import csv_text
from transforms.store import storage

LOG = logging.getLogger("ghsl")
SPLITS_CSV_COLUMNS = ("video_file", "group", "split")
BUILT, UNCHANGED, SKIPPED = "built", "unchanged", "skipped"

# Test-only: a folder; publishing stops with every file in place but the manifest, creates
# <folder>/release.paused and sleeps, so a test can kill the job there.
INJECT_PAUSE_ENV = "GHSL_PAUSE_IN_RELEASE"


def outcome(plan: Optional[ReleasePlan], output_dir: str, status: str, reason: str = "") -> Dict[str, object]:
    """What the release step reports: the job's last element, the launcher's log line."""
    if plan is None:
        return {"status": status, "reason": reason}
    return {"status": status, "release_id": plan.release_id, "path": layout.release_dir(output_dir, plan.release_id),
            "clips": dict(plan.counts.clips)}


def point_latest(output_dir: str, plan: ReleasePlan) -> bool:
    """Makes latest.json name this release; False (and no write) when it already does."""
    current = layout.read_latest(output_dir)
    if current and current.get("release_id") == plan.release_id:
        return False
    latest = {"release_id": plan.release_id, "path": layout.release_dir(output_dir, plan.release_id),
              "clips": dict(plan.counts.clips)}
    storage.write_text(layout.latest_path(output_dir), json.dumps(latest, indent=1) + "\n")
    return True


def remove_unfinished(output_dir: str, run_id: str) -> int:
    """Deletes what killed runs left under releases/ (layout.unfinished_folders); returns how many folders."""
    doomed = layout.unfinished_folders(output_dir, run_id)
    for folder in doomed:
        delete_folder(folder)
    if doomed:
        LOG.info("Removed %d unfinished release folder(s) under %s.", len(doomed), layout.releases_dir(output_dir))
    return len(doomed)


def delete_folder(folder: str) -> None:
    if storage.is_local(folder):
        shutil.rmtree(folder, ignore_errors=True)
        return
    files = storage.list_files(folder)
    if files:
        FileSystems.delete(files)


def publish(plan: ReleasePlan, output_dir: str, staging: str, shard_digests: List[Tuple[str, Mapping]],
            train_moments: Optional[Moments]) -> Dict[str, object]:
    folder = layout.release_dir(output_dir, plan.release_id)
    if layout.is_release(output_dir, plan.release_id):
        return outcome(plan, output_dir, BUILT)  # a retried publish whose first attempt finished: leave it be
    written = {layout.shard_file(os.path.splitext(name)[0]): digest for name, digest in shard_digests}
    if sorted(written) != sorted(plan.shard_files):
        raise RuntimeError(f"release {plan.release_id}: Beam wrote the shards {sorted(written)}, the plan has "
                           f"{sorted(plan.shard_files)}")
    _move_shards(staging, folder, list(written))
    files = dict(written)
    for name, data in _small_files(plan, written, train_moments).items():
        storage.write_bytes(storage.join(folder, name), data)
        files[name] = manifest.file_entry(data)
    _maybe_pause()
    storage.write_text(storage.join(folder, layout.MANIFEST), manifest.manifest_json(plan.release_id, plan.inputs, files))
    point_latest(output_dir, plan)
    delete_folder(staging)
    LOG.info("Release %s: %s clips at %s", plan.release_id,
             ", ".join(f"{s} {n}" for s, n in plan.counts.clips.items()), folder)
    return outcome(plan, output_dir, BUILT)


def _move_shards(staging: str, folder: str, paths: List[str]) -> None:
    if storage.is_local(folder):
        os.makedirs(os.path.join(folder, layout.DATA), exist_ok=True)
    # A retried publish may find some already moved.
    pending = [p for p in paths if storage.exists(storage.join(staging, p))]
    if pending:
        FileSystems.rename([storage.join(staging, p) for p in pending], [storage.join(folder, p) for p in pending])


def _small_files(plan: ReleasePlan, shards: Mapping[str, Mapping], train_moments: Optional[Moments]) -> Dict[str, bytes]:
    splits = [{"video_file": c.video_file, "group": plan.assignment.group[c.video_file], "split": c.split}
              for c in plan.clips]
    return {
        STATS_NPZ: train_stats_npz(train_moments, plan.feature_schema["options"], plan.counts.clips["train"]),
        FEATURE_SCHEMA_JSON: (json.dumps(plan.feature_schema, indent=1, ensure_ascii=False) + "\n").encode("utf-8"),
        SPLITS_CSV: csv_text(SPLITS_CSV_COLUMNS, splits).encode("utf-8"),
        README: dataset_card(plan, shards).encode("utf-8"),
    }


def _maybe_pause() -> None:
    folder = os.environ.get(INJECT_PAUSE_ENV)
    if folder:
        open(os.path.join(folder, "release.paused"), "w").close()
        time.sleep(600)
