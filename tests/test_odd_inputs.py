"""Inputs real recordings bring: other containers, variable frame rate, no video, one frame, pictures, odd names.

One run over a dataset holding every variant, made here with ffmpeg from a real clip
(SOUP.mp4: 41 frames, 320x240, H.264). Each either works or lands in a report with a
reason; none stops the run.
"""
import shutil

import numpy as np
import pytest

from pipeline import run as run_job
from tests.conftest import ffmpeg, read_csv, write_metadata

REPORTS = ("processed_metadata.csv", "low_quality_videos.csv", "failed_videos.csv", "missing_videos.csv")
ODD_NAMES = ("with space.mp4", "Ɔkɔm ŋ é 手話.mp4", "it's \"quoted\".mp4", "take#2.mp4", "100%.mp4")
# ffmpeg arguments between `-i SOUP.mp4` and the output file.
CONTAINERS = {
    "soup_mov.mov": ["-c", "copy"],
    "soup_mkv.mkv": ["-c", "copy"],
    "soup_webm.webm": ["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "400k"],
    "soup_avi.avi": ["-c:v", "mpeg4", "-q:v", "3"],
    # 15 frames at 29.97 fps, then 26 at 9.99 fps: timestamps no longer evenly spaced.
    "soup_vfr.mp4": ["-vf", "setpts='if(lt(N,15),N*1001/30000,(N-15)*1001/10000+15*1001/30000)/TB'",
                     "-fps_mode", "vfr", "-c:v", "libx264"],
    "one_frame.mp4": ["-frames:v", "1"],
}


# Pictures saved under video names, made by ffmpeg from SOUP.mp4 (one frame; ten for the animated GIF,
# an icon's size for the ICO) → their format.
PICTURES = {
    "picture_png.mp4": dict(made="frame.png", format="PNG"),
    "picture_gif.mov": dict(made="frame.gif", format="GIF"),
    "animated_gif.mp4": dict(made="animated.gif", format="GIF", args=["-frames:v", "10"]),
    "picture_bmp.mp4": dict(made="frame.bmp", format="BMP"),
    "picture_webp.mkv": dict(made="frame.webp", format="WebP"),
    "picture_tiff.mp4": dict(made="frame.tiff", format="TIFF"),
    "picture_ico.mp4": dict(made="frame.ico", format="ICO", args=["-frames:v", "1", "-s", "32x32"]),
    "drawing_svg.mp4": dict(made=None, format="SVG"),
}
SVG = b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>\n'


@pytest.fixture(scope="module")
def odd_run(tmp_path_factory, sign_clips):
    root = tmp_path_factory.mktemp("odd")
    videos = root / "videos"
    videos.mkdir()
    soup = sign_clips / "SOUP.mp4"
    for name, args in CONTAINERS.items():
        ffmpeg("-i", soup, *args, videos / name)
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", videos / "audio_only.mp4")
    ffmpeg("-i", soup, "-frames:v", "1", root / "frame.jpg")
    shutil.copy(root / "frame.jpg", videos / "photo.mp4")
    for name, picture in PICTURES.items():
        if picture["made"] is None:
            (videos / name).write_bytes(SVG)
            continue
        ffmpeg("-i", soup, *picture.get("args", ["-frames:v", "1"]), root / picture["made"])
        shutil.copy(root / picture["made"], videos / name)
    for name in ODD_NAMES:
        shutil.copy(soup, videos / name)
    files = [*CONTAINERS, "audio_only.mp4", "photo.mp4", *PICTURES, *ODD_NAMES]
    metadata = write_metadata(root / "metadata.csv", [
        dict(video_file=name, sentence_id=str(i), sentence=f"Sentence {i}", category="odd")
        for i, name in enumerate(files, start=1)])
    out = root / "out"
    code = run_job.main([f"--metadata_csv={metadata}", f"--video_dir={videos}", f"--output_dir={out}",
                         "--model_complexity=1", "--min_frames=20", "--direct_num_workers=2",
                         "--direct_running_mode=multi_processing"])
    status = {}
    for report in REPORTS:
        for row in read_csv(out / "proc" / report):
            status[row["video_file"]] = (report, row.get("error", ""), row)
    return code, out, files, status


def test_the_run_finishes_and_every_file_lands_in_one_report(odd_run):
    code, _, files, status = odd_run
    assert code == 0
    assert sorted(status) == sorted(files)


@pytest.mark.parametrize("name", ["soup_mov.mov", "soup_mkv.mkv", "soup_webm.webm", "soup_avi.avi"])
def test_other_containers_and_codecs_work(odd_run, name):
    _, _, _, status = odd_run
    report, _, row = status[name]
    assert report == "processed_metadata.csv" and row["num_frames"] == "41"


def test_variable_frame_rate_keeps_every_decoded_frame(odd_run):
    _, _, _, status = odd_run
    report, _, row = status["soup_vfr.mp4"]
    assert report == "processed_metadata.csv" and row["num_frames"] == "41"


def test_a_file_with_no_video_stream_fails_with_a_reason(odd_run):
    _, _, _, status = odd_run
    report, error, _ = status["audio_only.mp4"]
    assert report == "failed_videos.csv" and "could not open the file as a video" in error


def test_a_one_frame_video_is_low_quality(odd_run):
    """features v1 judges motion before length, and one frame has no motion."""
    _, _, _, status = odd_run
    assert status["one_frame.mp4"][:2] == ("low_quality_videos.csv", "Low motion")


def test_a_photo_renamed_mp4_fails_as_a_still_image(odd_run):
    """OpenCV (FFmpeg) opens a JPEG as a one-frame stream with no frame count; it is not a clip."""
    _, _, _, status = odd_run
    report, error, _ = status["photo.mp4"]
    assert report == "failed_videos.csv" and error.startswith("A still image (JPEG), not a video")


@pytest.mark.parametrize("name", PICTURES)
def test_a_picture_under_a_video_name_fails_as_a_still_image_whatever_its_format(odd_run, name):
    """Told by the file's first bytes: OpenCV opens a PNG, BMP or TIFF as a one-frame stream and a GIF
    with a frame count (and cannot open an SVG), so neither the name nor what OpenCV reports can tell."""
    _, out, _, status = odd_run
    report, error, _ = status[name]
    assert report == "failed_videos.csv"
    assert error.startswith(f"A still image ({PICTURES[name]['format']}), not a video")
    assert not (out / "landmarks" / (name.rsplit(".", 1)[0] + ".pose")).exists()


@pytest.mark.parametrize("name", ODD_NAMES)
def test_names_with_spaces_unicode_quotes_hash_and_percent_work(odd_run, name):
    _, out, _, status = odd_run
    report, _, row = status[name]
    assert report == "processed_metadata.csv"
    saved = out / "features" / "pose_data" / (name[: -len(".mp4")] + ".npy")
    assert row["feature_path"] == str(saved)
    np.testing.assert_array_equal(np.load(saved), np.load(out / "features" / "pose_data" / "soup_mov.npy"))
