"""Publishing a clip's result: its .npy (saved clips only), then the record that vouches for it.

The clip's .pose landmark file was published before (transforms/store/videos.py).

Feature file format: `features/pose_data/<video_file without extension>.npy`,
NumPy .npy (no pickle), float32, shape (kept frames, the feature version's
columns), one row per kept frame, columns as the version defines them
(transforms/features/) and named in proc/feature_schema.json. Record format:
transforms/store/records.py.

Order matters for retries (Beam and Dataflow retry bundles): the .npy is
published whole (transforms/common/storage.py), then the record that vouches for
it, then the result is emitted. A failure anywhere in between leaves either
nothing new, or a complete .npy the next attempt overwrites with the same
bytes, or a complete .npy and record that the next run reuses.

After a run, pose_data/ holds the .npy of exactly the clips listed in
processed_metadata.csv, plus the orphans listed in orphaned_outputs.csv (see
transforms/store/orphans.py): a clip judged anew and no longer a success loses its old .npy.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Optional

import numpy as np

from transforms.common import storage
from transforms.features import registry
from transforms.store import records
from transforms.store.paths import feature_path, record_path
from transforms.store.results import FAILED, LOW_QUALITY, SUCCESS, ClipResult


def publish(result: ClipResult, features: Optional[np.ndarray], source: Dict[str, object],
            landmarks: Optional[Dict[str, object]], output_dir: str, feature_options: dict,
            signature: Optional[Dict[str, Optional[str]]] = None, compare_stored: bool = False) -> ClipResult:
    """Writes what `result` vouches for and returns it with its record (and, when saved, its moments).

    A MISSING video or an error that may be transient says nothing about the
    clip: nothing is recorded and its published outputs are left alone (listed as
    orphans), so a mistyped --video_dir never deletes features.

    compare_stored: the clip's listed .npy is read and compared with these features first (a record
    of the previous format being upgraded): the same bytes are left in place, other bytes are
    rewritten and the result names the file healed.
    """
    recorded = result.status == SUCCESS or (result.status in (LOW_QUALITY, FAILED) and not result.retryable)
    if not recorded or landmarks is None:
        return result
    outputs = result.outputs
    section = None
    if result.status == SUCCESS:
        path = feature_path(output_dir, result.feature_stem)
        data = storage.npy_bytes(features)
        written = None
        if compare_stored and outputs.npy is not None:
            if storage.read_if_present(path) == data:
                written = outputs.npy
            elif not result.healed:
                result = dataclasses.replace(result, healed=f"{path} is not the array its stored landmarks give: "
                                                            f"rewritten")
        if written is None:
            written = storage.write_bytes(path, data, unless=outputs.npy)
        section = records.features_identity(data, features, written)
        result = dataclasses.replace(result, moments=registry.of(feature_options).moments(features, feature_options))
        outputs = outputs._replace(npy=written)
    elif outputs.npy is not None:
        storage.delete_if_present(feature_path(output_dir, result.feature_stem))
        outputs = outputs._replace(npy=None)
    if landmarks.get("sha256") is not None:
        landmarks = {**landmarks, "stored": storage.identity(outputs.pose)}
    made_by = records.feature_fingerprint(feature_options, landmarks["fingerprint"])
    record = records.to_record(result, source, landmarks, made_by, section, signature)
    written = storage.write_text(record_path(output_dir, result.feature_stem), records.to_json(record),
                                 unless=outputs.record)
    return dataclasses.replace(result, record=records.without_moments(record), record_object=written,
                               outputs=outputs._replace(record=written))
