"""Feature definition v2 on hand-made ClipPoints: every rule of docs/features-v2.md.

Expected values come from v1's tested normalization and smoothing (the rules v2
shares with it) or from the rule written out in the test, never from v2 itself.
"""
import numpy as np
import pytest

from transforms.features import v1
from transforms.features import v2
from transforms.features.landmarks import ClipPoints

WIDTH, HEIGHT = 640, 480
CENTRE = np.array([0.5, 0.6, 0.0], np.float32)
TORSO = {11: (0.6, 0.4, 0.0), 12: (0.4, 0.4, 0.0), 23: (0.58, 0.8, 0.0), 24: (0.42, 0.8, 0.0)}
LEFT_HAND, RIGHT_HAND = slice(132, 195), slice(195, 258)
PRESENT = {part: 540 + i for i, part in enumerate(v2.PARTS)}


def signer_clip(n=60, hand_step=0.01, grow=0.0, seed=0, width=WIDTH, height=HEIGHT):
    """n frames of a signer facing the camera, every part detected, hands moving by hand_step per frame.

    grow > 0 scales the body about the torso centre by (1 + grow·t), so each
    frame has its own torso reference.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float32)[:, None, None]
    pose = np.zeros((n, 33, 4), np.float32)
    pose[:, :, :3] = rng.uniform(0.3, 0.7, (33, 3))
    for point, xyz in TORSO.items():
        pose[:, point, :3] = xyz
    pose[:, :, :3] = CENTRE + (pose[:, :, :3] - CENTRE) * (1 + grow * t)
    pose[:, :, 3] = 0.9
    left = (rng.uniform(0.2, 0.8, (21, 3)) + hand_step * t).astype(np.float32)
    right = (rng.uniform(0.2, 0.8, (21, 3)) - hand_step * t).astype(np.float32)
    face = np.repeat(rng.uniform(0.3, 0.6, (1, 468, 3)), n, axis=0).astype(np.float32)
    every = np.ones(n, bool)
    return ClipPoints(pose, left, right, face, every, every.copy(), every.copy(), every.copy(), width, height, 30.0)


def hide(clip, part, frames=slice(None)):
    """Mark a part undetected in some frames, as the landmark store does: zeros and flag False."""
    getattr(clip, part)[frames] = 0
    getattr(clip, f"{part}_present")[frames] = False
    return clip


def v1_frames(clip):
    """The same landmarks as v1's raw frame vectors (undetected parts as None)."""
    def seen(part, t):
        return getattr(clip, part)[t] if getattr(clip, f"{part}_present")[t] else None
    return np.array([v1.frame_vector(seen("pose", t), seen("left_hand", t), seen("right_hand", t), seen("face", t))[0]
                     for t in range(len(clip))])


def run(clip, **options):
    return v2.clip_features(clip, v2.V2Config(**{"min_frames": 1, **options}))


# Names and layout

def test_column_names_are_544_unique_names_in_v1_layout_then_presence():
    names = v2.column_names()
    assert len(names) == 544 == len(set(names)) == v2.feature_dim()
    assert names[:540] == v2.v1_column_names()
    assert names[11 * 4:11 * 4 + 4] == ["pose_11_x", "pose_11_y", "pose_11_z", "pose_11_visibility"]
    assert names[132] == "left_hand_0_x" and names[194] == "left_hand_20_z"
    assert names[195] == "right_hand_0_x" and names[257] == "right_hand_20_z"
    assert names[258:264] == ["face_0_x", "face_0_y", "face_0_z", "face_5_x", "face_5_y", "face_5_z"]
    assert names[539] == "face_465_z"
    assert names[540:] == ["present_pose", "present_left_hand", "present_right_hand", "present_face"]


def test_column_names_follow_face_downsample():
    names = v2.column_names(face_downsample=1)
    assert len(names) == v1.frame_dim(1) + 4 == len(set(names))
    assert names[258 + 3 * 7] == "face_7_x"


# Time kept, trimming

def test_features_are_float32_one_row_per_frame_with_presence_flags():
    result = run(signer_clip(60))
    assert (result.status, result.reason) == ("success", "")
    assert result.features.shape == (60, 544) and result.features.dtype == np.float32
    assert (result.features[:, 540:] == 1.0).all()
    assert (result.frames_decoded, result.num_frames, result.trimmed_start, result.trimmed_end) == (60, 60, 0, 0)


def test_leading_and_trailing_frames_without_signer_are_trimmed_and_counted():
    clip = signer_clip(60)
    for part in ("pose", "left_hand", "right_hand"):  # the face stays: a face alone is no signer
        hide(clip, part, slice(0, 5))
        hide(clip, part, slice(57, 60))
    result = run(clip, ema_alpha=0)
    assert (result.frames_decoded, result.num_frames, result.trimmed_start, result.trimmed_end) == (60, 52, 5, 3)
    untrimmed = run(signer_clip(60), ema_alpha=0).features
    np.testing.assert_array_equal(result.features, untrimmed[5:57])


