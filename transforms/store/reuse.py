"""What a re-run does with each video: the least work that gives today's result.

`decide` is the one rule. The launcher applies it to every row whose record the
record index holds (transforms/store/plan.py); the video step applies it in the
job to the rows whose record must be read first (the index lacks it or holds an
older version: a killed run, no index yet). It returns

  * `ToDecode` when the landmarks must be made: no usable record, the source
    changed, a landmark option or the MediaPipe version changed, the .pose file
    is missing or not the size its record vouches for, or --reprocess=all;
  * `ToRecompute` when the landmarks are still good but a feature option
    changed, or the record predates what a result now holds (the dominant
    hand): features are computed again from the .pose, no video is decoded
    (its sha256 is checked first);
  * the recorded ClipResult, reused as it stands.
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Union

from transforms.store import records
from transforms.store.metadata import ClipRow
from transforms.store.results import CHANGED, NEW, SUCCESS, ClipResult, Outputs, ToDecode, ToRecompute


class Fingerprints(NamedTuple):
    landmarks: str   # records.landmark_fingerprint
    features: str    # records.feature_fingerprint


def fingerprints(landmark_options: Dict[str, object], feature_options: Dict[str, object]) -> Fingerprints:
    landmarks = records.landmark_fingerprint(landmark_options)
    return Fingerprints(landmarks, records.feature_fingerprint(feature_options, landmarks))


def decide(row: ClipRow, source: Dict[str, object], record: Optional[dict], outputs: Outputs,
           made_by: Fingerprints, reprocess_all: bool = False) -> Union[ToDecode, ToRecompute, ClipResult]:
    """The work `row` needs (see the module docstring). `record` may lack its moments (the index's)."""
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
    if outputs.pose is None or outputs.pose.size != landmarks.get("size"):
        return ToDecode(row, source, CHANGED, outputs)  # missing or cut short: never trusted
    current = record["fingerprint"] == made_by.features and "dominant_hand" in record
    if current and (record["status"] != SUCCESS or outputs.npy is not None):
        return records.result_from(record, row, outputs)
    return ToRecompute(row, source, landmarks, outputs)
