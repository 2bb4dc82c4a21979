"""Phone videos stored sideways with a rotation tag: landmarks are for the upright image, as a person sees it."""
import numpy as np
import pytest

from tests.conftest import LANDMARKS, ffmpeg
from transforms.features import v1
from transforms.landmarks import pose_file
from transforms.landmarks.holistic import HolisticExtractor

UPPER_BODY = np.arange(25)  # pose landmarks 0–24: head, shoulders, arms, hips (legs are out of shot)


@pytest.fixture(scope="module")
def variants(sign_clips, tmp_path_factory):
    """FOOTBALL re-encoded upright, and stored sideways/upside down with the tag a phone writes."""
    folder = tmp_path_factory.mktemp("rotated")
    source = sign_clips / "FOOTBALL.mp4"
    ffmpeg("-i", source, folder / "upright.mp4")
    # (filter that stores the frames turned, the rotate tag that turns them back for a player)
    for name, turn, tag in (("rot90", "transpose=2", "-90"), ("rot270", "transpose=1", "90"),
                            ("rot180", "transpose=1,transpose=1", "180")):
        ffmpeg("-i", source, "-vf", turn, folder / f"{name}_stored.mp4")
        ffmpeg("-i", folder / f"{name}_stored.mp4", "-c", "copy", "-metadata:s:v:0", f"rotate={tag}",
               folder / f"{name}.mp4")
    extractor = HolisticExtractor(**LANDMARKS)
    try:
        yield {path.stem: pose_file.read_points(extractor.extract(str(path))) for path in sorted(folder.glob("*.mp4"))}
    finally:
        extractor.close()


def upper_body(points):
    """Torso-normalized x, y, z of the upper body in the frames with a pose."""
    frames = v1.normalize_frames(v1.from_points(points).frames)
    pose = frames[:, :v1.POSE_DIM].reshape(len(frames), 33, 4)[:, UPPER_BODY, :3]
    return pose[points.pose_present]


@pytest.mark.parametrize("rotated", ["rot90", "rot270", "rot180"])
def test_a_rotated_clip_gives_the_upright_clips_landmarks(variants, rotated):
    upright, turned = variants["upright"], variants[rotated]
    assert (turned.width, turned.height) == (upright.width, upright.height) == (640, 360)
    assert len(turned) == len(upright)
    assert turned.pose_present.all() and upright.pose_present.all()
    difference = np.median(np.abs(upper_body(turned) - upper_body(upright)))
    assert difference < 0.05, difference  # a plain re-encode moves them by ~0.004; sideways by ~1.5


def test_the_stored_sideways_frames_really_differ(variants):
    """The check above could fail: without the tag the same frames give other landmarks."""
    stored, upright = variants["rot90_stored"], variants["upright"]
    assert (stored.width, stored.height) == (360, 640)
    assert np.median(np.abs(upper_body(stored) - upper_body(upright))) > 0.3
