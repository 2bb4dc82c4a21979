"""Feature definition v2: one clip's landmarks → features that say what was seen and keep time.

Pure NumPy, no Beam or MediaPipe, so every rule can be tested with hand-made
arrays. The definition, each rule with its reason, is docs/features-v2.md.
v1 (transforms/features/v1.py) stays the default and unchanged; v2 shares its
column layout and its torso scale rule and fixes what v1 gets wrong: absent
parts become zeros *after* normalization and are flagged, no frame is dropped
in the middle of a clip, the EMA never blends a part with its absence, and
clips with no signing are rejected with a reason a person can act on.

Two options make it sign-aware, both off by default (and then v2's output is
exactly what it was before they existed): fill_gaps fills a part's short
detection gaps (gaps.py), canonical_hand mirrors clips signed with the left hand
(hands.py decides, mirror.py mirrors).

Frame vector layout (face_downsample = 5 → 544 float32; 548 with fill_gaps > 0):
    [0:540)    v1's layout: pose (x, y, z, visibility), left hand, right hand,
               face landmarks 0, 5, …, 465 (x, y, z), torso-normalized, smoothed;
               exactly 0 wherever that part was not detected (nor filled)
    [540:544)  presence of pose, left hand, right hand, face: 1.0 where the part
               has values in that frame (seen, or filled), else 0.0
    [544:548)  only with fill_gaps > 0: filled pose, left hand, right hand, face:
               1.0 where the part was not seen and its values are interpolated
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Tuple

import numpy as np

from transforms.common.moments import Moments, frame_count
from transforms.common.moments import mean_std as moments_mean_std
from transforms.features import gaps, hands, mirror, v1, version
from transforms.features.landmarks import ClipPoints, HAND_POINTS, POSE_POINTS, frame_column_names
from transforms.features.verdict import FAILED, SUCCESS, ClipVerdict, gated

FEATURE_VERSION = "v2"

PARTS = ("pose", "left_hand", "right_hand", "face")
POSE, LEFT_HAND, RIGHT_HAND, FACE = range(len(PARTS))
AXES = ("x", "y", "z")
VISIBILITY_COLUMNS = np.arange(POSE_POINTS) * 4 + 3  # pose visibilities are confidence, not position

# Reason labels: every reason is "<label>: <details>", so reports can group by label.
NO_FRAMES = "No frames"
NO_SIGNER = "No signer"
NO_TORSO = "No torso"
TOO_FEW_FRAMES = v1.TOO_FEW_FRAMES
LOW_DETECTION = v1.LOW_DETECTION
SIGNER_TOO_SMALL = "Signer too small"
NO_HANDS = "No hands"
LOW_MOTION = v1.LOW_MOTION


@dataclasses.dataclass(frozen=True)
class V2Config:
    """Every threshold of v2, with its default; docs/features-v2.md says why each default.

    The thresholds v2 shares with v1 take v1's defaults (one number for one option).
    """

    min_frames: int = v1.QualityConfig.min_frames
    min_valid_ratio: float = v1.QualityConfig.min_valid_ratio
    min_hand_ratio: float = 0.2
    min_shoulder_width: float = 0.1
    motion_rejection_threshold: float = v1.QualityConfig.motion_rejection_threshold
    ema_alpha: float = v1.QualityConfig.ema_alpha
    keep_low_quality: bool = v1.QualityConfig.keep_low_quality
    face_downsample: int = 5
    fill_gaps: int = 0              # longest detection gap (frames) filled by interpolation; 0: none
    canonical_hand: bool = False    # mirror clips whose dominant hand is the left one


@dataclasses.dataclass(frozen=True, eq=False)
class ClipFeaturesV2(ClipVerdict):
    """The verdict on one clip (verdict.ClipVerdict: num_frames are the kept frames, frames decoded minus
    trimmed_start and trimmed_end; detection_ratio and mean_visibility over the kept frames) and what v2
    measured besides, for its tests and docs."""

    presence: Dict[str, float] = dataclasses.field(default_factory=dict)  # part → rate over kept frames
    hand_ratio: float = 0.0            # share of kept frames with at least one hand
    shoulder_width: float = 0.0        # median shoulder span as a fraction of the frame width
    filled_frames: Dict[str, int] = dataclasses.field(default_factory=dict)  # part → frames filled (fill_gaps > 0)


def feature_dim(face_downsample: int = 5, filled: bool = False) -> int:
    """Columns per frame; filled: the layout of fill_gaps > 0, with the four filled columns."""
    return v1.frame_dim(face_downsample) + len(PARTS) * (2 if filled else 1)


def v1_column_names(face_downsample: int = 5) -> List[str]:
    """Names of v1's columns, in v1's layout (540 with the default face_downsample)."""
    return frame_column_names(face_downsample)


def column_names(face_downsample: int = 5, filled: bool = False) -> List[str]:
    """Names of v2's columns: v1's, one presence flag per part (544 by default), then with filled one
    filled flag per part (548)."""
    flags = [f"present_{part}" for part in PARTS] + ([f"filled_{part}" for part in PARTS] if filled else [])
    return v1_column_names(face_downsample) + flags


def presence_columns(face_downsample: int = 5) -> np.ndarray:
    """Indices of the four presence columns, in PARTS order (the same with or without filled columns)."""
    return v1.frame_dim(face_downsample) + np.arange(len(PARTS))


def filled_columns(face_downsample: int = 5) -> np.ndarray:
    """Indices of the four filled columns of the fill_gaps > 0 layout, in PARTS order."""
    return presence_columns(face_downsample) + len(PARTS)


def column_parts(face_downsample: int = 5) -> np.ndarray:
    """For each of v1's columns, the index into PARTS of the body part it belongs to."""
    hand_dim = HAND_POINTS * 3
    face_dim = 3 * len(v1.face_indices(face_downsample))
    return np.repeat([POSE, LEFT_HAND, RIGHT_HAND, FACE], [v1.POSE_DIM, hand_dim, hand_dim, face_dim])


