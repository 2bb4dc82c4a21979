"""The duplicate signature, the alignment and the candidate search, on hand-made landmarks.

The clips here are built point by point (tracks), so every expected number can be
worked out: what a copy keeps (its movement in real time, its size-free shape) and
what it may change (pixels, frame rate, ends, orientation).
"""
import dataclasses

import numpy as np
import pytest

from transforms.duplicates import alignment, candidates, signature
from transforms.duplicates.settings import THRESHOLD
from transforms.features import mirror
from transforms.features.landmarks import FACE_POINTS, HAND_POINTS, POSE_POINTS, ClipPoints

SPAN, CENTRE = 128.0, np.array([320.0, 240.0])    # pixels: the shoulders' span and midpoint in a 640×480 frame
REST = np.array([[0, -0.65], [-0.5, 0], [0.5, 0], [-0.75, 0.8], [0.75, 0.8], [-0.45, 1.4], [0.45, 1.4]])


def movement(seconds: float, seed: int, amplitude: float = 0.3) -> callable:
    """A smooth random movement of the seven points (shoulder spans) as a function of time in seconds: the hands
    by `amplitude`, the elbows by half, the head by a quarter; the shoulders stay where they are."""
    rng = np.random.default_rng(seed)
    knots = np.linspace(0, seconds, int(seconds / 0.3) + 2)
    share = np.repeat([0.25, 0, 0, 0.5, 0.5, 1, 1], 2)
    values = rng.normal(0, amplitude, (len(knots), signature.POINTS * 2)) * share

    def at(times):
        path = np.stack([np.interp(times, knots, values[:, c]) for c in range(values.shape[1])], axis=1)
        return REST + path.reshape(len(times), signature.POINTS, 2)
    return at


def clip_points(tracks: np.ndarray, fps: float = 30.0, width: int = 640, height: int = 480,
                centre=CENTRE, span=SPAN, hand_seen=None) -> ClipPoints:
    """ClipPoints whose seven signature points follow `tracks` (T, 7, 2) in shoulder spans."""
    frames = len(tracks)
    pixels = centre + tracks * span
    pose = np.zeros((frames, POSE_POINTS, 4), np.float32)
    pose[..., 3] = 1.0
    for point, index in enumerate(signature.POSE_INDICES):
        pose[:, index, :2] = pixels[:, point] / (width, height)
    hands = {}
    for point, hand in signature.HANDS.items():
        xyz = np.zeros((frames, HAND_POINTS, 3), np.float32)
        # 21 points spread symmetrically about the hand's position: their centroid is the position.
        spread = np.linspace(-5, 5, HAND_POINTS)[:, None] * np.array([1.0, 0.5])
        xyz[..., :2] = (pixels[:, point][:, None, :] + spread) / (width, height)
        seen = np.ones(frames, bool) if hand_seen is None else hand_seen
        xyz[~seen] = 0
        hands[hand] = (xyz, seen)
    return ClipPoints(pose=pose, left_hand=hands["left"][0], right_hand=hands["right"][0],
                      face=np.zeros((frames, FACE_POINTS, 3), np.float32), pose_present=np.ones(frames, bool),
                      left_hand_present=hands["left"][1], right_hand_present=hands["right"][1],
                      face_present=np.zeros(frames, bool), width=width, height=height, fps=fps)


def recorded(seconds: float = 2.0, fps: float = 30.0, seed: int = 0, amplitude: float = 0.3, **options):
    at = movement(seconds, seed, amplitude)
    return clip_points(at(np.arange(int(round(seconds * fps))) / fps), fps=fps, **options)


# The signature

def test_a_signature_is_515_bytes_and_688_characters_in_a_json_record():
    sig = signature.signature(recorded())
    assert signature.BYTES == len(signature.to_bytes(sig)) == 515
    text = signature.encode(sig)
    assert len(text) == 688 and text.isascii()
    back = signature.decode(text)
    assert np.array_equal(back.trajectory, sig.trajectory) and np.array_equal(back.reliability, sig.reliability)
    assert back.duration == sig.duration
    assert signature.encode(back) == text


