"""The release id and manifest.json.

The id is derived from the content, so the same inputs and options always give
the same id, and a re-run with nothing changed finds its release already there:

    id = the first 16 hex digits of sha256(canonical JSON of `inputs`)

where `inputs` (kept whole in manifest.json, so anyone can recompute the id) holds
  format          FORMAT, bumped when the code changes the data a release holds for the same inputs (its
                  rows, arrays, splits or statistics); not for a file that only describes them: the card's
                  wording, or croissant.json, which releases built before it existed lack (their manifest
                  lists their files), so that they keep their id and are never rebuilt for it
  options         the release options (settings.ReleaseSettings.as_dict; the licence and citation
                  when set) but the split file's path, and the sha256 of the pins read from it
  feature_schema  feature version, array width and feature options (proc/feature_schema.json)
  metadata        processed_metadata.csv's columns, row count and the sha256 of its rows in
                  sorted order (every column but feature_path, a path into the output folder)
  clips           per video_file: the record's feature fingerprint (feature options, landmark
                  options, MediaPipe version) and the sha256 of its .pose file
  duplicates      the duplicate audit's version, threshold and other constants
                  (transforms/duplicates/settings.audit_settings): another audit can link other
                  clips, so place them elsewhere
  splits_sha256   the sha256 of the canonical JSON of splits.csv's columns and rows: the splits
                  follow from the above and from the previous release (history.py), which keeps
                  released clips where they are; so the same inputs placed otherwise are another
                  release, and an id always names one set of splits

The .npy files are not hashed: a record vouches for its clip's features, so the id
costs no feature read. Canonical JSON: sorted keys, no spaces, UTF-8.

manifest.json (written last: a folder without it is not a release):
  {"format", "release_id", "created_at", "inputs": {…},
   "cut_from": {"release_id": the previous release of the same split options or null,
                "moved": [[video_file, split then, split now], …]},
   "files": {"data/train-00000-of-00001.parquet": {"size": …, "sha256": …}, …}}
`cut_from` is not an input: it records what the card says about rows that moved when the
release was cut, so a repaired card says it again.
"""
from __future__ import annotations

import datetime
import hashlib
import json
from typing import Dict, List, Mapping, Optional

from transforms.common import storage

FORMAT = "ghsl-release/1"
ID_DIGITS = 16
CUT_FROM = "cut_from"


def canonical(value) -> bytes:
    # Strict JSON (no NaN or Infinity) everywhere a release is described: strict readers refuse the rest.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def release_inputs(options: Mapping[str, object], pins: Optional[Mapping[str, str]], feature_schema: Mapping,
                   columns: List[str], rows: List[Mapping[str, str]], records: Mapping[str, Mapping],
                   duplicates: Mapping[str, object], splits_sha256: str) -> dict:
    kept = [c for c in columns if c != "feature_path"]
    # A split file counts by what it pins, not by where it lies.
    chosen = {k: v for k, v in options.items() if k != "split_file"}
    return {
        "duplicates": dict(duplicates),
        "splits_sha256": splits_sha256,
        "format": FORMAT,
        "options": {**chosen, "split_pins_sha256": None if pins is None else sha256(canonical(pins))},
        "feature_schema": {k: feature_schema[k] for k in ("feature_version", "dim", "options")},
        "metadata": {"columns": kept, "rows": len(rows),
                     "sha256": sha256(canonical(sorted([r[c] for c in kept] for r in rows)))},
        "clips": {r["video_file"]: {"fingerprint": records[r["video_file"]]["fingerprint"],
                                    "pose_sha256": records[r["video_file"]]["landmarks"]["sha256"]}
                  for r in rows},
    }


def release_id(inputs: Mapping) -> str:
    return sha256(canonical(inputs))[:ID_DIGITS]


def now() -> str:
    """A release's created_at (and croissant.json's datePublished): UTC, to the second."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def manifest_json(release_id_: str, inputs: Mapping, files: Mapping[str, Mapping[str, object]],
                  created: Optional[str] = None, cut_from: Optional[Mapping[str, object]] = None) -> str:
    created = created or now()
    return json.dumps({"format": FORMAT, "release_id": release_id_, "created_at": created, "inputs": inputs,
                       CUT_FROM: dict(cut_from or {"release_id": None, "moved": []}),
                       "files": dict(sorted(files.items()))}, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def file_entry(data: bytes, written=None) -> Dict[str, object]:
    """A file's manifest entry: its size and sha256, and (written: its listing entry) its identity in the
    store, so a later run checks it from a listing (transforms/release/verify.py)."""
    entry = {"size": len(data), "sha256": sha256(data)}
    return {**entry, "stored": storage.identity(written)} if written is not None else entry
