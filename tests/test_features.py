"""Feature definition v1 on hand-made landmark arrays: every branch of the spec."""
import numpy as np
import pytest

from tests import spec_reference
from transforms.features import v1 as F

D = F.frame_dim(5)


def pose_array(shoulder_l=(0.6, 0.4, 0.0), shoulder_r=(0.4, 0.4, 0.0), hip_l=(0.58, 0.8, 0.0),
               hip_r=(0.42, 0.8, 0.0), visibility=0.9, seed=0):
    rng = np.random.default_rng(seed)
    pose = np.zeros((33, 4), np.float32)
    pose[:, :3] = rng.uniform(0.3, 0.7, (33, 3))
    pose[:, 3] = visibility
    pose[11, :3], pose[12, :3], pose[23, :3], pose[24, :3] = shoulder_l, shoulder_r, hip_l, hip_r
    return pose


def hand_array(seed=1):
    return np.random.default_rng(seed).uniform(0.2, 0.8, (21, 3)).astype(np.float32)


def face_array(seed=2):
    return np.random.default_rng(seed).uniform(0.3, 0.6, (468, 3)).astype(np.float32)


def moving_clip(n, seed=0, visibility=0.9, with_pose=True, step=0.01):
    """n frames of a signer whose landmarks drift by `step` per frame."""
    vecs, valid, vis = [], [], []
    for t in range(n):
        pose = pose_array(visibility=visibility, seed=seed) if with_pose else None
        if pose is not None:
            pose[:, :3] += step * t
        left = hand_array(seed + 1) + step * t
        vec, ok, v = F.frame_vector(pose, left, None, face_array(seed + 2), 5)
        vecs.append(vec)
        valid.append(ok)
        vis.append(v)
    return F.ClipLandmarks(np.array(vecs), np.array(valid), np.array(vis, np.float32))


def test_frame_vector_layout_and_face_downsampling():
    pose, left, right, face = pose_array(), hand_array(1), hand_array(3), face_array()
    vec, valid, vis = F.frame_vector(pose, left, right, face, 5)
    assert vec.shape == (540,) and vec.dtype == np.float32
    np.testing.assert_array_equal(vec[:132], pose.reshape(-1))
    np.testing.assert_array_equal(vec[132:195], left.reshape(-1))
    np.testing.assert_array_equal(vec[195:258], right.reshape(-1))
    np.testing.assert_array_equal(vec[258:261], face[0])
    np.testing.assert_array_equal(vec[-3:], face[465])
    assert valid and vis == pytest.approx(0.9)
    assert F.frame_dim(1) == 258 + 468 * 3


def test_missing_parts_are_zeros_and_face_alone_is_not_valid():
    vec, valid, vis = F.frame_vector(None, None, None, face_array(), 5)
    assert not valid and vis == 0.0
    assert not vec[:258].any() and vec[258:].any()
    _, valid_hand_only, vis_hand_only = F.frame_vector(None, None, hand_array(), None, 5)
    assert valid_hand_only and vis_hand_only == 0.0


def test_normalization_centres_on_torso_and_scales_by_median_span():
    pose = pose_array(shoulder_l=(0.6, 0.4, 0), shoulder_r=(0.4, 0.4, 0), hip_l=(0.6, 0.8, 0), hip_r=(0.4, 0.8, 0))
    vec, _, _ = F.frame_vector(pose, hand_array(), None, face_array(), 5)
    out = F.normalize_frames(vec[None])[0]
    centre = np.array([0.5, 0.6, 0.0], np.float32)
    scale = 0.2  # spans: shoulders 0.2, hips 0.2, torso height 0.4 → median 0.2
    np.testing.assert_allclose(out[11 * 4:11 * 4 + 3], (pose[11, :3] - centre) / scale, atol=1e-6)
    np.testing.assert_allclose(out[3::4][:33], pose[:, 3])  # visibilities untouched
    np.testing.assert_allclose(out[132:135], (hand_array()[0] - centre) / scale, atol=1e-5)
    # The undetected right hand's zeros become −c/scale (v1 keeps this).
    np.testing.assert_allclose(out[195:198], -centre / scale, atol=1e-6)


def test_no_pose_keeps_the_raw_vector():
    vec, _, _ = F.frame_vector(None, hand_array(), None, face_array(), 5)
    np.testing.assert_array_equal(F.normalize_frames(vec[None])[0], vec)


def test_non_finite_torso_keeps_the_raw_vector():
    pose = pose_array()
    pose[23, 0] = np.nan
    vec, _, _ = F.frame_vector(pose, None, None, None, 5)
    np.testing.assert_array_equal(F.normalize_frames(vec[None])[0], vec)


def test_scale_falls_back_to_one_when_no_span_is_large_enough():
    same = (0.5, 0.5, 0.0)
    pose = pose_array(shoulder_l=same, shoulder_r=same, hip_l=same, hip_r=same)
    vec, _, _ = F.frame_vector(pose, None, None, None, 5)
    out = F.normalize_frames(vec[None])[0]
    np.testing.assert_allclose(out[:3], pose[0, :3] - np.float32(0.5) * np.array([1, 1, 0]), atol=1e-6)


