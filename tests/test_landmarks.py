"""The landmark store: .pose files in pose-format's holistic layout, and re-runs that never decode twice."""
import shutil

import numpy as np
import pytest

from pipeline import run as run_job
from tests import mediapipe_direct
from tests.conftest import make_dataset, video_frames
from tests.test_incremental import assert_same_outputs
from transforms.features import v1
from transforms.landmarks import pose_file

CLIPS = ("SOUP.mp4", "sample_video.mp4", "test_video.mp4")
# The release has its own tests (tests/test_release.py); here it would only be rebuilt after every run.
OPTIONS = ["--model_complexity=1", "--min_frames=5", "--direct_num_workers=1", "--release=false"]


def args(metadata, videos, out, *extra):
    return [f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}", *OPTIONS, *extra]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, sign_clips):
    return make_dataset(tmp_path_factory.mktemp("landmarks"), [(name, sign_clips / name) for name in CLIPS])


@pytest.fixture(scope="module")
def first_run(dataset, tmp_path_factory):
    metadata, videos = dataset
    out = tmp_path_factory.mktemp("first")
    summary = run_job.run(args(metadata, videos, out))
    return out, summary


@pytest.fixture
def rerun(dataset, first_run, tmp_path):
    """Runs again over a copy of the first run's outputs."""
    metadata, videos = dataset
    out = tmp_path / "out"
    shutil.copytree(first_run[0], out)

    def again(*extra):
        return run_job.run(args(metadata, videos, out, *extra))
    return out, again


def fresh(dataset, out, *extra):
    metadata, videos = dataset
    return run_job.run(args(metadata, videos, out, *extra))


@pytest.fixture(scope="module")
def fresh_smoother(dataset, tmp_path_factory):
    """A fresh full run with --ema_alpha=0.3: what any sequence of runs must end at."""
    out = tmp_path_factory.mktemp("fresh_smoother")
    fresh(dataset, out, "--ema_alpha=0.3")
    return out


def read_pose(path):
    from pose_format import Pose
    return Pose.read(path.read_bytes())


def test_every_decoded_video_has_a_pose_file_with_the_holistic_header(first_run, sign_clips):
    out, summary = first_run
    assert summary["videos_decoded"] == 3
    for name, (width, height) in (("SOUP", (320, 240)), ("sample_video", (1280, 720)), ("test_video", (540, 720))):
        pose = read_pose(out / "landmarks" / f"{name}.pose")
        assert [(c.name, len(c.points), c.format) for c in pose.header.components] == [
            ("POSE_LANDMARKS", 33, "XYZC"), ("FACE_LANDMARKS", 468, "XYZC"), ("LEFT_HAND_LANDMARKS", 21, "XYZC"),
            ("RIGHT_HAND_LANDMARKS", 21, "XYZC"), ("POSE_WORLD_LANDMARKS", 33, "XYZC")]
        assert (pose.header.dimensions.width, pose.header.dimensions.height) == (width, height)
        assert pose.body.fps == pytest.approx({"SOUP": 29.97, "sample_video": 24, "test_video": 29.92}[name], abs=0.01)
        assert pose.body.data.shape[1:] == (1, 576, 3)


def test_pose_values_are_what_mediapipe_returned(first_run, sign_clips):
    out, _ = first_run
    pose = read_pose(out / "landmarks" / "test_video.pose")
    frames, (width, height) = mediapipe_direct.holistic_frames(sign_clips / "test_video.mp4")
    data, confidence = np.ma.getdata(pose.body.data)[:, 0], np.ma.getdata(pose.body.confidence)[:, 0]
    assert len(data) == len(frames) == 58  # every decoded frame, none dropped
    parts = (("pose", 0, 33), ("face", 33, 501), ("left_hand", 501, 522), ("right_hand", 522, 543),
             ("pose_world", 543, 576))
    seen = set()
    for t, f in enumerate(frames):
        for part, start, stop in parts:
            if f[part] is None:
                assert not data[t, start:stop].any() and not confidence[t, start:stop].any(), (t, part)
                continue
            seen.add(part)
            xyz = f[part][:, :3].astype(np.float64) * (width, height, 1)
            np.testing.assert_allclose(data[t, start:stop], xyz, rtol=1e-6, atol=1e-6, err_msg=f"{t} {part}")
            expected_confidence = f[part][:, 3] if part.startswith("pose") else np.ones(stop - start)
            np.testing.assert_array_equal(confidence[t, start:stop], expected_confidence.astype(np.float32))
    assert seen == {"pose", "face", "right_hand", "pose_world"}  # test_video's left hand is never seen


