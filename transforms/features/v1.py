"""Feature definition v1: landmarks of one clip → normalized, judged, smoothed frames.

Pure NumPy, no Beam or MediaPipe, so every branch can be tested with hand-made
arrays. The definition is ../shared/spec/features-v1.md; section numbers in the
comments refer to it. It reproduces the team's earlier script bit for bit
(to 1e-5), so old and new feature files can be mixed: change nothing here
without bumping FEATURE_VERSION.

Frame vector layout (face_downsample = 5 → 540 float32):
    [0:132)    pose, 33 landmarks × (x, y, z, visibility)
    [132:195)  left hand, 21 × (x, y, z)
    [195:258)  right hand, 21 × (x, y, z)
    [258:540)  face landmarks 0, 5, …, 465 × (x, y, z)
A part that was not detected is all zeros.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List

import numpy as np

from transforms.features import version
from transforms.features.landmarks import (FACE_START, LEFT_HAND, POSE_DIM,
                                           POSE_POINTS, RIGHT_HAND, ClipPoints, face_indices, frame_column_names,
                                           frame_dim, frame_vectors)
from transforms.features.verdict import FAILED, SUCCESS, ClipVerdict, gated

FEATURE_VERSION = "v1"

# Shoulders and hips anchor the torso frame of reference.
L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 11, 12, 23, 24
TORSO_POINTS = (L_SHOULDER, R_SHOULDER, L_HIP, R_HIP)

LOW_MOTION = "Low motion"
TOO_FEW_FRAMES = "Too few frames"
LOW_DETECTION = "Below preprocessing quality threshold"
NO_FRAMES = "No frames read"
NO_VALID_FRAMES = "No valid pose/hand frames"


@dataclasses.dataclass(frozen=True)
class QualityConfig:
    """The options that decide which frames are kept and which clips pass (§Per video)."""

    min_frames: int = 48
    min_valid_ratio: float = 0.45
    visibility_threshold: float = 0.55
    motion_keep_threshold: float = 1e-3
    motion_rejection_threshold: float = 7.5e-4
    ema_alpha: float = 0.2
    keep_low_quality: bool = False


@dataclasses.dataclass
class ClipLandmarks:
    """Raw per-frame vectors of one clip, as MediaPipe saw it (§Raw frame vector)."""

    frames: np.ndarray      # (total, D) float32, un-normalized
    valid: np.ndarray       # (total,) bool: pose or a hand detected
    visibility: np.ndarray  # (total,) float32: mean pose visibility, 0 without pose


# The verdict on one clip: v1 fills frames_decoded, num_frames (kept frames), detection_ratio,
# mean_visibility, the motion numbers and kept_low (rejected by §8 but saved because of keep_low_quality).
ClipFeatures = ClipVerdict


def frame_vector(pose, left_hand, right_hand, face, face_downsample: int = 5):
    """One frame's raw vector, validity and visibility from per-part landmark arrays.

    pose is (33, 4) [x, y, z, visibility]; hands (21, 3); face (468, 3); any of
    them None when MediaPipe did not detect that part.
    """
    idx = face_indices(face_downsample)
    vec = np.zeros(frame_dim(face_downsample), dtype=np.float32)
    if pose is not None:
        vec[:POSE_DIM] = np.asarray(pose, dtype=np.float32).reshape(-1)
    if left_hand is not None:
        vec[LEFT_HAND] = np.asarray(left_hand, dtype=np.float32).reshape(-1)
    if right_hand is not None:
        vec[RIGHT_HAND] = np.asarray(right_hand, dtype=np.float32).reshape(-1)
    if face is not None:
        vec[FACE_START:] = np.asarray(face, dtype=np.float32)[idx].reshape(-1)
    valid = pose is not None or left_hand is not None or right_hand is not None
    visibility = np.float32(np.mean(np.asarray(pose, dtype=np.float32)[:, 3])) if pose is not None else np.float32(0.0)
    return vec, valid, visibility


def from_points(points: ClipPoints, face_downsample: int = 5) -> ClipLandmarks:
    """§Raw frame vector, validity and visibility of every frame of a clip's stored landmarks.

    The same vectors frame_vector builds one frame at a time; absent parts are zeros in
    ClipPoints already, as the spec wants them.
    """
    vectors = frame_vectors(points, face_downsample)
    valid = points.pose_present | points.left_hand_present | points.right_hand_present
    visibility = np.where(points.pose_present, points.pose[:, :, 3].mean(axis=1, dtype=np.float32), np.float32(0))
    return ClipLandmarks(frames=vectors, valid=np.asarray(valid, bool), visibility=visibility.astype(np.float32))


def _xyz_columns(dim: int) -> np.ndarray:
    """Column indices of every (x, y, z) value: pose xyz, both hands, face."""
    pose_xyz = (np.arange(POSE_POINTS)[:, None] * 4 + np.arange(3)).reshape(-1)
    rest = np.arange(POSE_DIM, dim)
    return np.concatenate([pose_xyz, rest])


def _visibility_columns() -> np.ndarray:
    return np.arange(POSE_POINTS) * 4 + 3


def normalize_frames(frames: np.ndarray) -> np.ndarray:
    """Torso-centred, torso-scaled copy of raw frame vectors (§Per-frame normalization).

    Vectorized over frames; each frame is treated on its own.
    """
    frames = np.asarray(frames, dtype=np.float32)
    out = frames.copy()
    if len(frames) == 0:
        return out
    pose = frames[:, :POSE_DIM].reshape(-1, POSE_POINTS, 4)[:, :, :3]
    torso = pose[:, TORSO_POINTS, :]                                # (T, 4, 3)
    finite = np.isfinite(torso).all(axis=(1, 2))
    with np.errstate(invalid="ignore", over="ignore"):
        norm = np.linalg.norm(torso.reshape(len(frames), -1), axis=1)
    usable = finite & (norm >= 1e-6)
    if not usable.any():
        return out

    rows = np.flatnonzero(usable)
    centre = torso[rows].mean(axis=1, dtype=np.float32)             # (U, 3)
    xyz_cols = _xyz_columns(frames.shape[1])
    centred = frames[rows][:, xyz_cols].reshape(len(rows), -1, 3) - centre[:, None, :]

    p = centred[:, :POSE_POINTS, :]  # pose comes first in xyz_cols
    shoulder = np.linalg.norm(p[:, L_SHOULDER] - p[:, R_SHOULDER], axis=1)
    hip = np.linalg.norm(p[:, L_HIP] - p[:, R_HIP], axis=1)
    torso_h = np.linalg.norm(
        (p[:, L_SHOULDER] + p[:, R_SHOULDER]) / np.float32(2) - (p[:, L_HIP] + p[:, R_HIP]) / np.float32(2), axis=1)
    spans = np.stack([shoulder, hip, torso_h], axis=1)              # (U, 3)
    scale = np.array([_median_scale(s) for s in spans], dtype=np.float32)

    scaled = centred * (np.float32(1.0) / scale)[:, None, None]
    block = out[rows]
    block[:, xyz_cols] = scaled.reshape(len(rows), -1)
    out[rows] = block
    return out


def _median_scale(spans: np.ndarray) -> np.float32:
    candidates = spans[spans > 1e-4]
    if candidates.size == 0:
        return np.float32(1.0)
    scale = np.float32(np.median(candidates))
    return scale if scale >= 1e-6 else np.float32(1.0)


def motion_energy(features: np.ndarray) -> np.ndarray:
    """e[t] = ‖F[t] − F[t−1]‖ over every column but the pose visibilities; e[0] = 0."""
    energy = np.zeros(len(features), dtype=np.float32)
    if len(features) > 1:
        moving = np.delete(features, _visibility_columns(), axis=1)
        energy[1:] = np.linalg.norm(np.diff(moving, axis=0), axis=1)
    return energy


def ema_smooth(frames: np.ndarray, alpha: float) -> np.ndarray:
    """out[0] = x[0], out[t] = α·x[t] + (1 − α)·out[t−1], in float32."""
    frames = np.asarray(frames, dtype=np.float32)
    if alpha <= 0 or len(frames) < 2:
        return frames.copy()
    a = np.float32(alpha)
    b = np.float32(1.0 - alpha)
    out = np.empty_like(frames)
    out[0] = frames[0]
    for t in range(1, len(frames)):
        out[t] = a * frames[t] + b * out[t - 1]
    return out


def clip_features(clip: ClipLandmarks, cfg: QualityConfig) -> ClipFeatures:
    """Apply §Per video steps 1–10 to one clip's raw landmarks."""
    total = len(clip.frames)
    if total == 0:
        return ClipFeatures(status=FAILED, reason=NO_FRAMES)

    normalized = normalize_frames(clip.frames)
    energy = motion_energy(normalized)
    valid = np.asarray(clip.valid, dtype=bool)
    n_valid = int(valid.sum())
    if n_valid == 0:
        return ClipFeatures(status=FAILED, reason=NO_VALID_FRAMES, frames_decoded=total)
    detection_ratio = n_valid / total

    frames = normalized[valid]
    visibility = np.asarray(clip.visibility, dtype=np.float32)[valid]
    energy = energy[valid]

    keep = (visibility >= cfg.visibility_threshold) | (energy >= cfg.motion_keep_threshold)
    if not keep.any():
        keep[0] = True
    frames, visibility, energy = frames[keep], visibility[keep], energy[keep]

    result = ClipFeatures(
        status=SUCCESS,
        frames_decoded=total,
        num_frames=len(frames),
        detection_ratio=float(detection_ratio),
        mean_visibility=float(np.mean(visibility)),
        motion_mean=float(np.mean(energy)),
        motion_p50=float(np.percentile(energy, 50)),
        motion_p95=float(np.percentile(energy, 95)),
        motion_max=float(np.max(energy)),
    )
    result = gated(result, _low_quality_reason(result, cfg), cfg.keep_low_quality)
    if result.status != SUCCESS:
        return result
    return dataclasses.replace(result, features=ema_smooth(frames, cfg.ema_alpha))


