"""What a re-run does with each video: the least work that gives today's result from trusted files.

`decide` is the one rule. The video step's Decide applies it to every row whose
record the record index holds (transforms/store/plan.py), and ProcessVideos to
the rows whose record must be read first (the index lacks it or holds an older
version: a killed run, no index yet). It returns

  * `ToDecode` when the landmarks must be made: no usable record, the source
    changed, a landmark option or the MediaPipe version changed, the .pose file
    is missing, or --reprocess=all;
  * `ToRecompute` when the landmarks are still good but a feature option
    changed (or the duplicate signature's code), the .npy of a saved clip is missing, or the record is of the
    previous format (upgraded: features recomputed from the checked .pose and
    compared with the stored .npy): features are computed again from the .pose,
    no video is decoded (its sha256 is checked first);
  * `ToVerify` when the record is current but a file it vouches for is not
    listed with the identity the record keeps (records.same_file): hashed first;
  * the recorded ClipResult, reused as it stands, without reading any file.
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Union

from transforms.common import storage
from transforms.store import records
from transforms.store.metadata import ClipRow
from transforms.store.paths import feature_path, landmark_path, record_path
from transforms.store.results import (CHANGED, NEW, SUCCESS, ClipResult, Outputs, ToDecode, ToRecompute,
                                      ToVerify)


class Fingerprints(NamedTuple):
    landmarks: str   # records.landmark_fingerprint
    features: str    # records.feature_fingerprint


def fingerprints(landmark_options: Dict[str, object], feature_options: Dict[str, object]) -> Fingerprints:
    landmarks = records.landmark_fingerprint(landmark_options)
    return Fingerprints(landmarks, records.feature_fingerprint(feature_options, landmarks))


def decide(row: ClipRow, source: Dict[str, object], record: Optional[dict], outputs: Outputs,
           made_by: Fingerprints, reprocess_all: bool = False,
           output_dir: str = "") -> Union[ToDecode, ToRecompute, ToVerify, ClipResult]:
    """The work `row` needs (see the module docstring). `record` may lack its moments (the index's).
    output_dir: only to name a missing file in the reason it is healed."""
    if record is None:
        return ToDecode(row, source, NEW, outputs)
    landmarks = record["landmarks"]
    same_landmarks = (record["source"] == source and record["video_file"] == row.video_file
                      and landmarks["fingerprint"] == made_by.landmarks)
    if reprocess_all or not same_landmarks:
        return ToDecode(row, source, CHANGED, outputs)
    if landmarks["sha256"] is None:
        # The video could not be decoded with these options; no feature option changes that.
        return records.result_from(record, row, outputs)
    stem = row.feature_stem
    if outputs.pose is None:
        return ToDecode(row, source, CHANGED, outputs,
                        healed=f"{landmark_path(output_dir, stem)} is missing: decoded the video again")
    if not records.is_current_format(record):
        if outputs.pose.size != landmarks.get("size"):  # cut short: never trusted
            return ToDecode(row, source, CHANGED, outputs,
                            healed=f"{landmark_path(output_dir, stem)} is not the size its record vouches for: "
                                   f"decoded the video again")
        return ToRecompute(row, source, landmarks, outputs, upgrade=True)
    saved = record["status"] == SUCCESS
    if records.signature_is_damaged(record):
        return ToRecompute(row, source, landmarks, outputs,
                           healed=f"{record_path(output_dir, stem)} holds a damaged duplicate signature: recomputed "
                                  f"from the stored landmarks")
    if record["fingerprint"] != made_by.features or not records.has_current_signature(record):
        return ToRecompute(row, source, landmarks, outputs)
    if saved and outputs.npy is None:
        return ToRecompute(row, source, landmarks, outputs,
                           healed=f"{feature_path(output_dir, stem)} is missing: recomputed from the stored landmarks")
    pose_ok = storage.same_identity(outputs.pose, landmarks.get("stored"))
    npy_ok = not saved or storage.same_identity(outputs.npy, (record.get("features") or {}).get("stored"))
    if pose_ok and npy_ok:
        return records.result_from(record, row, outputs)
    return ToVerify(row, source, record, outputs, pose_ok, npy_ok)
