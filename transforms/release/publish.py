"""Publishing a release whose shards the workers have written into releases/<id>/data/.

Order, so that a run killed at any point leaves no folder that passes for a
release (layout.py): the shards are in place first, then stats.npz,
feature_schema.json, splits.csv and README.md are written, then croissant.json
(which lists all of those with their sha256), then manifest.json (every file's
size and sha256, croissant.json's too), then latest.json names the release. A retried
publish finds a finished release and leaves it alone.
"""
from __future__ import annotations

import json
import logging
from typing import Dict, Mapping, Optional

from transforms.common import storage
from transforms.common.moments import Moments
from transforms.release import layout, manifest, verify
from transforms.release.card import CROISSANT_JSON, FEATURE_SCHEMA_JSON, README, SPLITS_CSV, dataset_card
from transforms.release.croissant import croissant_json
from transforms.release.plan import BUILD, UNREAD, ReleasePlan, read_latest
from transforms.release.splits import splits_csv
from transforms.release.stats import STATS_NPZ, train_stats_npz
from transforms.reports.run_reports import csv_text

LOG = logging.getLogger("ghsl")
BUILT, UNCHANGED, SKIPPED = "built", "unchanged", "skipped"
REPAIRED, REFUSED = "repaired", "refused"


def outcome(plan: Optional[ReleasePlan], status: str, reason: str = "") -> Dict[str, object]:
    """What the release step reports: run_summary.json's "release", the launcher's log line.

    path: the release folder relative to the output folder.
    """
    if plan is None:
        return {"status": status, "reason": reason}
    found = {"status": status, "release_id": plan.release_id, "path": f"{layout.RELEASES}/{plan.release_id}",
             "clips": dict(plan.counts.clips)}
    return {**found, "reason": reason} if reason else found


def point_latest(output_dir: str, plan: ReleasePlan, known=UNREAD) -> bool:
    """Makes latest.json name this release; False (and no write) when it already does. A latest.json that
    is not one (garbage, hand-edited) is replaced, with a warning naming it. known: what latest.json holds
    when the caller has read it since the last write (plan.read_latest)."""
    current = read_latest(output_dir) if known is UNREAD else known
    if isinstance(current, layout.LatestUnreadable):
        LOG.warning("%s; it is written again to name release %s.", current, plan.release_id)
        current = None
    latest = {"release_id": plan.release_id, "path": plan.release_id, "clips": dict(plan.counts.clips)}
    if current == latest:
        return False
    storage.write_text(layout.latest_path(output_dir), json.dumps(latest, indent=1, allow_nan=False) + "\n")
    return True


def settle_existing(output_dir: str, plan: ReleasePlan) -> None:
    """Before anything is written: what the planned release's folder held, acted on. An unreadable
    manifest: the folder goes (the release is built again). Same bytes under new identities: the manifest
    names them. Damaged files: named, one warning each, and never named by latest.json meanwhile."""
    check, folder = plan.check, layout.release_dir(output_dir, plan.release_id)
    if check is None:
        return
    if check.state == verify.UNREADABLE:
        LOG.warning("Release %s: %s; the release is built again.", plan.release_id, check.describe(folder))
        storage.delete_folder(folder)
    elif check.state == verify.INTACT:
        verify.relist(output_dir, plan.release_id, check)
    elif check.state == verify.DAMAGED:
        for name, what in sorted(check.damaged.items()):
            LOG.warning("Release %s: %s %s; it is written again.", plan.release_id, storage.join(folder, name), what)
        _unname(output_dir, plan.release_id)


def _unname(output_dir: str, release_id: str) -> None:
    """latest.json never names a release that is not complete: when it names this one, it goes."""
    try:
        latest = layout.read_latest(output_dir)
    except layout.LatestUnreadable:
        latest = None
    if latest is not None and latest.get("release_id") == release_id:
        storage.delete_if_present(layout.latest_path(output_dir))
        LOG.warning("%s named release %s, which is not complete; it is removed.", layout.latest_path(output_dir),
                    release_id)


def refuse(plan: ReleasePlan, output_dir: str, reason: str) -> Dict[str, object]:
    """No manifest is written (the folder is not a release, and the next build removes it); the reason is
    left beside the shards for whoever looks, and reported."""
    folder = layout.release_dir(output_dir, plan.release_id)
    LOG.error("Release %s refused: %s", plan.release_id, reason)
    if plan.status == BUILD:
        storage.write_text(storage.join(folder, layout.REFUSED), reason + "\n")
    _unname(output_dir, plan.release_id)
    return outcome(plan, REFUSED, reason)


