"""Result records: what produced each published clip result, and the identity of every file it vouches for.

One JSON file per video, next to the features:

    OUT/features/records/<video_file without extension>.json

    {
      "format": "ghsl-result-record/3",
      "video_file": "signer1/clip.mp4",
      "source": {"size": 123456, "updated": 1732380000.0, "checksum": "crc32c or null"},
      "landmarks": {"fingerprint": "sha256 of the landmark options (pipeline.options.LANDMARK_OPTIONS),
                                     the landmark file layout and the MediaPipe version",
                    "sha256": "of OUT/landmarks/<stem>.pose, or null when the video could not be decoded",
                    "size": 584215, "frames": 62,
                    "stored": {"size": 584215, "version": "generation or mtime ns", "checksum": "crc32c or null"}},
      "features": {"sha256": "of OUT/features/pose_data/<stem>.npy", "size": 134528, "shape": [62, 540],
                   "dtype": "float32", "stored": {...as above}}            (null unless status is success)
      "signature": {"format": "ghsl-dup-signature/1", "data": "<base64, 515 bytes> or null when the
                    landmarks give none"}  (transforms/duplicates/signature.py; null without landmarks)
      "fingerprint": "sha256 of the feature version (--feature_version), its options
                      (transforms/features/registry.py) and the landmark fingerprint",
      "status": "success" | "low_quality" | "failed",
      "error": "", "frames_decoded": 62, "num_frames": 62, "frame_feature_dim": 540,
      "detection_ratio": 1.0, ..., "kept_low": false,
      "moments": {"count": 62, "sum": "<base64 float64[540]>", "sum_sq": "<base64 float64[540]>"}
    }

`moments` (success only) holds the clip's frame count, Σx and Σx² exactly
(float64 bytes, little-endian, base64), so global statistics over unchanged
clips are combined without reading their arrays again.

Every file a record vouches for is named twice: by its content (sha256, size,
and for the features shape and dtype) and by the cheap identity the store gives
for free in the listing every run makes anyway (`stored`: size, and the object
generation and CRC32C on GCS, the modification time locally). A run trusts a
file whose listing shows that identity without reading it; a file whose identity
changed is hashed, and healed when its content is not the one recorded
(transforms/store/reuse.py).

A record is published only after the clip's .pose and .npy (when there are
some), so a record always describes complete files. What a re-run does with
it (transforms/store/reuse.py): with the same source and landmark fingerprint
the video is never decoded again; with the same feature fingerprint too, the
result is reused as it stands; otherwise features are recomputed from the
.pose file, whose sha256 must match. Records of format 2 (before the files'
identities were kept) are upgraded in place: features are recomputed from the
checked .pose and compared with the stored .npy. Records of format 1 (before
the landmark store) are not read: those videos are decoded once more.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
from importlib import metadata as importlib_metadata
from typing import Dict, Optional

import numpy as np

from transforms.common import storage
from transforms.common.moments import Moments
from transforms.duplicates import signature as dup_signature
from transforms.store.metadata import ClipRow
from transforms.store.results import REUSED, SUCCESS, ClipResult, Measures, Outputs

FORMAT = "ghsl-result-record/3"
UPGRADABLE = "ghsl-result-record/2"    # read, and upgraded by recomputing its features (reuse.decide)
# Bumped when what the extractor writes into a .pose changes for the same options.
LANDMARK_LAYOUT = "pose-format holistic 0.2, one person, upright frames"

_RESULT_FIELDS = ("status", "error") + Measures.names()


def _sha(made_by: dict) -> str:
    return hashlib.sha256(json.dumps(made_by, sort_keys=True).encode()).hexdigest()


def mediapipe_version() -> str:
    try:
        return importlib_metadata.version("mediapipe")
    except importlib_metadata.PackageNotFoundError:
        return "not installed"


def landmark_fingerprint(landmark_options: Dict[str, object]) -> str:
    """What makes a video's landmarks, computed where the work runs (the worker's MediaPipe).

    landmark_options: pipeline.options.landmark_config, all of them hashed.
    """
    return _sha({"layout": LANDMARK_LAYOUT, "mediapipe": mediapipe_version(), **landmark_options})


def feature_fingerprint(feature_options: Dict[str, object], landmark_fp: str) -> str:
    """What makes a clip's features and verdict from its landmarks.

    feature_options: pipeline.options.feature_config (the feature version and its options), all hashed.
    """
    return _sha({"landmarks": landmark_fp, **feature_options})


def source_identity(info: Optional[storage.ObjectInfo]) -> Optional[Dict[str, object]]:
    """Size, update time and (on GCS) CRC32C of the video, from its listing entry; None when it is absent."""
    if info is None:
        return None
    return {"size": info.size, "updated": info.updated, "checksum": info.checksum}


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.asarray(array, dtype="<f8").tobytes()).decode("ascii")


def _unb64(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f8").astype(np.float64)


def features_identity(data: bytes, array: np.ndarray, written: Optional[storage.ObjectInfo]) -> Dict[str, object]:
    """The record's "features" section for a saved clip's .npy bytes."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "shape": list(array.shape),
            "dtype": str(array.dtype), "stored": storage.identity(written)}


