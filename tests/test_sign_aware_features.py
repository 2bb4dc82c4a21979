"""Sign-aware features v2 on hand-made landmarks: short-gap filling, the dominant hand, the canonical hand.

Every rule of docs/features-v2.md §Short-gap filling, §Dominant hand and
§Canonical hand. Expected values come from the rule written out in the test or
from v2 without the options, never from the code under test.
"""
import dataclasses
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from tests.test_features_v2 import LEFT_HAND, PRESENT, RIGHT_HAND, hide, run, signer_clip
from transforms.features import gaps, hands, mirror, registry, v2
from transforms.features.landmarks import ClipPoints

REPO = Path(__file__).resolve().parents[1]
# The commit before the sign-aware options existed: v2 without them must give exactly its output.
BASE_COMMIT = "2111248a587b38d9dbf2d2852a8f5e14f7985267"
FILLED = {part: 544 + i for i, part in enumerate(v2.PARTS)}
FACE = slice(258, 540)


def base_v2():
    """transforms/features/v2.py as it stood at BASE_COMMIT, loaded as a module of its own."""
    try:
        source = subprocess.run(["git", "show", f"{BASE_COMMIT}:transforms/features/v2.py"], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"v2 at the base commit is not readable from git here: {exc}")
    module = types.ModuleType("v2_at_base")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, "v2_at_base.py", "exec"), module.__dict__)
    return module


# Verdict fields renamed since the base commit: the frames decoded are named as the records name them.
RENAMED = {"total_frames": "frames_decoded"}


def assert_same_verdict(new, old):
    """Every field the old verdict has is equal, the features byte for byte."""
    for field in dataclasses.fields(old):
        mine, theirs = getattr(new, RENAMED.get(field.name, field.name)), getattr(old, field.name)
        if field.name == "features":
            assert (mine is None) == (theirs is None)
            if theirs is not None:
                assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
                assert mine.tobytes() == theirs.tobytes()
        else:
            assert mine == theirs, field.name


# v2 without the options is v2 as it was

@pytest.mark.parametrize("clip", [
    signer_clip(60, grow=0.02),
    hide(hide(signer_clip(60), "left_hand", slice(10, 13)), "right_hand", slice(40, 60)),
    hide(hide(signer_clip(60, hand_step=0.03), "pose", slice(5, 8)), "face", slice(20, 22)),
    hide(hide(signer_clip(30), "left_hand"), "right_hand"),             # No hands
    hide(signer_clip(30), "pose"),                                     # No torso
    ClipPoints.empty(640, 480, 30.0),                                  # No frames
], ids=["always-seen", "hand-gaps", "pose-face-gaps", "no-hands", "no-torso", "empty"])
@pytest.mark.parametrize("keep_low_quality", [False, True])
def test_defaults_give_exactly_the_verdict_of_v2_before_the_options(clip, keep_low_quality):
    old = base_v2()
    options = dict(min_frames=1, keep_low_quality=keep_low_quality)
    new = v2.clip_features(clip, v2.V2Config(**options))
    assert_same_verdict(new, old.clip_features(clip, old.V2Config(**options)))
    if new.features is not None:
        assert all(f.tobytes() == g.tobytes() for f, g in zip(v2.present_moments(new.features),
                                                                old.present_moments(new.features)))


def test_defaults_keep_the_layout_functions_as_they_were():
    old = base_v2()
    assert v2.column_names() == old.column_names() and v2.feature_dim() == old.feature_dim() == 544
    assert v2.column_names(1) == old.column_names(1)
    options = {"feature_version": "v2", "face_downsample": 5}
    assert registry.get("v2").dim(options) == 544 and registry.get("v2").columns(options) == old.column_names()


# Short-gap filling: which frames