def test_frames_without_signer_in_the_middle_stay_as_zeros():
    clip = signer_clip(60)
    for part in v2.PARTS:
        hide(clip, part, slice(20, 25))
    result = run(clip)
    assert result.num_frames == 60 and result.trimmed_start == result.trimmed_end == 0
    assert not result.features[20:25].any()
    assert result.features[19].any() and result.features[25].any()


def test_no_frames_fails():
    result = v2.clip_features(ClipPoints.empty(WIDTH, HEIGHT, 30.0), v2.V2Config())
    assert result.status == "failed" and result.reason.startswith("No frames: ")


def test_a_face_alone_is_no_signer_and_fails():
    clip = signer_clip(30)
    for part in ("pose", "left_hand", "right_hand"):
        hide(clip, part)
    result = run(clip)
    assert result.status == "failed" and result.reason.startswith("No signer: ")
    assert "30 frames" in result.reason and result.features is None


# Absent is zero, and flagged

@pytest.mark.parametrize("part, columns", [("left_hand", LEFT_HAND), ("right_hand", RIGHT_HAND),
                                           ("face", slice(258, 540))])
def test_an_undetected_part_is_exactly_zero_and_flagged_absent(part, columns):
    result = run(hide(signer_clip(40), part))
    assert result.status == "success"
    assert not result.features[:, columns].any()
    assert not result.features[:, PRESENT[part]].any()
    assert result.presence[part] == 0.0
    # v1 turns the same zeros into a phantom part at −centre/scale.
    assert v1.normalize_frames(v1_frames(hide(signer_clip(40), part)))[:, columns].any()


def test_frames_without_pose_have_zero_pose_columns_visibilities_included():
    clip = hide(signer_clip(40), "pose", slice(10, 20))
    result = run(clip)
    assert not result.features[10:20, :132].any()
    assert (result.features[10:20, PRESENT["pose"]] == 0).all()
    assert (result.features[:10, 3:132:4] > 0).all()


def test_presence_rates_and_hand_ratio_count_kept_frames():
    clip = hide(hide(signer_clip(60), "left_hand", slice(15, 60)), "right_hand", slice(0, 45))
    result = run(clip)
    assert result.presence == {"pose": 1.0, "left_hand": 0.25, "right_hand": 0.25, "face": 1.0}
    assert result.hand_ratio == pytest.approx(0.5)


# One frame of reference