def test_many_stored_signatures_read_back_at_once_as_one_by_one():
    sigs = [signature.signature(recorded(seed=s)) for s in range(3)]
    at_once = signature.stack_encoded([signature.encode(s) for s in sigs])
    one_by_one = signature.stack(sigs)
    assert np.array_equal(at_once.trajectory, one_by_one.trajectory)
    assert np.array_equal(at_once.duration, one_by_one.duration)


def test_a_stored_signature_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="515 bytes"):
        signature.from_bytes(b"\0" * 514)


def test_the_trajectory_is_each_time_bins_mean_to_within_half_a_code_and_float16_bounds():
    at = movement(2.0, seed=3)
    tracks = at(np.arange(64) / 32.0)                   # 64 frames: two per bin
    sig = signature.signature(clip_points(tracks, fps=32.0))
    means = tracks.reshape(signature.SAMPLES, 2, signature.POINTS, 2).mean(axis=1)
    half_code = np.ptp(means, axis=0) / 255 / 2
    float16_rounding = np.abs(means).max(axis=0) * 2.0 ** -10     # one float16 step, rounding outward
    error = np.abs(sig.trajectory - means)
    assert np.all(error <= half_code + float16_rounding + 1e-6)
    assert error.max() < 0.005
    assert sig.duration == pytest.approx(2.0)


def test_a_downscaled_or_padded_copy_has_the_same_signature():
    tracks = movement(2.0, seed=1)(np.arange(60) / 30)
    original = signature.signature(clip_points(tracks))
    half = signature.signature(clip_points(tracks, width=320, height=240, centre=CENTRE / 2, span=SPAN / 2))
    padded = signature.signature(clip_points(tracks, width=854, height=480, centre=CENTRE + (107, 0)))
    for copy in (half, padded):
        assert np.abs(copy.trajectory - original.trajectory).max() < 1e-3


def test_a_hand_the_hand_model_missed_is_followed_by_its_wrist():
    tracks = movement(2.0, seed=2)(np.arange(60) / 30)
    seen = np.ones(60, bool)
    seen[20:30] = False
    with_gap = signature.signature(clip_points(tracks, hand_seen=seen))
    always = signature.signature(clip_points(tracks))
    # The wrist stands where the hand is here, so the clip's wrist-to-hand offset is 0 and the gap closes exactly.
    assert np.abs(with_gap.trajectory - always.trajectory).max() < 1e-3


def test_a_clip_without_shoulders_has_no_signature():
    points = recorded()
    assert signature.signature(dataclasses.replace(points, pose_present=np.zeros(len(points), bool))) is None
    assert signature.signature(ClipPoints.empty(640, 480, 30.0)) is None


def test_mirroring_a_signature_exchanges_left_and_right_and_negates_x():
    sig = signature.signature(recorded())
    mirrored = sig.mirrored()
    names = list(signature.POINT_NAMES)
    left, right = names.index("left_hand"), names.index("right_hand")
    assert np.array_equal(mirrored.trajectory[:, left], sig.trajectory[:, right] * [-1, 1])
    assert np.array_equal(mirrored.trajectory[:, 0], sig.trajectory[:, 0] * [-1, 1])   # the nose stays
    assert np.array_equal(mirrored.mirrored().trajectory, sig.trajectory)


# The alignment

def test_a_clip_matches_itself_exactly():
    sig = signature.signature(recorded())
    match = alignment.similarity(sig, sig)
    assert match.similarity == pytest.approx(1.0, abs=1e-5) and not match.mirrored and match.shift == 0


def test_a_trimmed_copy_at_another_frame_rate_is_found_at_its_shift():
    at = movement(3.0, seed=4)
    original = signature.signature(clip_points(at(np.arange(90) / 30), fps=30.0))
    # 15 fps, its first 5 and last 2 frames (of 45) cut: it starts 1/3 s into the original.
    times = (np.arange(45) / 15)[5:-2]
    copy = signature.signature(clip_points(at(times), fps=15.0))
    match = alignment.similarity(original, copy)
    assert match.similarity > 0.95
    assert match.shift == pytest.approx(1 / 3, abs=copy.duration / signature.SAMPLES / 4)