def present_moments(features: np.ndarray, face_downsample: int = 5,
                    filled: Optional[bool] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column (count, Σx, Σx²) over the frames where that column's part was seen.

    Filled values do not count: the statistics describe what MediaPipe saw, and a
    filled frame is a guess between two seen ones. filled: the array has the
    filled columns (None: tell from its width). The presence (and filled) columns
    count over every frame, so their mean is the rate of frames with values (and
    of filled frames). Moments of several clips merge by adding them.
    """
    features = np.asarray(features)
    widths = {False: feature_dim(face_downsample), True: feature_dim(face_downsample, filled=True)}
    if filled is None and features.shape[1] in widths.values():
        filled = features.shape[1] == widths[True]
    if features.shape[1] != widths.get(filled):
        raise ValueError(f"features of {features.shape[1]} columns are not v2's layout with face_downsample="
                         f"{face_downsample} ({widths[False]} columns, {widths[True]} with the filled columns)")
    flags = presence_columns(face_downsample)
    seen_parts = features[:, flags] > 0.5
    if filled:
        seen_parts &= ~(features[:, filled_columns(face_downsample)] > 0.5)
        flags = np.concatenate([flags, filled_columns(face_downsample)])
    mask = np.concatenate([seen_parts[:, column_parts(face_downsample)],
                           np.ones((len(features), len(flags)), bool)], axis=1)
    seen = np.where(mask, features.astype(np.float64), 0.0)
    return mask.sum(axis=0, dtype=np.int64), seen.sum(axis=0), np.square(seen).sum(axis=0)


def stats_from_moments(count: np.ndarray, total: np.ndarray, total_sq: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std (float32) from merged present_moments, v1's std floor included.

    A column never seen gets mean 0 and std 1, so standardizing it leaves its zeros at 0.
    """
    seen = count > 0
    n = np.where(seen, count, 1).astype(np.float64)
    mean = np.where(seen, total / n, 0.0)
    std = np.where(seen, np.sqrt(np.maximum(total_sq / n - mean ** 2, 1e-8)), 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def clip_features(points: ClipPoints, cfg: V2Config) -> ClipFeaturesV2:
    """Trim, normalize, judge and smooth one clip's landmarks (docs/features-v2.md, §Per clip).

    The dominant hand is judged on the clip as filmed; with canonical_hand a clip
    signed with the left hand is mirrored before anything else, so its dominant
    hand lands in the right hand's columns.
    """
    hand, why = hands.dominant_hand(points)
    mirrored = cfg.canonical_hand and hand == hands.LEFT
    result = _judge(mirror.swap_sides(points) if mirrored else points, cfg, reflect=mirrored)
    return dataclasses.replace(result, dominant_hand=hand, dominant_hand_reason=why, mirrored=mirrored)


def _judge(points: ClipPoints, cfg: V2Config, reflect: bool = False) -> ClipFeaturesV2:
    """reflect: points are swap_sides of the clip, and x is reflected about the torso centre after normalization."""
    total = len(points)
    if total == 0:
        return ClipFeaturesV2(status=FAILED, reason=f"{NO_FRAMES}: the video gave no frame to decode")

    signer = _signer_frames(_presence(points))
    if not signer.any():
        return ClipFeaturesV2(
            status=FAILED, frames_decoded=total,
            reason=f"{NO_SIGNER}: no pose or hand was seen in any of the {total} frames (a face alone "
                   f"does not count); check that the clip shows a signer")

    first, last = np.flatnonzero(signer)[[0, -1]]
    clip = _frames(points, slice(first, last + 1))
    counts = dict(frames_decoded=total, num_frames=len(clip),
                  trimmed_start=int(first), trimmed_end=int(total - 1 - last))
    presence = _presence(clip)
    has_torso = _has_torso(clip.pose, presence[:, POSE])
    if not has_torso.any():
        return ClipFeaturesV2(
            status=FAILED, **counts,
            reason=f"{NO_TORSO}: none of the {len(clip)} frames has a pose with shoulders and hips, "
                   f"so hands and face cannot be placed relative to the body; film the signer's upper body")

    frames = _normalized(clip, presence, *_torso_reference(clip.pose, has_torso), cfg.face_downsample)
    if reflect:
        # x − centre → centre − x: the mirror image about the torso centre, exact in floating
        # point (reflecting 1 − x before normalizing would round). 0 − 0 keeps absent zeros +0.0.
        x = _x_columns(cfg.face_downsample)
        frames[:, x] = np.float32(0.0) - frames[:, x]
    present_columns = presence[:, column_parts(cfg.face_downsample)]
    result = ClipFeaturesV2(status=SUCCESS, **counts, **_measures(clip, presence, has_torso),
                            **_motion_summary(_motion_energy(frames, present_columns)))

    result = gated(result, _low_quality_reason(result, int(has_torso.sum()), cfg), cfg.keep_low_quality)
    if result.status != SUCCESS:
        return result

    if cfg.fill_gaps <= 0:
        smoothed = _smooth_within_runs(frames, present_columns, cfg.ema_alpha)
        return dataclasses.replace(result, features=np.concatenate([smoothed, presence.astype(np.float32)], axis=1))

    # Filled after the gates, which judge what MediaPipe saw; the EMA then runs
    # through a filled gap as through seen frames (the line continues the track).
    frames, filled = gaps.fill_short_gaps(frames, presence, column_parts(cfg.face_downsample), cfg.fill_gaps)
    shown = presence | filled
    smoothed = _smooth_within_runs(frames, shown[:, column_parts(cfg.face_downsample)], cfg.ema_alpha)
    return dataclasses.replace(
        result, features=np.concatenate([smoothed, shown.astype(np.float32), filled.astype(np.float32)], axis=1),
        filled_frames={part: int(filled[:, i].sum()) for i, part in enumerate(PARTS)})


def _frames(points: ClipPoints, kept: slice) -> ClipPoints:
    """The kept frames of a clip, landmarks as float32."""
    def take(array):
        return np.asarray(array)[kept]
    return dataclasses.replace(
        points, pose=take(points.pose).astype(np.float32), left_hand=take(points.left_hand).astype(np.float32),
        right_hand=take(points.right_hand).astype(np.float32), face=take(points.face).astype(np.float32),
        pose_present=take(points.pose_present), left_hand_present=take(points.left_hand_present),
        right_hand_present=take(points.right_hand_present), face_present=take(points.face_present))


def _signer_frames(presence: np.ndarray) -> np.ndarray:
    """A pose or a hand was seen. A face alone cannot sign, and v1 does not count it either."""
    return presence[:, POSE] | presence[:, LEFT_HAND] | presence[:, RIGHT_HAND]


def _measures(clip: ClipPoints, presence: np.ndarray, has_torso: np.ndarray) -> dict:
    """What the gates and the reports look at, over the kept frames (§Per clip, step 6)."""
    with_pose = presence[:, POSE]
    return dict(
        detection_ratio=float(_signer_frames(presence).mean()),
        mean_visibility=float(clip.pose[with_pose, :, 3].mean()) if with_pose.any() else 0.0,
        presence={part: float(presence[:, i].mean()) for i, part in enumerate(PARTS)},
        hand_ratio=float((presence[:, LEFT_HAND] | presence[:, RIGHT_HAND]).mean()),
        shoulder_width=_shoulder_width(clip.pose[has_torso], clip.width, clip.height),
    )


def _motion_summary(energy: np.ndarray) -> dict:
    return dict(motion_mean=float(np.mean(energy)), motion_p50=float(np.percentile(energy, 50)),
                motion_p95=float(np.percentile(energy, 95)), motion_max=float(np.max(energy)))


def _presence(points: ClipPoints) -> np.ndarray:
    """(T, 4) bool: which parts MediaPipe detected in each frame, in PARTS order."""
    return np.stack([points.pose_present, points.left_hand_present, points.right_hand_present,
                     points.face_present], axis=1).astype(bool)


def _has_torso(pose: np.ndarray, pose_present: np.ndarray) -> np.ndarray:
    """Frames whose own shoulders and hips can anchor the frame of reference (v1's usability test)."""
    torso = pose[:, v1.TORSO_POINTS, :3]
    with np.errstate(invalid="ignore", over="ignore"):
        norm = np.linalg.norm(torso.reshape(len(pose), -1), axis=1)
    return pose_present & np.isfinite(torso).all(axis=(1, 2)) & (norm >= 1e-6)


def _torso_reference(pose: np.ndarray, has_torso: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-frame torso centre (T, 3) and scale (T,); a frame without a torso takes the nearest one's.

    Borrowing the nearest torso keeps hands seen without a pose in the same
    frame of reference as their neighbours (v1 leaves them in image coordinates).
    """
    rows = np.flatnonzero(has_torso)
    torso = pose[rows][:, v1.TORSO_POINTS, :3]
    centre = torso.mean(axis=1, dtype=np.float32)
    scale = _torso_scale(torso)
    nearest = _nearest(rows, len(pose))
    return centre[nearest], scale[nearest]


def _nearest(rows: np.ndarray, length: int) -> np.ndarray:
    """For every frame 0…length−1, the index into `rows` of the closest row; a tie goes to the earlier."""
    frames = np.arange(length)
    after = np.minimum(np.searchsorted(rows, frames), len(rows) - 1)
    before = np.maximum(after - 1, 0)
    closer_after = np.abs(rows[after] - frames) < np.abs(rows[before] - frames)
    return np.where(closer_after, after, before)


def _torso_scale(torso: np.ndarray) -> np.ndarray:
    """v1's scale, vectorized: median of the spans above 1e-4 (shoulders, hips, torso height), else 1.

    torso is (U, 4, 3): left shoulder, right shoulder, left hip, right hip.
    """
    shoulders = torso[:, 0] - torso[:, 1]
    hips = torso[:, 2] - torso[:, 3]
    height = (torso[:, 0] + torso[:, 1]) / np.float32(2) - (torso[:, 2] + torso[:, 3]) / np.float32(2)
    spans = np.linalg.norm(np.stack([shoulders, hips, height], axis=1), axis=2)  # (U, 3)
    candidate = spans > 1e-4
    ordered = np.sort(np.where(candidate, spans, np.inf), axis=1)
    count = candidate.sum(axis=1)
    rows = np.arange(len(spans))
    low, high = np.maximum((count - 1) // 2, 0), count // 2
    median = (ordered[rows, low] + ordered[rows, high]) / np.float32(2)
    return np.where(count > 0, median, np.float32(1.0)).astype(np.float32)


def _normalized(clip: ClipPoints, presence: np.ndarray, centre: np.ndarray, scale: np.ndarray,
                face_downsample: int) -> np.ndarray:
    """(T, 540) float32 in v1's layout: each part torso-normalized where present, exactly 0 where absent.

    Zeroing after normalization is the point: v1 normalizes the zeros of an
    undetected part too, which turns them into a phantom part at −centre/scale.
    """
    inverse = np.float32(1.0) / scale

    def place(xyz: np.ndarray, present: np.ndarray) -> np.ndarray:
        moved = (xyz - centre[:, None, :]) * inverse[:, None, None]
        return np.where(present[:, None, None], moved, np.float32(0.0))

    pose_present = presence[:, POSE]
    pose = np.concatenate([place(clip.pose[:, :, :3], pose_present),
                           np.where(pose_present[:, None, None], clip.pose[:, :, 3:], np.float32(0.0))], axis=2)
    parts = [pose,
             place(clip.left_hand, presence[:, LEFT_HAND]),
             place(clip.right_hand, presence[:, RIGHT_HAND]),
             place(clip.face[:, v1.face_indices(face_downsample)], presence[:, FACE])]
    return np.concatenate([part.reshape(len(clip), -1) for part in parts], axis=1)


def _x_columns(face_downsample: int) -> np.ndarray:
    """Indices of every x column in v1's layout: pose (x, y, z, visibility) points, then hands and face (x, y, z)."""
    return np.concatenate([np.arange(POSE_POINTS) * 4, np.arange(v1.POSE_DIM, v1.frame_dim(face_downsample), 3)])


def _motion_energy(frames: np.ndarray, present_columns: np.ndarray) -> np.ndarray:
    """e[t] = ‖F[t] − F[t−1]‖ over the xyz columns present in both frames; e[0] = 0.

    A part appearing or vanishing is a detection event, not motion, so it adds nothing.
    """
    energy = np.zeros(len(frames), dtype=np.float32)
    if len(frames) > 1:
        both = present_columns[1:] & present_columns[:-1]
        step = np.where(both, np.diff(frames, axis=0), np.float32(0.0))
        energy[1:] = np.linalg.norm(np.delete(step, VISIBILITY_COLUMNS, axis=1), axis=1)
    return energy


def _smooth_within_runs(frames: np.ndarray, present_columns: np.ndarray, alpha: float) -> np.ndarray:
    """v1's EMA per column, restarted at the first frame of every run where that column's part is present.

    Absent frames stay 0 and a part's first frame after a gap is its raw value,
    so a present value is never blended with an absent zero.
    """
    if alpha <= 0:
        return frames.copy()
    a, b = np.float32(alpha), np.float32(1.0 - alpha)
    continuing = np.zeros_like(present_columns)
    continuing[1:] = present_columns[1:] & present_columns[:-1]
    out = np.empty_like(frames)
    out[0] = frames[0]
    for t in range(1, len(frames)):
        out[t] = np.where(continuing[t], a * frames[t] + b * out[t - 1], frames[t])
    return out


def _shoulder_width(pose: np.ndarray, width: int, height: int) -> float:
    """Median shoulder span over the given pose frames, as a fraction of the frame width.

    x and y are fractions of width and height, so the span is measured in pixels first.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"a clip with frames needs its frame size, got {width}×{height}")
    dx = (pose[:, v1.L_SHOULDER, 0] - pose[:, v1.R_SHOULDER, 0]) * width
    dy = (pose[:, v1.L_SHOULDER, 1] - pose[:, v1.R_SHOULDER, 1]) * height
    return float(np.median(np.hypot(dx, dy)) / width)


def _percent(ratio: float) -> str:
    return f"{100 * ratio:.3g}%"


def _low_quality_reason(result: ClipFeaturesV2, torso_frames: int, cfg: V2Config) -> str:
    """The first gate that applies, causes before symptoms; "" when the clip passes."""
    n = result.num_frames
    if n < cfg.min_frames:
        trimming = (f" after trimming {result.trimmed_start} at the start and {result.trimmed_end} at the end "
                    f"with no signer" if result.trimmed_start or result.trimmed_end else "")
        return (f"{TOO_FEW_FRAMES}: {n} frames{trimming} (needs {cfg.min_frames}); use a longer clip or lower "
                f"min_frames")
    if result.detection_ratio < cfg.min_valid_ratio:
        return (f"{LOW_DETECTION}: a pose or hand was seen in {round(result.detection_ratio * n)} of {n} frames "
                f"(needs {_percent(cfg.min_valid_ratio)}); check that the signer stays in view")
    if result.shoulder_width < cfg.min_shoulder_width:
        return (f"{SIGNER_TOO_SMALL}: the shoulders span {_percent(result.shoulder_width)} of the frame width "
                f"(median over {torso_frames} frames; needs {_percent(cfg.min_shoulder_width)}); film closer "
                f"or crop to the signer")
    if result.hand_ratio < cfg.min_hand_ratio:
        return (f"{NO_HANDS}: a hand was seen in {round(result.hand_ratio * n)} of {n} frames "
                f"(needs {_percent(cfg.min_hand_ratio)}); check that the clip shows signing with the hands in view")
    if result.motion_mean < cfg.motion_rejection_threshold:
        return (f"{LOW_MOTION}: the landmarks move {result.motion_mean:.2g} torso units per frame on average "
                f"(needs {cfg.motion_rejection_threshold:g}); the signer hardly moves")
    return ""


# The longest gap fill_gaps may fill: one second at 30 fps. Past that a hand has left
# the view or stopped being tracked, and a straight line would invent its movement.
MAX_FILL_GAPS = 30


def _v1_option(name: str) -> version.Option:
    """The options v2 shares with v1 are v1's (one number, one line of help, for one option)."""
    return next(o for o in v1.VERSION.options if o.name == name)


class FeaturesV2(version.FeatureVersion):
    """v2 as a feature version (transforms/features/version.py)."""

    name = FEATURE_VERSION
    help = ("time kept, absent parts 0 plus 4 presence columns (544), clips with no hands or a tiny signer rejected; "
            "see docs/features-v2.md.")
    options = tuple(_v1_option(name) for name in (
        "face_downsample", "min_frames", "min_valid_ratio", "motion_rejection_threshold", "ema_alpha",
        "keep_low_quality")) + (
        version.Option("min_hand_ratio", float, V2Config.min_hand_ratio,
                       "v2: a hand must be seen in at least this share of kept frames, else 'No hands'.",
                       bounds=(0.0, 1.0)),
        version.Option("fill_gaps", int, V2Config.fill_gaps,
                       "v2: a part missing for at most this many frames between two frames where it was seen is "
                       "filled by interpolation, and flagged in 4 filled_* columns; 0: off."),
        version.Option("canonical_hand", version.flag, V2Config.canonical_hand,
                       "v2: mirror clips whose dominant hand is the left one, so the dominant hand is always in the "
                       "right-hand columns (every left/right point exchanged, the face included)."),
        version.Option("min_shoulder_width", float, V2Config.min_shoulder_width,
                       "v2: median shoulder width as a share of the frame width; below → 'Signer too small'.",
                       bounds=(0.0, 1.0)),
    )
    report_columns = ("source_fps", "trimmed_start", "trimmed_end", "mirrored")
    frames_text = "every frame from the first to the last with a signer, in order (v2 keeps time)"
    card = version.CardText(
        definition="v2 (`docs/features-v2.md` in the pipeline repository): time kept, absent parts 0 with presence "
                   "columns, statistics over what was seen",
        standardize='present = x[:, schema["column_presence"]]       # 1 where the column\'s part was seen\n'
                    'keep = np.array(schema["column_presence"]) < 0   # the presence columns stay as they are\n'
                    'x = np.where(keep, x, present * (x - stats["feature_mean"]) / stats["feature_std"])',
        standardize_note="; absent parts stay 0",
        stats_words="the train frames where each column's part was seen",
        limits=("Features v2: a part not seen is 0 in its columns; use the presence columns as a mask (see How to "
                "load), or the zeros read as a point at the torso centre.",))

    def option_names(self):
        # In V2Config's order: the order of feature_schema.json's options.
        return tuple(f.name for f in dataclasses.fields(V2Config))

    def option_problems(self, values: Dict[str, object]) -> List[str]:
        fill = values["fill_gaps"]
        if not 0 <= fill <= MAX_FILL_GAPS:
            return [f"--fill_gaps={fill} is not a gap length: give 0 (off) to {MAX_FILL_GAPS} frames (a part "
                    f"missing longer than that is gone, not lost for a moment); 3 to 5 fills MediaPipe's "
                    f"dropouts in fast signing."]
        return []

    def compute(self, points: ClipPoints, options: Dict[str, object]) -> ClipFeaturesV2:
        return clip_features(points, V2Config(**{name: options[name] for name in self.option_names()}))

    def columns(self, options: Dict[str, object]) -> List[str]:
        return column_names(int(options["face_downsample"]), _filled(options))

    def columns_text(self, options: Dict[str, object]) -> str:
        text = ("x, y, z (and visibility for the pose) of every point, normalized around the torso and exactly 0 "
                "where the part was not seen; then 4 columns (present_pose, present_left_hand, "
                "present_right_hand, present_face) are 1.0 where that part was seen, else 0.0.")
        if _filled(options):
            text += (" The last 4 (filled_pose, filled_left_hand, filled_right_hand, filled_face) are 1.0 where "
                     "the part was missing for at most --fill_gaps frames and its values were interpolated (its "
                     "present column is 1.0 there too), else 0.0.")
        return text

    def column_presence(self, options: Dict[str, object]) -> List[int]:
        face_downsample = int(options["face_downsample"])
        presence = presence_columns(face_downsample)
        landmarks = [int(presence[p]) for p in column_parts(face_downsample)]
        return landmarks + [-1] * (self.dim(options) - len(landmarks))

    def moments(self, features: np.ndarray, options: Dict[str, object]):
        return Moments(*present_moments(features, int(options["face_downsample"]), _filled(options)))

    def statistics(self, merged: Optional[Moments], options: Dict[str, object]) -> Dict[str, np.ndarray]:
        # Mean/std are over the frames where each column's part was seen (filled frames not counted);
        # standardize with present * (x - mean) / std so absent zeros stay zeros.
        if merged is None:
            mean, std = moments_mean_std(merged, self.dim(options))
        else:
            mean, std = stats_from_moments(*merged)
        rates = self.presence_rates(merged, options)
        return dict(feature_mean=mean, feature_std=std, frame_count=np.int64(frame_count(merged)),
                    present_count=(np.asarray(merged.count, np.int64) if merged is not None
                                   else np.zeros(len(mean), np.int64)),
                    presence_parts=np.array(list(rates) or list(PARTS)),
                    presence_rate=np.array([rates.get(p, 0.0) for p in PARTS], dtype=np.float32))

    def statistics_names(self):
        return ("present_count", "presence_rate")

    def presence_rates(self, merged: Optional[Moments], options: Dict[str, object]) -> Dict[str, float]:
        """Share of saved frames in which each part was seen.

        Seen, not filled: with filled columns a presence column's sum counts filled
        frames too, so the filled column's sum is taken off.
        """
        if merged is None:
            return {}
        count, total, _ = merged
        frames = max(int(count[-1]), 1)
        parts, filled = len(PARTS), _filled(options)
        present = np.asarray(total[-2 * parts:-parts] if filled else total[-parts:], np.float64)
        seen = present - np.asarray(total[-parts:], np.float64) if filled else present
        return {part: float(seen[i] / frames) for i, part in enumerate(PARTS)}


def _filled(options: Dict[str, object]) -> bool:
    """The layout of fill_gaps > 0, with the four filled columns."""
    return int(options.get("fill_gaps") or 0) > 0


VERSION = FeaturesV2()