def test_scale_is_median_of_two_candidates_when_one_span_is_degenerate():
    # Hips on one point: hip span 0 is not a candidate → mean of shoulder span and torso height.
    pose = pose_array(shoulder_l=(0.6, 0.4, 0), shoulder_r=(0.4, 0.4, 0), hip_l=(0.5, 0.8, 0), hip_r=(0.5, 0.8, 0))
    vec, _, _ = F.frame_vector(pose, None, None, None, 5)
    out = F.normalize_frames(vec[None])[0]
    centre = np.array([0.5, 0.6, 0.0], np.float32)
    np.testing.assert_allclose(out[:3], (pose[0, :3] - centre) / 0.3, atol=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_normalization_matches_the_spec_transcription_on_random_frames(seed):
    rng = np.random.default_rng(seed)
    frames = rng.uniform(-1, 2, (20, D)).astype(np.float32)
    frames[3, :132] = 0  # no pose
    frames[7, 11 * 4] = np.inf
    expected = np.array([spec_reference.normalize_frame(f) for f in frames])
    np.testing.assert_allclose(F.normalize_frames(frames), expected, atol=1e-5)


def test_motion_energy_ignores_visibilities_and_starts_at_zero():
    frames = np.zeros((3, D), np.float32)
    frames[1, 3] = 5.0          # a visibility: not motion
    frames[2, 0] = 3.0          # x of the nose
    frames[2, 200] = 4.0        # a right-hand value
    np.testing.assert_allclose(F.motion_energy(frames), [0.0, 0.0, 5.0])


def test_ema_smoothing_and_its_off_switches():
    x = np.array([[0.0], [10.0], [10.0]], np.float32)
    np.testing.assert_allclose(F.ema_smooth(x, 0.2), [[0.0], [2.0], [3.6]], atol=1e-6)
    np.testing.assert_array_equal(F.ema_smooth(x, 0.0), x)
    np.testing.assert_array_equal(F.ema_smooth(x[:1], 0.2), x[:1])


def test_no_frames_read_fails():
    empty = F.ClipLandmarks(np.zeros((0, D), np.float32), np.zeros(0, bool), np.zeros(0, np.float32))
    result = F.clip_features(empty, F.QualityConfig())
    assert (result.status, result.reason) == ("failed", "No frames read")


def test_no_valid_frame_fails():
    clip = moving_clip(10, with_pose=False)
    clip.valid[:] = False  # a face alone does not count
    result = F.clip_features(clip, F.QualityConfig())
    assert (result.status, result.reason) == ("failed", "No valid pose/hand frames")
    assert result.frames_decoded == 10


def test_good_clip_succeeds_with_smoothed_kept_frames():
    clip = moving_clip(60)
    result = F.clip_features(clip, F.QualityConfig())
    assert result.status == "success" and result.reason == ""
    assert result.features.shape == (60, D) and result.features.dtype == np.float32
    assert result.detection_ratio == 1.0


def test_only_valid_frames_are_kept_and_detection_ratio_counts_them():
    clip = moving_clip(100)
    clip.valid[::2] = False
    result = F.clip_features(clip, F.QualityConfig())
    assert result.detection_ratio == 0.5
    assert result.num_frames == 50


def test_frames_with_low_visibility_and_no_motion_are_dropped():
    clip = moving_clip(60, visibility=0.3, step=0.0)
    clip.visibility[10:] = 0.9  # only these pass the visibility rule; nothing moves
    result = F.clip_features(clip, F.QualityConfig(min_frames=1, motion_rejection_threshold=0))
    assert result.num_frames == 50


def test_nothing_kept_keeps_the_first_valid_frame():
    clip = moving_clip(30, visibility=0.1, step=0.0)
    clip.valid[0] = False
    result = F.clip_features(clip, F.QualityConfig(keep_low_quality=True))
    assert result.num_frames == 1
    np.testing.assert_allclose(result.features[0], F.normalize_frames(clip.frames[1:2])[0])


def test_low_motion_is_the_first_reason():
    clip = moving_clip(10, step=0.0)  # also too few frames: low motion wins
    result = F.clip_features(clip, F.QualityConfig())
    assert (result.status, result.reason) == ("low_quality", "Low motion")
    assert result.features is None


def test_too_few_frames():
    result = F.clip_features(moving_clip(20), F.QualityConfig())
    assert (result.status, result.reason) == ("low_quality", "Too few frames")


def test_low_detection_ratio():
    clip = moving_clip(100)
    clip.valid[:60] = False
    result = F.clip_features(clip, F.QualityConfig(min_frames=10))
    assert (result.status, result.reason) == ("low_quality", "Below preprocessing quality threshold")


def test_keep_low_quality_saves_the_clip_and_keeps_the_reason():
    result = F.clip_features(moving_clip(20), F.QualityConfig(keep_low_quality=True))
    assert (result.status, result.reason, result.kept_low) == ("success", "Too few frames", True)
    assert result.features.shape == (20, D)


@pytest.mark.parametrize("cfg", [
    {}, {"keep_low_quality": True}, {"min_frames": 5}, {"ema_alpha": 0.0}, {"ema_alpha": 0.7},
    {"visibility_threshold": 0.95, "motion_keep_threshold": 0.5, "min_frames": 1},
])
def test_whole_clip_matches_the_spec_transcription(cfg):
    clip = moving_clip(70, seed=4, step=0.004)
    rng = np.random.default_rng(9)
    clip.visibility[:] = rng.uniform(0.3, 1.0, 70).astype(np.float32)
    clip.valid[rng.uniform(size=70) < 0.2] = False
    status, reason, expected, metrics = spec_reference.clip(clip.frames, clip.valid, clip.visibility, **cfg)
    result = F.clip_features(clip, F.QualityConfig(**cfg))
    assert (result.status, result.reason) == (status, reason)
    for name, value in metrics.items():
        assert getattr(result, name) == pytest.approx(value, abs=1e-5), name
    if expected is None:
        assert result.features is None
    else:
        np.testing.assert_allclose(result.features, expected, atol=1e-5, rtol=0)