def test_present_parts_are_normalized_exactly_as_v1_normalizes_them():
    clip = signer_clip(30, grow=0.02)
    result = run(clip, ema_alpha=0)
    np.testing.assert_allclose(result.features[:, :540], v1.normalize_frames(v1_frames(clip)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("torso", [
    {23: (0.5, 0.8, 0.0), 24: (0.5, 0.8, 0.0)},                       # hips on one point: two candidate spans
    {i: (0.5, 0.6, 0.0) for i in (11, 12, 23, 24)},                    # no span above 1e-4: scale 1
    {11: (0.7, 0.4, 0.1), 12: (0.3, 0.42, -0.1), 24: (0.45, 0.9, 0.0)},  # three unequal spans
])
def test_torso_scale_is_v1s_median_of_spans_rule(torso):
    clip = signer_clip(5)
    for point, xyz in torso.items():
        clip.pose[:, point, :3] = xyz
    result = run(clip, ema_alpha=0, min_shoulder_width=0)
    np.testing.assert_allclose(result.features[:, :540], v1.normalize_frames(v1_frames(clip)), atol=1e-5, rtol=0)


def test_a_frame_without_torso_takes_the_nearest_torso_frames_reference():
    clip = hide(signer_clip(30, grow=0.05), "pose", slice(10, 13))
    result = run(clip, ema_alpha=0)

    def hand_in_reference_of(torso_frame, t):
        vector = v1.frame_vector(clip.pose[torso_frame], clip.left_hand[t], None, None)[0]
        return v1.normalize_frames(vector[None])[0, LEFT_HAND]

    features = result.features
    np.testing.assert_allclose(features[10, LEFT_HAND], hand_in_reference_of(9, 10), atol=1e-5)
    np.testing.assert_allclose(features[12, LEFT_HAND], hand_in_reference_of(13, 12), atol=1e-5)
    np.testing.assert_allclose(features[11, LEFT_HAND], hand_in_reference_of(9, 11), atol=1e-5)  # tie: earlier
    assert not np.allclose(hand_in_reference_of(9, 12), hand_in_reference_of(13, 12), atol=1e-3)


def test_a_pose_with_a_non_finite_torso_borrows_the_nearest_reference():
    clip = signer_clip(20, grow=0.05)
    clip.pose[5, 23, 0] = np.nan
    features = run(clip, ema_alpha=0).features
    reference = v1.normalize_frames(v1.frame_vector(clip.pose[4], clip.left_hand[5], None, None)[0][None])[0]
    np.testing.assert_allclose(features[5, LEFT_HAND], reference[LEFT_HAND], atol=1e-5)


def test_a_clip_with_no_torso_in_any_frame_fails():
    clip = hide(signer_clip(60), "pose")
    result = run(clip)
    assert result.status == "failed" and result.reason.startswith("No torso: ")
    assert result.features is None and result.num_frames == 60


# Smoothing within what was seen

def test_smoothing_is_v1s_ema_when_every_part_is_always_seen():
    clip = signer_clip(30, grow=0.02)
    result = run(clip, ema_alpha=0.2)
    expected = v1.ema_smooth(v1.normalize_frames(v1_frames(clip)), 0.2)
    np.testing.assert_allclose(result.features[:, :540], expected, atol=1e-5, rtol=0)


def test_ema_restarts_after_a_gap_and_never_blends_in_absent_zeros():
    clip = hide(signer_clip(30), "left_hand", slice(10, 15))
    raw = run(clip, ema_alpha=0).features[:, LEFT_HAND]
    smoothed = run(clip, ema_alpha=0.5).features[:, LEFT_HAND]
    assert not smoothed[10:15].any()
    np.testing.assert_array_equal(smoothed[15], raw[15])  # a fresh start, not a blend with zeros or frame 9
    np.testing.assert_allclose(smoothed[16], 0.5 * raw[16] + 0.5 * raw[15], atol=1e-6)
    np.testing.assert_allclose(smoothed[9], v1.ema_smooth(raw[:10], 0.5)[9], atol=1e-6)


def test_a_gap_in_one_part_does_not_restart_the_others():
    clip = hide(signer_clip(30), "left_hand", slice(10, 15))
    raw = run(clip, ema_alpha=0).features[:, RIGHT_HAND]
    smoothed = run(clip, ema_alpha=0.5).features[:, RIGHT_HAND]
    np.testing.assert_allclose(smoothed, v1.ema_smooth(raw, 0.5), atol=1e-6)


# Motion and visibility over what was seen

def test_a_part_appearing_is_not_motion():
    clip = hide(signer_clip(40, hand_step=0.0), "left_hand", slice(0, 20))
    result = run(clip, motion_rejection_threshold=0)
    assert result.motion_max == 0.0


def test_motion_is_measured_in_torso_units_over_present_columns():
    clip = hide(hide(signer_clip(10, hand_step=0.01), "right_hand"), "face")
    result = run(clip)
    # Only the left hand moves: 63 values, each 0.01 per frame, in a torso of scale 0.2.
    assert result.motion_max == pytest.approx(np.sqrt(63) * 0.01 / 0.2, rel=1e-4)
    assert result.motion_p50 == pytest.approx(result.motion_max, rel=1e-4)


def test_mean_visibility_counts_only_frames_with_a_pose():
    clip = hide(signer_clip(40), "pose", slice(0, 20))
    assert run(clip).mean_visibility == pytest.approx(0.9)


# Gates, each with its label

def test_too_few_kept_frames_is_low_quality_after_trimming():
    clip = hide(hide(hide(signer_clip(50), "pose", slice(0, 5)), "left_hand", slice(0, 5)), "right_hand", slice(0, 5))
    result = run(clip, min_frames=48)
    assert (result.status, result.features) == ("low_quality", None)
    assert result.reason.startswith("Too few frames: 45 frames after trimming 5 at the start and 0 at the end")
    assert "needs 48" in result.reason


def test_signer_seen_in_too_few_kept_frames_is_low_quality():
    clip = signer_clip(100)
    for part in ("pose", "left_hand", "right_hand"):
        hide(clip, part, slice(10, 70))
    result = run(clip)
    assert result.detection_ratio == pytest.approx(0.4)
    assert result.status == "low_quality"
    assert result.reason.startswith("Below preprocessing quality threshold: a pose or hand was seen in 40 of 100")


def test_no_hands_is_low_quality_with_counts():
    result = run(hide(hide(signer_clip(120), "left_hand"), "right_hand"))
    assert result.status == "low_quality"
    assert result.reason.startswith("No hands: a hand was seen in 0 of 120 frames (needs 20%)")


@pytest.mark.parametrize("frames_with_hands, status", [(11, "low_quality"), (12, "success")])
def test_hands_in_a_fifth_of_the_frames_are_enough(frames_with_hands, status):
    clip = hide(hide(signer_clip(60), "left_hand", slice(frames_with_hands, 60)), "right_hand")
    assert run(clip).status == status


def test_shoulder_width_is_measured_in_pixels_as_a_share_of_the_frame_width():
    clip = signer_clip(20, width=1920, height=1080)
    clip.pose[:, 11, :2], clip.pose[:, 12, :2] = (0.5, 0.45), (0.44, 0.55)  # a tilted signer
    expected = np.hypot(0.06 * 1920, 0.10 * 1080) / 1920
    assert run(clip).shoulder_width == pytest.approx(expected, rel=1e-5)


def test_a_small_signer_is_low_quality():
    clip = signer_clip(60)
    clip.pose[:, 11, 0], clip.pose[:, 12, 0] = 0.53, 0.47  # shoulders span 6% of the width
    result = run(clip)
    assert result.status == "low_quality"
    assert result.reason.startswith("Signer too small: the shoulders span 6% of the frame width")


def test_a_small_signer_without_hands_is_reported_as_too_small_the_cause():
    clip = hide(hide(signer_clip(60), "left_hand"), "right_hand")
    clip.pose[:, 11, 0], clip.pose[:, 12, 0] = 0.53, 0.47
    assert run(clip).reason.startswith("Signer too small: ")


def test_a_still_clip_is_low_motion():
    result = run(signer_clip(60, hand_step=0.0))
    assert (result.status, result.motion_mean) == ("low_quality", 0.0)
    assert result.reason.startswith("Low motion: ")


def test_keep_low_quality_saves_the_clip_with_its_reason():
    result = run(hide(hide(signer_clip(60), "left_hand"), "right_hand"), keep_low_quality=True)
    assert (result.status, result.kept_low) == ("success", True)
    assert result.reason.startswith("No hands: ")
    assert result.features.shape == (60, 544)


def test_defaults_reject_a_short_clip_and_pass_a_long_one():
    defaults = v2.V2Config()
    assert v2.clip_features(signer_clip(47), defaults).status == "low_quality"
    assert v2.clip_features(signer_clip(48), defaults).status == "success"


# Statistics over what was seen

def test_present_moments_ignore_absent_values():
    clip = hide(signer_clip(40), "left_hand", slice(0, 30))
    features = run(clip).features
    count, total, total_sq = v2.present_moments(features)
    assert count.shape == total.shape == total_sq.shape == (544,)
    assert count.dtype == np.int64 and total.dtype == total_sq.dtype == np.float64
    assert (count[LEFT_HAND] == 10).all() and (count[RIGHT_HAND] == 40).all()
    seen = features[30:, LEFT_HAND].astype(np.float64)
    np.testing.assert_allclose(total[LEFT_HAND], seen.sum(axis=0))
    np.testing.assert_allclose(total_sq[LEFT_HAND], np.square(seen).sum(axis=0))
    assert count[PRESENT["left_hand"]] == 40 and total[PRESENT["left_hand"]] == 10


def test_present_moments_of_two_clips_add_up_to_those_of_both():
    a = run(hide(signer_clip(30, seed=1), "right_hand", slice(5, 25))).features
    b = run(hide(signer_clip(20, seed=2), "face", slice(0, 10))).features
    both = v2.present_moments(np.concatenate([a, b]))
    for merged, part_a, part_b in zip(both, v2.present_moments(a), v2.present_moments(b)):
        np.testing.assert_allclose(merged, part_a + part_b)


def test_stats_from_moments_give_mean_and_std_of_present_values_and_presence_rates():
    clip = hide(signer_clip(40), "left_hand", slice(0, 30))
    features = run(clip).features
    mean, std = v2.stats_from_moments(*v2.present_moments(features))
    assert mean.dtype == std.dtype == np.float32
    np.testing.assert_allclose(mean[LEFT_HAND], features[30:, LEFT_HAND].mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(std[LEFT_HAND], features[30:, LEFT_HAND].std(axis=0), atol=1e-5)
    assert mean[PRESENT["left_hand"]] == pytest.approx(0.25)


def test_a_column_never_seen_gets_mean_0_and_std_1():
    features = run(hide(signer_clip(20), "left_hand", slice(0, 19))).features[:10]
    mean, std = v2.stats_from_moments(*v2.present_moments(features))
    assert (mean[LEFT_HAND] == 0).all() and (std[LEFT_HAND] == 1).all()


# Input variants

def test_a_refined_face_mesh_uses_the_same_468_points():
    clip = signer_clip(20)
    refined = signer_clip(20)
    refined.face = np.concatenate([clip.face, np.full((20, 10, 3), 0.5, np.float32)], axis=1)
    np.testing.assert_array_equal(run(refined).features, run(clip).features)


def test_a_clip_without_its_frame_size_is_refused():
    clip = signer_clip(10, width=0)
    with pytest.raises(ValueError, match="frame size"):
        run(clip)