def test_pose_files_equal_pose_formats_own_load_holistic(first_run, sign_clips):
    import cv2
    from pose_format.utils.holistic import load_holistic

    out, _ = first_run
    images = [cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) for frame in video_frames(sign_clips / "SOUP.mp4")]
    fps = cv2.VideoCapture(str(sign_clips / "SOUP.mp4")).get(cv2.CAP_PROP_FPS)
    theirs = load_holistic(images, fps=fps, width=320, height=240, reuse=False,
                           additional_holistic_config={"model_complexity": 1})
    ours = read_pose(out / "landmarks" / "SOUP.pose")
    assert [(c.name, c.points, c.limbs) for c in ours.header.components] == [
        (c.name, c.points, c.limbs) for c in theirs.header.components]
    np.testing.assert_array_equal(np.ma.getdata(ours.body.data), np.ma.getdata(theirs.body.data).astype(np.float32))
    np.testing.assert_array_equal(np.ma.getdata(ours.body.confidence),
                                  np.ma.getdata(theirs.body.confidence).astype(np.float32))


def test_features_from_the_pose_file_equal_the_direct_path(first_run, sign_clips):
    out, _ = first_run
    points = pose_file.read_points((out / "landmarks" / "test_video.pose").read_bytes())
    from_file = v1.clip_features(v1.from_points(points), v1.QualityConfig(min_frames=5))
    frames, _ = mediapipe_direct.holistic_frames(sign_clips / "test_video.mp4")
    direct = v1.clip_features(mediapipe_direct.v1_landmarks(frames), v1.QualityConfig(min_frames=5))
    assert (from_file.status, from_file.num_frames) == (direct.status, direct.num_frames)
    np.testing.assert_allclose(from_file.features, direct.features, atol=1e-5, rtol=0)
    saved = np.load(out / "features" / "pose_data" / "test_video.npy")
    np.testing.assert_array_equal(saved, from_file.features)  # the job computes them from the file too


def test_a_feature_option_change_decodes_nothing_and_equals_a_fresh_run(dataset, first_run, rerun, tmp_path):
    out, again = rerun
    summary = again("--min_frames=45", "--ema_alpha=0.3")
    assert (summary["videos_decoded"], summary["videos_recomputed"], summary["videos_reused"]) == (0, 3, 0)
    assert summary["counts"]["low_quality"] == 2  # SOUP (41 frames) and sample_video (9) are now too short
    reference = tmp_path / "fresh"
    fresh(dataset, reference, "--min_frames=45", "--ema_alpha=0.3")
    assert_same_outputs(out, reference)

    back = again()  # and back to the first run's options: still nothing decoded
    assert (back["videos_decoded"], back["videos_recomputed"]) == (0, 3)
    assert_same_outputs(out, first_run[0])


def test_a_landmark_option_change_decodes_again(rerun):
    _, again = rerun
    summary = again("--min_detection_confidence=0.6")
    assert (summary["videos_decoded"], summary["videos_changed"], summary["videos_recomputed"]) == (3, 3, 0)


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "deleted"])
def test_a_damaged_pose_file_is_decoded_again_not_used(rerun, fresh_smoother, damage):
    out, again = rerun
    path = out / "landmarks" / "SOUP.pose"
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "corrupt":
        path.write_bytes(data[:-100] + bytes(100))  # same size, other values
    else:
        path.unlink()
    summary = again("--ema_alpha=0.3")
    assert (summary["videos_decoded"], summary["videos_recomputed"]) == (1, 2)
    assert path.read_bytes() == data
    assert_same_outputs(out, fresh_smoother)


def test_reprocess_all_decodes_everything(rerun):
    _, again = rerun
    summary = again("--reprocess=all")
    assert (summary["videos_decoded"], summary["videos_recomputed"], summary["videos_reused"]) == (3, 0, 0)


def test_pose_formats_own_tools_normalize_and_draw_our_files(first_run, tmp_path):
    from pose_format.pose_visualizer import PoseVisualizer
    from pose_format.utils.generic import pose_normalization_info

    out, _ = first_run
    pose = read_pose(out / "landmarks" / "SOUP.pose")
    info = pose_normalization_info(pose.header)  # recognises the holistic layout by its components
    normalized = pose.normalize(info)
    assert np.isfinite(np.ma.getdata(normalized.body.data)).all()
    pose = read_pose(out / "landmarks" / "SOUP.pose").get_components(
        ["POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"])
    visualizer = PoseVisualizer(pose)
    visualizer.save_gif(str(tmp_path / "soup.gif"), visualizer.draw())
    from PIL import Image
    image = Image.open(tmp_path / "soup.gif")
    assert image.size == (320, 240) and image.n_frames == 41