def repair(plan: ReleasePlan, output_dir: str, shard_entries: Mapping[str, Mapping],
           train_moments: Optional[Moments], names_latest: bool = True) -> Dict[str, object]:
    """Writes the damaged files of a release again, each to the bytes its manifest names; refuses when one
    cannot be (its inputs are no longer those of the release). The shards were rewritten by the workers."""
    folder = layout.release_dir(output_dir, plan.release_id)
    found = plan.check.manifest
    files = found["files"]
    identities = dict(plan.check.relisted)
    wrong = [path for path, entry in shard_entries.items() if entry["sha256"] != files[path]["sha256"]]
    identities.update({path: entry["stored"] for path, entry in shard_entries.items()})
    small_damaged = sorted(name for name in plan.check.damaged if not name.startswith(layout.DATA + "/"))
    if small_damaged:
        shards = {name: entry for name, entry in files.items() if name.startswith(layout.DATA + "/")}
        small = _small_files(plan, shards, train_moments)
        small[CROISSANT_JSON] = croissant_json(plan, {n: e for n, e in files.items() if n != CROISSANT_JSON},
                                               output_dir, found["created_at"])
        for name in small_damaged:
            data = small.get(name)
            if data is None or manifest.sha256(data) != files[name]["sha256"]:
                wrong.append(name)
                continue
            identities[name] = storage.identity(storage.write_bytes(storage.join(folder, name), data))
    if wrong:
        return refuse(plan, output_dir, f"{storage.join(folder, sorted(wrong)[0])} is damaged and cannot be written "
                                        f"again to the bytes its manifest names (the run's outputs are no longer "
                                        f"those it was built from). Delete {folder} and run again to build it anew.")
    storage.write_text(layout.manifest_path(output_dir, plan.release_id), verify.with_identities(found, identities))
    if names_latest:
        point_latest(output_dir, plan)
    LOG.info("Release %s repaired: %s", plan.release_id, ", ".join(sorted(plan.check.damaged)))
    return outcome(plan, REPAIRED)


def write_folds(output_dir: str, heldout_by: str, outcomes) -> dict:
    """releases/folds.json: the leave-one-out releases of the held-out column, fold i holding out value i."""
    folds = {"heldout_by": heldout_by,
             "folds": [{"fold": fold, "heldout": value, "release_id": outcome.get("release_id")}
                       for fold, value, outcome in sorted(outcomes)]}
    path = storage.join(layout.releases_dir(output_dir), layout.FOLDS)
    text = json.dumps(folds, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    if storage.read_if_present(path) != text.encode("utf-8"):  # the same folds: left as they are
        storage.write_text(path, text)
    return folds


def remove_unfinished(output_dir: str) -> int:
    """Deletes what killed runs left under releases/ (layout.unfinished_folders); returns how many folders."""
    doomed = layout.unfinished_folders(output_dir)
    for folder in doomed:
        storage.delete_folder(folder)
    if doomed:
        LOG.info("Removed %d unfinished release folder(s) under %s.", len(doomed), layout.releases_dir(output_dir))
    return len(doomed)


def publish(plan: ReleasePlan, output_dir: str, shard_entries: Mapping[str, Mapping],
            train_moments: Optional[Moments], names_latest: bool = True) -> Dict[str, object]:
    """shard_entries: shard file (data/…parquet) → its manifest entry, as the workers wrote them."""
    folder = layout.release_dir(output_dir, plan.release_id)
    if layout.is_release(output_dir, plan.release_id):
        return outcome(plan, BUILT)  # a retried publish whose first attempt finished: leave it be
    if sorted(shard_entries) != sorted(plan.shard_files):
        raise RuntimeError(f"release {plan.release_id}: the workers wrote the shards {sorted(shard_entries)}, "
                           f"the plan has {sorted(plan.shard_files)}")
    files = dict(shard_entries)
    for name, data in _small_files(plan, shard_entries, train_moments).items():
        written = storage.write_bytes(storage.join(folder, name), data)
        files[name] = manifest.file_entry(data, written)
    created = manifest.now()
    data = croissant_json(plan, files, output_dir, created)
    written = storage.write_bytes(storage.join(folder, CROISSANT_JSON), data)
    files[CROISSANT_JSON] = manifest.file_entry(data, written)
    storage.write_text(storage.join(folder, layout.MANIFEST),
                       manifest.manifest_json(plan.release_id, plan.inputs, files, created, plan.cut_from))
    if names_latest:
        point_latest(output_dir, plan)
    LOG.info("Release %s: %s clips at %s", plan.release_id,
             ", ".join(f"{s} {n}" for s, n in plan.counts.clips.items()), folder)
    return outcome(plan, BUILT)


def _small_files(plan: ReleasePlan, shards: Mapping[str, Mapping], train_moments: Optional[Moments]) -> Dict[str, bytes]:
    columns, splits = splits_csv(plan.assignment)
    return {
        STATS_NPZ: train_stats_npz(train_moments, plan.feature_schema["options"], plan.counts.clips["train"]),
        FEATURE_SCHEMA_JSON: (json.dumps(plan.feature_schema, indent=1, ensure_ascii=False, allow_nan=False)
                              + "\n").encode("utf-8"),
        SPLITS_CSV: csv_text(columns, splits).encode("utf-8"),
        README: dataset_card(plan, shards).encode("utf-8"),
    }