def signature_of(points) -> Dict[str, Optional[str]]:
    """The record's "signature" section from a clip's landmarks (ClipPoints); its data None when the
    landmarks give none (transforms/duplicates/signature.py says when)."""
    found = dup_signature.signature(points)
    return {"format": dup_signature.FORMAT, "data": None if found is None else dup_signature.encode(found)}


def has_current_signature(record: dict) -> bool:
    """The record's signature (or its lack of one) was made by today's signature code, and is one (a damaged
    or edited signature is made again from the .pose, as an older one is)."""
    found = record.get("signature") or {}
    return (found.get("format") == dup_signature.FORMAT
            and (found.get("data") is None or dup_signature.is_encoded(found.get("data"))))


def signature_is_damaged(record: dict) -> bool:
    """Today's signature format, but not a signature (edited or damaged): healed, and said."""
    found = record.get("signature") or {}
    return found.get("format") == dup_signature.FORMAT and not has_current_signature(record)


def refreshed(record: dict, outputs) -> dict:
    """The record naming its files as `outputs` lists them now (their contents checked to be the same)."""
    record = dict(record, landmarks=dict(record["landmarks"], stored=storage.identity(outputs.pose)))
    if record.get("features"):
        record["features"] = dict(record["features"], stored=storage.identity(outputs.npy))
    return record


def to_record(result: ClipResult, source: Dict[str, object], landmarks: Dict[str, object], made_by: str,
              features: Optional[Dict[str, object]] = None, signature: Optional[Dict[str, Optional[str]]] = None) -> dict:
    record = {"format": FORMAT, "video_file": result.video_file, "source": source,
              "landmarks": landmarks, "features": features, "signature": signature, "fingerprint": made_by,
              "status": result.status, "error": result.error}
    record.update(result.measures.as_dict())
    m = result.moments
    record["moments"] = None if m is None else moments_json(m)
    return record


def to_json(record: dict) -> str:
    """Strict JSON (a NaN measure is written null, and read back as NaN: result_from)."""
    return json.dumps(finite(record), indent=1, allow_nan=False) + "\n"


def finite(value):
    """`value` with every NaN or infinite float replaced by None, for strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def moments_json(m: Moments) -> dict:
    # v2 counts per column (the frames each part was seen in): a list then, one number for v1.
    count = np.asarray(m.count).tolist() if np.ndim(m.count) else int(m.count)
    return {"count": count, "sum": _b64(m.total), "sum_sq": _b64(m.total_sq)}


def moments_from_json(m: dict) -> Moments:
    count = np.asarray(m["count"], dtype=np.int64) if isinstance(m["count"], list) else int(m["count"])
    return Moments(count, _unb64(m["sum"]), _unb64(m["sum_sq"]))


def without_moments(record: dict) -> dict:
    """What the record index keeps of a record: everything but the moments (transforms/store/record_index.py)."""
    return {k: v for k, v in record.items() if k != "moments"}


def read(path: str) -> Optional[dict]:
    """The record at `path`, or None when there is none or it cannot be used."""
    try:
        record = json.loads(storage.read_bytes(path))
    except Exception:  # absent, or unreadable: either way the clip is decoded again
        return None
    return record if isinstance(record, dict) and record.get("format") in (FORMAT, UPGRADABLE) else None


def is_current_format(record: dict) -> bool:
    return record.get("format") == FORMAT


def _measure(name: str, value):
    # A float measure written null (to_json) was not a number.
    return math.nan if value is None and isinstance(getattr(Measures(), name), float) else value


def result_from(record: dict, row: ClipRow, outputs: Outputs) -> ClipResult:
    """The result a record vouches for, for the row as it stands in today's metadata (origin REUSED)."""
    measures = Measures(**{k: _measure(k, record[k]) for k in Measures.names() if k in record})
    moments = record.get("moments")
    return ClipResult(row=row, status=record["status"], error=record["error"], measures=measures, origin=REUSED,
                      outputs=outputs, record=without_moments(record), record_object=outputs.record,
                      moments=moments_from_json(moments) if record["status"] == SUCCESS and moments else None)