def test_a_mirrored_copy_matches_only_once_mirrored():
    points = recorded(seed=5)
    copy = signature.signature(mirror.mirror_points(points))
    match = alignment.similarity(signature.signature(points), copy)
    assert match.mirrored and match.similarity == pytest.approx(1.0, abs=1e-3)


def test_unrelated_movements_score_far_below_the_threshold():
    scores = [alignment.similarity(signature.signature(recorded(seed=a)), signature.signature(recorded(seed=b)))
              .similarity for a, b in [(0, 1), (2, 3), (4, 5)]]
    assert max(scores) < 0


def test_a_still_clip_is_not_claimed_as_a_copy_of_another_still_clip():
    # Two different people standing still: their only "movement" is MediaPipe's jitter, which does not correlate.
    rng = np.random.default_rng(0)
    still = [clip_points(REST + rng.normal(0, 0.01, (60, signature.POINTS, 2))) for _ in range(2)]
    assert alignment.similarity(*map(signature.signature, still)).similarity < 0.2


def test_a_large_sign_repeated_a_little_off_is_not_a_copy():
    # The same large movement (0.8 shoulder spans) with every point 0.1 off: concordance alone would call it a
    # copy (about 0.99); above MOTION_CAP movement earns no credit, so it must agree in absolute terms too.
    at = movement(2.0, seed=6, amplitude=0.8)
    tracks = at(np.arange(60) / 30)
    offset = np.random.default_rng(1).normal(0, 1, (1, signature.POINTS, 2))
    offset *= 0.1 / np.sqrt((offset ** 2).sum(axis=2).mean())
    score = alignment.similarity(signature.signature(clip_points(tracks)),
                                 signature.signature(clip_points(tracks + offset))).similarity
    assert 0 < score < THRESHOLD


def test_clips_too_different_in_length_are_not_compared():
    at = movement(4.0, seed=7)
    long_clip = signature.signature(clip_points(at(np.arange(120) / 30)))
    short_clip = signature.signature(clip_points(at(np.arange(80) / 30)))   # two thirds: under MIN_OVERLAP
    assert alignment.similarity(long_clip, short_clip).similarity == -np.inf


def test_points_neither_clip_saw_reliably_do_not_count():
    sig = signature.signature(recorded())
    unseen = dataclasses.replace(sig, reliability=np.zeros(signature.POINTS, np.float32))
    assert alignment.similarity(sig, unseen).similarity == -np.inf


# The candidate search

def synthetic(count: int, copies: int, seed: int = 0):
    """count different clips, then a copy of each of the first `copies` (trimmed, 15 fps, every other mirrored)."""
    rng = np.random.default_rng(seed)
    moves = [movement(float(rng.uniform(1.5, 4)), seed=seed * 1000 + k) for k in range(count)]
    lengths = rng.integers(45, 120, count)
    sigs = [signature.signature(clip_points(m(np.arange(n) / 30))) for m, n in zip(moves, lengths)]
    for k in range(copies):
        times = (np.arange(lengths[k] // 2) / 15)[2:-1]
        tracks = moves[k](times) + rng.normal(0, 0.01, (len(times), signature.POINTS, 2))
        copy = signature.signature(clip_points(tracks, fps=15.0))
        sigs.append(copy.mirrored() if k % 2 else copy)
    return signature.stack(sigs)


def test_the_search_finds_planted_copies_in_either_orientation_among_few_candidates():
    sigs = synthetic(300, 20)
    found = candidates.candidate_pairs(sigs)
    pairs = set(zip(found.first.tolist(), found.second.tolist(), found.mirrored.tolist()))
    assert all((k, 300 + k, bool(k % 2)) in pairs for k in range(20))
    assert len(pairs) < 0.01 * 320 * 319 / 2
    assert np.all(found.first < found.second)
    assert len(pairs) == len(found)


def test_the_search_of_fewer_than_two_clips_finds_nothing():
    assert len(candidates.candidate_pairs(synthetic(1, 0))) == 0