def _low_quality_reason(result: ClipVerdict, cfg: QualityConfig) -> str:
    if result.motion_mean < cfg.motion_rejection_threshold:
        return LOW_MOTION
    if result.num_frames < cfg.min_frames:
        return TOO_FEW_FRAMES
    if result.detection_ratio < cfg.min_valid_ratio:
        return LOW_DETECTION
    return ""


class FeaturesV1(version.FeatureVersion):
    """v1 as a feature version (transforms/features/version.py): the options above, this module's verdict."""

    name = FEATURE_VERSION
    help = "the team's exact definition (540 columns, frames dropped, absent parts as -centre/scale)."
    options = (
        version.Option("face_downsample", int, 5, "Keep every Nth of the 468 face landmarks (5 → 94, 540 values "
                                                   "per frame).", bounds=(1, float("inf"))),
        version.Option("min_frames", int, QualityConfig.min_frames, "Fewer kept frames → 'Too few frames'.",
                       bounds=(0, float("inf"))),
        version.Option("min_valid_ratio", float, QualityConfig.min_valid_ratio,
                       "Lower share of frames with pose or a hand → low quality.", bounds=(0.0, 1.0)),
        version.Option("visibility_threshold", float, QualityConfig.visibility_threshold,
                       "A frame is kept if its mean pose visibility reaches this…", bounds=(0.0, 1.0)),
        version.Option("motion_keep_threshold", float, QualityConfig.motion_keep_threshold,
                       "…or its motion energy reaches this.", bounds=(0.0, float("inf"))),
        version.Option("motion_rejection_threshold", float, QualityConfig.motion_rejection_threshold,
                       "Lower mean motion energy → 'Low motion'.", bounds=(0.0, float("inf"))),
        version.Option("ema_alpha", float, QualityConfig.ema_alpha,
                       "Exponential smoothing weight of the new frame; 0 disables smoothing.", bounds=(0.0, 1.0)),
        version.Option("keep_low_quality", version.flag, QualityConfig.keep_low_quality,
                       "Save clips the quality rules reject, flagged kept_low."),
    )
    frames_text = "the frames v1 kept (it drops frames without a pose or hand, and still frames with low visibility)"
    card = version.CardText(
        definition="v1, the team's original definition (`shared/spec/features-v1.md`)",
        standardize='x = (x - stats["feature_mean"]) / stats["feature_std"]',
        standardize_note="",
        stats_words="every train frame",
        limits=("Features v1: a part not detected is stored as zeros *before* normalization, so it appears at "
                "-centre/scale (a phantom hand that moves with the torso), and frames are dropped, so time jumps. "
                "Prefer a v2 release for new models.",))

    def compute(self, points: ClipPoints, options: Dict[str, object]) -> ClipFeatures:
        quality = QualityConfig(**{f.name: options[f.name] for f in dataclasses.fields(QualityConfig)})
        return clip_features(from_points(points, int(options["face_downsample"])), quality)

    def columns(self, options: Dict[str, object]) -> List[str]:
        return frame_column_names(int(options["face_downsample"]))

    def columns_text(self, options: Dict[str, object]) -> str:
        return "x, y, z (and visibility for the pose) of every point, normalized around the torso."


VERSION = FeaturesV1()
