"""A third feature version that lives outside the product: both hands and nothing else, 126 columns.

tests/test_feature_versions.py names it by import path (--feature_version=tests.hands_only_version:VERSION)
and runs it through the real pipeline, reports, release and card: what a team's own version needs is this
one module, and no product file knows it.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List

import numpy as np

from transforms.features import registry, version
from transforms.features.landmarks import HAND_DIM, LEFT_HAND, RIGHT_HAND, ClipPoints, frame_dim
from transforms.features.verdict import FAILED, SUCCESS, ClipVerdict, gated

NAME = "tests.hands_only_version:VERSION"
HANDS = ("left_hand", "right_hand")
L_SHOULDER, R_SHOULDER = 11, 12


class HandsOnly(version.FeatureVersion):
    name = NAME
    help = "both hands only (126 columns), around the shoulders' centre in shoulder spans."
    # Options it shares with the built-in versions take their declaration; its fingerprint hashes these.
    options = (registry.declared("min_frames"), registry.declared("keep_low_quality"))
    frames_text = "the frames in which a hand was seen"
    card = version.CardText(
        definition="hands only (a version of the test suite): both hands around the shoulders' centre",
        standardize='x = (x - stats["feature_mean"]) / stats["feature_std"]',
        standardize_note="",
        stats_words="every train frame",
        limits=("Hands only: no pose, no face.",))

    def compute(self, points: ClipPoints, options: Dict[str, object]) -> ClipVerdict:
        seen = points.left_hand_present | points.right_hand_present
        if not seen.any():
            return ClipVerdict(status=FAILED, reason="No hands: no hand was seen in any frame",
                               frames_decoded=len(points))
        shoulders = points.pose[:, [L_SHOULDER, R_SHOULDER], :3]
        centre = shoulders.mean(axis=1)[seen]
        span = np.linalg.norm(shoulders[:, 0] - shoulders[:, 1], axis=1)[seen]
        span = np.where(span > 1e-6, span, 1.0)
        hands = []
        for part in HANDS:
            xyz = getattr(points, part)[seen]
            present = getattr(points, f"{part}_present")[seen]
            placed = (xyz - centre[:, None, :]) / span[:, None, None]
            hands.append(np.where(present[:, None, None], placed, 0.0).reshape(len(xyz), -1))
        features = np.concatenate(hands, axis=1).astype(np.float32)
        verdict = ClipVerdict(status=SUCCESS, frames_decoded=len(points), num_frames=len(features),
                              detection_ratio=float(seen.mean()))
        reason = "Too few frames" if len(features) < int(options["min_frames"]) else ""
        verdict = gated(verdict, reason, bool(options["keep_low_quality"]))
        return dataclasses.replace(verdict, features=features) if verdict.status == SUCCESS else verdict

    def columns(self, options: Dict[str, object]) -> List[str]:
        return [f"{part}_{i}_{axis}" for part in HANDS for i in range(21) for axis in "xyz"]

    def columns_text(self, options: Dict[str, object]) -> str:
        return "x, y, z of the 21 points of each hand, left then right, around the shoulders' centre; 0 when unseen."

    def drawable(self, features: np.ndarray, options: Dict[str, object]) -> np.ndarray:
        frames = np.zeros((len(features), frame_dim(5)), np.float32)
        frames[:, LEFT_HAND] = features[:, :HAND_DIM]
        frames[:, RIGHT_HAND] = features[:, HAND_DIM:]
        return frames


VERSION = HandsOnly()
