"""Result records: what produced each published clip result, so a re-run can reuse it.

One JSON file per video, next to the features:

    OUT/features/records/<video_file without extension>.json

    {
      "format": "ghsl-result-record/1",
      "video_file": "signer1/clip.mp4",
      "source": {"size": 123456, "updated": 1732380000.0, "checksum": "crc32c or null"},
      "fingerprint": "sha256 of the feature definition version and every option that
                      changes the result (pipeline.options.FEATURE_OPTIONS), plus the MediaPipe version",
      "status": "success" | "low_quality" | "failed",
      "error": "", "frames_decoded": 62, "num_frames": 62, "frame_feature_dim": 540,
      "detection_ratio": 1.0, ..., "kept_low": false,
      "moments": {"count": 62, "sum": "<base64 float64[540]>", "sum_sq": "<base64 float64[540]>"}
    }

`moments` (success only) holds the clip's frame count, Σx and Σx² exactly
(float64 bytes, little-endian, base64), so global statistics over unchanged
clips are combined without reading their arrays again.

A record is published only after the clip's .npy (when there is one), so a
record always describes complete features. A re-run reuses a record when the
source object's identity and the fingerprint are unchanged (and, for a
success, its .npy still exists); anything else is decoded again.
"""
from __future__ import annotations

import base64
import hashlib
import json
from importlib import metadata as importlib_metadata
from typing import Dict, Optional

import numpy as np
from apache_beam.io.filesystems import FileSystems

from transforms.store import storage
from transforms.features.v1 import FEATURE_VERSION
from transforms.store.metadata import ClipRow
from transforms.store.results import SUCCESS, ClipResult
from transforms.reports.stats import Moments

FORMAT = "ghsl-result-record/1"
RECORDS_SUBDIR = ("features", "records")

_RESULT_FIELDS = ("status", "error", "frames_decoded", "num_frames", "frame_feature_dim", "detection_ratio",
                  "mean_visibility", "motion_mean", "motion_p50", "motion_p95", "motion_max", "kept_low")


def record_path(output_dir: str, feature_stem: str) -> str:
    return storage.join(output_dir, *RECORDS_SUBDIR, feature_stem + ".json")


def fingerprint(feature_options: Dict[str, object]) -> str:
    """Fingerprint of what makes a result, computed where the work runs (the worker's MediaPipe).

    feature_options: every option that changes a clip's features or verdict, as
    pipeline.options.feature_config gives them; all of them are hashed.
    """
    try:
        mediapipe_version = importlib_metadata.version("mediapipe")
    except importlib_metadata.PackageNotFoundError:
        mediapipe_version = "not installed"
    made_by = {"feature_version": FEATURE_VERSION, "mediapipe": mediapipe_version,
               **feature_options}
    return hashlib.sha256(json.dumps(made_by, sort_keys=True).encode()).hexdigest()


def source_identity(path: str) -> Optional[Dict[str, object]]:
    """Size, update time and (on GCS) CRC32C of the video; None when it does not exist.

    Not FileSystems.match: that treats [ ] * ? in a file name as a pattern. A
    lookup that fails for another reason (the network, permissions) raises, so
    the bundle is retried rather than the video reported missing.
    """
    if not storage.exists(path):
        return None
    meta = FileSystems.get_filesystem(path).metadata(path)
    identity = {"size": meta.size_in_bytes, "updated": meta.last_updated_in_seconds, "checksum": None}
    if not storage.is_local(path):
        identity["checksum"] = FileSystems.checksum(path)
    return identity


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.asarray(array, dtype="<f8").tobytes()).decode("ascii")


def _unb64(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f8").astype(np.float64)


def to_json(result: ClipResult, source: Dict[str, object], made_by: str) -> str:
    record = {"format": FORMAT, "video_file": result.video_file, "source": source, "fingerprint": made_by}
    record.update({k: getattr(result, k) for k in _RESULT_FIELDS})
    m = result.moments
    record["moments"] = None if m is None else {"count": int(m.count), "sum": _b64(m.total), "sum_sq": _b64(m.total_sq)}
    return json.dumps(record, indent=1) + "\n"


def read(path: str) -> Optional[dict]:
    """The record at `path`, or None when there is none or it cannot be used."""
    try:
        record = json.loads(storage.read_bytes(path))
    except Exception:  # absent, or unreadable: either way the clip is decoded again
        return None
    return record if isinstance(record, dict) and record.get("format") == FORMAT else None


def result_from(record: dict, row: ClipRow, feature_path: str) -> ClipResult:
    """The reports' view of a reused record, for the row as it stands in today's metadata."""
    values = {k: record[k] for k in _RESULT_FIELDS if k not in ("status", "error")}
    result = ClipResult.for_row(row, record["status"], record["error"], **values)
    if record["status"] == SUCCESS:
        m = record["moments"]
        result.moments = Moments(int(m["count"]), _unb64(m["sum"]), _unb64(m["sum_sq"]))
        result.feature_path = feature_path
    result.origin = "reused"
    return result