def test_short_gaps_are_runs_of_at_most_n_absent_frames_with_seen_frames_on_both_sides():
    present = np.array([0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0], bool)
    assert gaps.short_gaps(present, 2).astype(int).tolist() == [0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert gaps.short_gaps(present, 3).astype(int).tolist() == [0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0]
    assert not gaps.short_gaps(present, 0).any()
    assert not gaps.short_gaps(np.zeros(5, bool), 9).any() and len(gaps.short_gaps(np.zeros(0, bool), 3)) == 0


def test_a_gap_of_n_frames_is_filled_on_the_line_between_its_neighbours():
    # The left hand moves on a straight line at constant speed, so the filled frames
    # must land where the hand really was (up to float32 rounding).
    truth = run(signer_clip(30), ema_alpha=0, fill_gaps=3).features
    result = run(hide(signer_clip(30), "left_hand", slice(10, 13)), ema_alpha=0, fill_gaps=3)
    features = result.features
    np.testing.assert_allclose(features[10:13, LEFT_HAND], truth[10:13, LEFT_HAND], atol=2e-6)
    for t in (10, 11, 12):
        w = np.float32((t - 9) / 4)
        expected = features[9, LEFT_HAND] + w * (features[13, LEFT_HAND] - features[9, LEFT_HAND])
        np.testing.assert_array_equal(features[t, LEFT_HAND], expected)
    np.testing.assert_array_equal(features[:, RIGHT_HAND], truth[:, RIGHT_HAND])  # other parts untouched
    assert result.filled_frames == {"pose": 0, "left_hand": 3, "right_hand": 0, "face": 0}


def test_filled_frames_are_flagged_present_and_filled_and_nothing_else_is():
    features = run(hide(signer_clip(30), "left_hand", slice(10, 13)), fill_gaps=3).features
    assert features.shape == (30, 548)
    filled = np.zeros(30)
    filled[10:13] = 1
    np.testing.assert_array_equal(features[:, FILLED["left_hand"]], filled)
    assert (features[:, PRESENT["left_hand"]] == 1).all()
    for part in ("pose", "right_hand", "face"):
        assert not features[:, FILLED[part]].any() and (features[:, PRESENT[part]] == 1).all()


@pytest.mark.parametrize("gap", [slice(10, 14), slice(0, 2), slice(27, 30)], ids=["longer", "start", "end"])
def test_longer_gaps_and_gaps_at_the_clips_ends_stay_absent(gap):
    clip = hide(signer_clip(30), "left_hand", gap)
    features = run(clip, fill_gaps=3).features
    assert not features[gap, LEFT_HAND].any()
    assert not features[gap, PRESENT["left_hand"]].any() and not features[:, FILLED["left_hand"]].any()
    np.testing.assert_array_equal(features[:, :544], run(clip).features)


@pytest.mark.parametrize("part, columns", [("pose", slice(0, 132)), ("right_hand", RIGHT_HAND), ("face", FACE)])
def test_every_part_is_filled_the_same_way(part, columns):
    clip = signer_clip(30, grow=0.02)
    features = run(hide(clip, part, slice(14, 16)), ema_alpha=0, fill_gaps=2).features
    ends = features[[13, 16], columns]
    np.testing.assert_allclose(features[14, columns], ends[0] + np.float32(1 / 3) * (ends[1] - ends[0]), atol=1e-6)
    assert (features[14:16, FILLED[part]] == 1).all() and (features[14:16, PRESENT[part]] == 1).all()


def test_a_frame_with_nothing_seen_inside_a_short_gap_is_filled_for_every_part():
    clip = signer_clip(30)
    for part in v2.PARTS:
        hide(clip, part, slice(12, 14))
    features = run(clip, fill_gaps=2).features
    assert (features[12:14, 544:548] == 1).all() and features[12:14, :540].any()


def test_filling_changes_no_verdict_nor_metric_they_judge_what_was_seen():
    clip = hide(hide(signer_clip(60, hand_step=0.02), "left_hand", slice(10, 13)), "right_hand", slice(30, 31))
    plain, filled = run(clip), run(clip, fill_gaps=5)
    for field in dataclasses.fields(plain):
        if field.name not in ("features", "filled_frames"):
            assert getattr(plain, field.name) == getattr(filled, field.name), field.name
    assert plain.presence["left_hand"] == pytest.approx(57 / 60)


def test_the_ema_runs_through_a_filled_gap_and_restarts_after_an_unfilled_one():
    clip = hide(signer_clip(30), "left_hand", slice(10, 13))
    raw = run(clip, ema_alpha=0, fill_gaps=3).features[:, LEFT_HAND]
    smoothed = run(clip, ema_alpha=0.5, fill_gaps=3).features[:, LEFT_HAND]
    np.testing.assert_allclose(smoothed, v1_ema(raw, 0.5), atol=1e-6)  # one run, no restart
    unfilled = run(clip, ema_alpha=0.5, fill_gaps=2).features[:, LEFT_HAND]
    np.testing.assert_array_equal(unfilled[13], run(clip, ema_alpha=0, fill_gaps=2).features[13, LEFT_HAND])


def v1_ema(frames, alpha):
    from transforms.features import v1
    return v1.ema_smooth(frames, alpha)


# Short-gap filling: names and statistics

def test_with_fill_gaps_the_layout_gains_four_named_filled_columns_after_the_presence_columns():
    names = v2.column_names(filled=True)
    assert len(names) == v2.feature_dim(filled=True) == 548 == len(set(names))
    assert names[:544] == v2.column_names()
    assert names[544:] == ["filled_pose", "filled_left_hand", "filled_right_hand", "filled_face"]
    assert v2.presence_columns().tolist() == [540, 541, 542, 543]
    assert v2.filled_columns().tolist() == [544, 545, 546, 547]
    options = {"feature_version": "v2", "face_downsample": 5, "fill_gaps": 3}
    assert registry.get("v2").dim(options) == 548 and registry.get("v2").columns(options) == names
    assert len(v2.column_names(1, filled=True)) == v2.feature_dim(1, filled=True)


def test_filled_columns_follow_the_version_and_fill_gaps():
    def width(version, **options):
        return registry.get(version).dim({"feature_version": version, "face_downsample": 5, **options})

    assert width("v2", fill_gaps=3) == 548
    assert width("v2", fill_gaps=0) == width("v2") == 544
    assert width("v1", fill_gaps=3) == 540


def test_filled_values_do_not_count_in_the_statistics():
    features = run(hide(signer_clip(40), "left_hand", slice(10, 13)), fill_gaps=3).features
    count, total, total_sq = v2.present_moments(features, filled=True)
    assert count.shape == (548,)
    seen = np.ones(40, bool)
    seen[10:13] = False
    assert (count[LEFT_HAND] == 37).all() and (count[RIGHT_HAND] == 40).all()
    np.testing.assert_allclose(total[LEFT_HAND], features[seen, LEFT_HAND].astype(np.float64).sum(axis=0))
    np.testing.assert_allclose(total_sq[LEFT_HAND], np.square(features[seen, LEFT_HAND].astype(np.float64)).sum(axis=0))
    assert (count[540:] == 40).all()
    assert total[PRESENT["left_hand"]] == 40 and total[FILLED["left_hand"]] == 3


def test_present_moments_tell_the_layout_from_the_arrays_width():
    with_filled = run(hide(signer_clip(40), "left_hand", slice(10, 13)), fill_gaps=3).features
    for inferred, given in zip(v2.present_moments(with_filled), v2.present_moments(with_filled, filled=True)):
        np.testing.assert_array_equal(inferred, given)
    with pytest.raises(ValueError, match="548 with the filled columns"):
        v2.present_moments(with_filled, filled=False)
    with pytest.raises(ValueError, match="not v2's layout"):
        v2.present_moments(with_filled[:, :540])


def test_presence_rates_count_seen_frames_only():
    features = run(hide(signer_clip(40), "left_hand", slice(10, 13)), fill_gaps=3).features
    options, version = {"feature_version": "v2", "face_downsample": 5, "fill_gaps": 3}, registry.get("v2")
    merged = version.moments(features, options)
    rates = version.presence_rates(merged, options)
    assert rates == {"pose": 1.0, "left_hand": pytest.approx(37 / 40), "right_hand": 1.0, "face": 1.0}
    mean = version.statistics(merged, options)["feature_mean"]
    assert mean[FILLED["left_hand"]] == pytest.approx(3 / 40)


def test_the_moments_of_two_filled_clips_add_up_to_those_of_both():
    a = run(hide(signer_clip(30, seed=1), "right_hand", slice(5, 7)), fill_gaps=2).features
    b = run(hide(signer_clip(20, seed=2), "face", slice(3, 4)), fill_gaps=2).features
    both = v2.present_moments(np.concatenate([a, b]), filled=True)
    for merged, part_a, part_b in zip(both, v2.present_moments(a, filled=True), v2.present_moments(b, filled=True)):
        np.testing.assert_allclose(merged, part_a + part_b)


# Bad options, each with how to fix it

@pytest.mark.parametrize("version, fill_gaps, canonical_hand, words", [
    ("v2", -1, False, "--fill_gaps=-1"),
    ("v2", v2.MAX_FILL_GAPS + 1, False, f"--fill_gaps={v2.MAX_FILL_GAPS + 1}"),
    ("v1", 0, True, "--canonical_hand needs --feature_version=v2"),
    ("v1", 3, False, "--fill_gaps needs --feature_version=v2"),
])
def test_bad_sign_aware_options_are_problems_that_say_how_to_fix_them(version, fill_gaps, canonical_hand, words):
    problems = registry.option_problems(version, dict(fill_gaps=fill_gaps, canonical_hand=canonical_hand))
    assert len(problems) == 1 and words in problems[0]


@pytest.mark.parametrize("version, fill_gaps, canonical_hand", [
    ("v2", 0, False), ("v2", 3, True), ("v2", v2.MAX_FILL_GAPS, False), ("v1", 0, False)])
def test_usable_sign_aware_options_are_no_problem(version, fill_gaps, canonical_hand):
    assert registry.option_problems(version, dict(fill_gaps=fill_gaps, canonical_hand=canonical_hand)) == []


# Dominant hand

def one_hand_signs(hand="right", n=60, still_jitter=0.002, seed=3):
    """A signer whose `hand` sweeps 0.15 of the frame while the other rests with MediaPipe-like jitter."""
    clip = signer_clip(n, hand_step=0.0, seed=seed)
    rng = np.random.default_rng(seed)
    sweep = (0.15 * np.sin(np.linspace(0, 3 * np.pi, n))).astype(np.float32)
    getattr(clip, f"{hand}_hand")[:, :, 0] += sweep[:, None]
    other = "left" if hand == "right" else "right"
    getattr(clip, f"{other}_hand")[:] += rng.normal(0, still_jitter, (n, 1, 3)).astype(np.float32)
    return clip


@pytest.mark.parametrize("hand", ["left", "right"])
def test_the_hand_that_spreads_more_is_dominant(hand):
    assert hands.dominant_hand(one_hand_signs(hand)) == (hand, "")


def test_a_mirrored_clip_has_the_other_dominant_hand():
    clip = one_hand_signs("right")
    assert hands.dominant_hand(mirror.mirror_points(clip)) == ("left", "")


def test_a_hand_never_seen_leaves_the_other_dominant():
    clip = hide(one_hand_signs("right"), "left_hand")
    assert hands.dominant_hand(clip) == ("right", "")


def test_no_hand_seen_is_unknown():
    hand, why = hands.dominant_hand(hide(hide(signer_clip(20), "left_hand"), "right_hand"))
    assert hand == "unknown" and why == "No hands: no hand was seen in any of the 20 frames"


def test_still_hands_are_unknown():
    hand, why = hands.dominant_hand(signer_clip(40, hand_step=0.0))
    assert hand == "unknown" and why.startswith("Hands still: the left hand spreads 0.000 shoulder spans")


def test_hands_that_move_alike_are_unknown():
    hand, why = hands.dominant_hand(signer_clip(40, hand_step=0.005))  # both hands travel the same line
    assert hand == "unknown" and why.startswith("Hands alike: ") and "1.5×" in why


def test_the_margin_is_one_and_a_half_times():
    clip = signer_clip(40, hand_step=0.0)
    sweep = np.linspace(-0.1, 0.1, 40, dtype=np.float32)[:, None]
    clip.right_hand[:, :, 0] += sweep
    clip.left_hand[:, :, 0] += sweep / np.float32(1.45)
    assert hands.dominant_hand(clip)[0] == "unknown"
    clip.left_hand[:, :, 0] -= sweep / np.float32(1.45) - sweep / np.float32(1.55)
    assert hands.dominant_hand(clip)[0] == "right"


def test_hand_movement_is_measured_in_pixels_so_a_wide_frame_does_not_favour_x():
    # In a 16:9 frame, 0.1 of the width is 1.78 times 0.1 of the height.
    clip = signer_clip(40, hand_step=0.0, width=1920, height=1080)
    sweep = np.linspace(-0.1, 0.1, 40, dtype=np.float32)[:, None]
    clip.right_hand[:, :, 0] += sweep
    clip.left_hand[:, :, 1] += sweep
    assert hands.dominant_hand(clip)[0] == "right"
    assert hands.hand_spread(clip, "right") == pytest.approx(np.std(sweep) * 1920, rel=1e-4)
    assert hands.hand_spread(clip, "left") == pytest.approx(np.std(sweep) * 1080, rel=1e-4)
    assert hands.shoulder_span(clip) == pytest.approx(0.2 * 1920, rel=1e-5)


def test_no_pose_means_no_scale_and_unknown():
    hand, why = hands.dominant_hand(hide(one_hand_signs("right"), "pose"))
    assert hand == "unknown" and why.startswith("No shoulders: ")


def test_dominant_hand_is_the_same_for_every_feature_version():
    clip = one_hand_signs("left")
    for name in registry.names():
        options = {"feature_version": name, **{o.name: o.default for o in registry.all_options()}, "min_frames": 1}
        verdict = registry.get(name).judge(clip, options)
        assert (verdict.dominant_hand, verdict.dominant_hand_reason) == hands.dominant_hand(clip) == ("left", "")


def test_every_v2_verdict_carries_the_dominant_hand_failed_and_rejected_ones_too():
    assert (run(one_hand_signs("left")).dominant_hand, run(one_hand_signs("left")).mirrored) == ("left", False)
    failed = run(hide(one_hand_signs("right"), "pose"))
    assert failed.status == "failed" and failed.dominant_hand == "unknown"
    assert failed.dominant_hand_reason.startswith("No shoulders: ")
    rejected = v2.clip_features(one_hand_signs("right", n=10), v2.V2Config())
    assert rejected.status == "low_quality" and rejected.dominant_hand == "right"


# Symmetry tables

def test_the_pose_table_exchanges_mediapipes_left_and_right_points():
    table = mirror.POSE_MIRROR
    assert sorted(table) == list(range(33)) and (table[table] == np.arange(33)).all()
    assert table[0] == 0
    assert {(1, 4), (2, 5), (3, 6), (7, 8), (9, 10), (11, 12), (15, 16), (23, 24), (31, 32)} <= {
        (i, int(table[i])) for i in range(33)}


def test_the_face_table_is_an_involution_of_the_478_points_keeping_the_mesh_and_irises_apart():
    table = mirror.FACE_MIRROR
    assert len(table) == 478 and sorted(table) == list(range(478))
    assert (table[table] == np.arange(478)).all()
    assert (table[:468] < 468).all() and (table[468:] >= 468).all()
    midline = np.flatnonzero(table == np.arange(478))
    assert len(midline) == 28 and {0, 1, 4, 10, 152} <= set(midline)  # lip centre, nose, forehead, chin
    assert {(33, 263), (133, 362), (61, 291), (234, 454), (468, 473)} <= {(i, int(table[i])) for i in range(478)}


def _connections():
    pytest.importorskip("mediapipe")
    from mediapipe.python.solutions import face_mesh_connections
    return face_mesh_connections


def _mirrored(connections):
    return {frozenset((int(mirror.FACE_MIRROR[a]), int(mirror.FACE_MIRROR[b]))) for a, b in connections}


@pytest.mark.parametrize("left, right", [("LEFT_EYE", "RIGHT_EYE"), ("LEFT_EYEBROW", "RIGHT_EYEBROW"),
                                         ("LEFT_IRIS", "RIGHT_IRIS"), ("LIPS", "LIPS"), ("FACE_OVAL", "FACE_OVAL"),
                                         ("NOSE", "NOSE"), ("CONTOURS", "CONTOURS"), ("IRISES", "IRISES")])
def test_the_face_table_maps_mediapipes_connection_sets_onto_their_mirror_sets(left, right):
    connections = _connections()
    mapped = _mirrored(getattr(connections, f"FACEMESH_{left}"))
    assert mapped == {frozenset(edge) for edge in getattr(connections, f"FACEMESH_{right}")}


def test_the_face_table_maps_the_mesh_onto_itself_but_for_six_diagonals():
    # MediaPipe's tessellation splits six quads along different diagonals on the two sides.
    tessellation = _connections().FACEMESH_TESSELATION
    edges = {frozenset(edge) for edge in tessellation}
    assert len(_mirrored(tessellation) & edges) == len(edges) - 6 == 1316


# Mirroring a clip

def test_mirror_points_reflects_x_and_exchanges_every_left_right_pair():
    clip = signer_clip(5)
    mirrored = mirror.mirror_points(clip)
    np.testing.assert_array_equal(mirrored.left_hand[..., 0], np.float32(1) - clip.right_hand[..., 0])
    np.testing.assert_array_equal(mirrored.right_hand[..., 1:], clip.left_hand[..., 1:])
    np.testing.assert_array_equal(mirrored.pose[:, 11, 0], np.float32(1) - clip.pose[:, 12, 0])
    np.testing.assert_array_equal(mirrored.pose[:, 11, 1:], clip.pose[:, 12, 1:])  # y, z, visibility
    np.testing.assert_array_equal(mirrored.face[:, 33, 1:], clip.face[:, 263, 1:])
    np.testing.assert_array_equal(mirrored.face[:, 152, 0], np.float32(1) - clip.face[:, 152, 0])


def test_mirroring_exchanges_the_presence_flags_with_the_hands_and_keeps_absent_parts_zero():
    clip = hide(hide(signer_clip(10), "left_hand", slice(0, 4)), "face", slice(8, 10))
    mirrored = mirror.mirror_points(clip)
    np.testing.assert_array_equal(mirrored.right_hand_present, clip.left_hand_present)
    np.testing.assert_array_equal(mirrored.left_hand_present, clip.right_hand_present)
    assert not mirrored.right_hand[:4].any() and not mirrored.face[8:].any()


def test_a_face_swapped_twice_is_the_same_face_bit_for_bit():
    rng = np.random.default_rng(7)
    clip = signer_clip(4)
    clip.face = rng.uniform(0, 1, (4, 478, 3)).astype(np.float32)  # a refined mesh, irises included
    twice = mirror.swap_sides(mirror.swap_sides(clip))
    for name in ("pose", "left_hand", "right_hand", "face", "left_hand_present", "right_hand_present"):
        assert getattr(twice, name).tobytes() == getattr(clip, name).tobytes(), name


def test_a_face_mirrored_twice_is_the_same_face_to_one_rounding_step():
    rng = np.random.default_rng(8)
    clip = signer_clip(4)
    clip.face = rng.uniform(0, 1, (4, 468, 3)).astype(np.float32)
    twice = mirror.mirror_points(mirror.mirror_points(clip))
    assert twice.face[..., 1:].tobytes() == clip.face[..., 1:].tobytes()
    np.testing.assert_allclose(twice.face[..., 0], clip.face[..., 0], rtol=0, atol=6e-8)
    upper = clip.face[..., 0] >= 0.5  # 1 − x is exact there (Sterbenz), so the round trip is too
    np.testing.assert_array_equal(twice.face[..., 0][upper], clip.face[..., 0][upper])


def test_a_face_mesh_of_another_size_is_refused():
    clip = signer_clip(3)
    clip.face = np.zeros((3, 400, 3), np.float32)
    with pytest.raises(ValueError, match="468 or 478"):
        mirror.swap_sides(clip)


# Canonical hand

def test_canonical_hand_mirrors_a_left_handed_clip_about_the_torso_centre():
    clip = one_hand_signs("left")
    result = run(clip, canonical_hand=True, ema_alpha=0)
    assert (result.dominant_hand, result.mirrored) == ("left", True)
    # The same features as v2 computes for the clip mirrored in the image, to float32 rounding.
    reference = run(mirror.mirror_points(clip), ema_alpha=0)
    assert reference.dominant_hand == "right" and not reference.mirrored
    np.testing.assert_allclose(result.features, reference.features, rtol=0, atol=2e-6)


def test_canonical_hand_puts_the_dominant_hand_in_the_right_hand_columns():
    left_handed = run(one_hand_signs("left"), canonical_hand=True, ema_alpha=0).features
    plain = run(one_hand_signs("left"), ema_alpha=0).features
    x = np.arange(132, 195, 3)
    # Equal up to the order in which the four torso points are summed for the centre (one float32 step).
    np.testing.assert_allclose(left_handed[:, x + 63], -plain[:, x], rtol=0, atol=1e-6)  # left x → right, reflected
    np.testing.assert_allclose(left_handed[:, x + 64], plain[:, x + 1], rtol=0, atol=1e-6)  # y kept
    assert not np.allclose(left_handed[:, x + 63], plain[:, x + 63], atol=0.1)


def test_canonical_hand_leaves_right_handed_and_unknown_clips_as_they_are():
    for clip in (one_hand_signs("right"), signer_clip(40, hand_step=0.005)):
        plain, canonical = run(clip), run(clip, canonical_hand=True)
        assert not canonical.mirrored
        assert canonical.features.tobytes() == plain.features.tobytes()


def test_a_mirrored_clip_exchanges_presence_and_filled_flags_with_its_hands():
    clip = hide(hide(one_hand_signs("left"), "left_hand", slice(20, 22)), "right_hand", slice(0, 30))
    result = run(clip, canonical_hand=True, fill_gaps=2)
    assert result.mirrored
    features = result.features
    assert (features[20:22, FILLED["right_hand"]] == 1).all() and not features[:, FILLED["left_hand"]].any()
    assert not features[:30, PRESENT["left_hand"]].any() and (features[30:, PRESENT["left_hand"]] == 1).all()
    assert result.presence["right_hand"] == pytest.approx(58 / 60)  # the columns' rates: seen frames only
    assert result.presence["left_hand"] == pytest.approx(30 / 60)


def test_absent_parts_of_a_mirrored_clip_stay_positive_zeros():
    clip = hide(one_hand_signs("left"), "face", slice(0, 10))
    features = run(clip, canonical_hand=True).features
    assert not np.signbit(features[:10, FACE]).any()


def test_mirroring_changes_no_verdict_but_which_columns_hold_which_hand():
    clip = hide(one_hand_signs("left"), "right_hand", slice(0, 15))
    plain, canonical = run(clip), run(clip, canonical_hand=True)
    assert canonical.presence == {"pose": 1.0, "left_hand": plain.presence["right_hand"],
                                  "right_hand": plain.presence["left_hand"], "face": 1.0}
    for name in ("status", "reason", "num_frames", "detection_ratio", "hand_ratio", "shoulder_width"):
        assert getattr(plain, name) == getattr(canonical, name), name
    assert canonical.motion_mean == pytest.approx(plain.motion_mean, rel=1e-5)
