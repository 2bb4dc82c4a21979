"""MediaPipe Holistic behind one small interface: a video file in, its .pose landmark file out.

The DoFn, the tests and the benchmark's single-process loop all call
`HolisticExtractor.extract`, so they run exactly the same extraction code.
"""
from __future__ import annotations

import importlib.util
import os
from typing import Optional

import numpy as np

from transforms.landmarks import pose_file
from transforms.landmarks.native_logs import quiet_native_logs

# model_complexity → the pose model MediaPipe loads from its package folder.
# Only "full" ships in the wheel; "lite" and "heavy" are downloaded on first use,
# which fails without internet (../shared/NOTES.md).
POSE_MODELS = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}
MODEL_URL = "https://storage.googleapis.com/mediapipe-assets/{name}"

# Everything that changes a video's landmarks besides the video: HolisticExtractor's
# arguments, which are also the job's options of the same names.
LANDMARK_OPTIONS = ("model_complexity", "min_detection_confidence", "min_tracking_confidence",
                    "refine_face_landmarks", "smooth_landmarks")


class ModelNotAvailable(RuntimeError):
    """The pose model for the requested model_complexity is not installed."""


class VideoDecodeError(RuntimeError):
    """The file could not be opened as a video, or decoding ended early."""


# A complete file decodes (nearly) every frame its container declares; real clips lose a
# frame or two at the end (FOOTBALL.mp4: 62 of 64). A truncated upload whose index sits at
# the front still opens and decodes up to the cut, so far fewer frames than declared
# means an incomplete file, not a short clip.
MIN_DECODED_SHARE = 0.9


def pose_model_path(model_complexity: int) -> str:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable("mediapipe is not installed; run `make install`.")
    package_dir = list(spec.submodule_search_locations)[0]
    return os.path.join(package_dir, "modules", "pose_landmark", POSE_MODELS[model_complexity])


def check_model_available(model_complexity: int) -> None:
    """Raise ModelNotAvailable, with how to fix it, unless the pose model is on disk."""
    if model_complexity not in POSE_MODELS:
        raise ModelNotAvailable(
            f"--model_complexity={model_complexity} is not valid; use 0 (lite), 1 (full) or 2 (heavy).")
    path = pose_model_path(model_complexity)
    if os.path.isfile(path) and os.path.getsize(path) > 0:
        return
    name = POSE_MODELS[model_complexity]
    raise ModelNotAvailable(
        f"--model_complexity={model_complexity} needs the MediaPipe pose model {name}, which is not "
        f"installed at {path} and would be downloaded at run time (impossible without internet, "
        f"and once per worker otherwise). Fix: use --model_complexity=1 (its model ships with "
        f"mediapipe), or put the model there first, e.g. `curl -o {path} {MODEL_URL.format(name=name)}`; "
        f"the Dataflow worker image bakes it in at build time.")


def upright(capture) -> None:
    """Make `capture` hand out frames as a person sees the video.

    Phones store portrait video sideways with a rotation tag (a display matrix). This OpenCV
    build reads frames as stored unless told otherwise, and MediaPipe would then see the
    signer lying on their side (landmarks off by a median 1.48 torso units, NOTES.md).
    """
    import cv2

    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)


def check_complete(decoded: int, declared: int) -> None:
    """Raise VideoDecodeError when decoding stopped well before the frames the container declares."""
    if declared > 0 and decoded < MIN_DECODED_SHARE * declared:
        raise VideoDecodeError(
            f"Truncated video: decoded {decoded} of the {declared} frames its container declares; "
            f"the file is probably an incomplete upload or copy. Upload it again.")


# The first bytes of the picture formats a phone, a camera or an editor saves, by format. FFmpeg opens
# most of them as a one-frame "video" (a PNG has codec MPNG, a BMP none, a GIF a frame count), so their
# name and what OpenCV reports cannot tell them from a clip; their content can.
_IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"8BPS", "Photoshop"),
)
# HEIF/AVIF pictures are ISO media files like MP4: told apart by the brand of their ftyp box.
_IMAGE_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"heim": "HEIC", b"heis": "HEIC", b"mif1": "HEIF",
                 b"msf1": "HEIF", b"avif": "AVIF", b"avis": "AVIF"}
# Enough for every signature above, an ftyp box's major brand, and an SVG's XML declaration and comments.
IMAGE_PROBE_BYTES = 512


def image_format(head: bytes) -> Optional[str]:
    """The picture format the first bytes of a file announce (JPEG, PNG, GIF…), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp" and head[8:12] in _IMAGE_BRANDS:
        return _IMAGE_BRANDS[head[8:12]]
    if head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00":  # "BM", the file size, four reserved zeros
        return "BMP"
    # An icon: type 1, 1 to 255 pictures, the first one's reserved byte 0 (an MPEG stream starts 00 00 01 Bx).
    if head[:4] == b"\x00\x00\x01\x00" and 0 < int.from_bytes(head[4:6], "little") < 256 and head[9:10] == b"\x00":
        return "ICO"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<svg") or (text.startswith((b"<?xml", b"<!--", b"<!DOCTYPE svg")) and b"<svg" in text):
        return "SVG"
    for signature, name in _IMAGE_SIGNATURES:
        if head.startswith(signature):
            return name
    return None


def check_not_an_image(path: str) -> None:
    """Raise VideoDecodeError for a picture saved under a video name, whatever its extension."""
    with open(path, "rb") as handle:
        found = image_format(handle.read(IMAGE_PROBE_BYTES))
    if found is not None:
        raise VideoDecodeError(
            f"A still image ({found}), not a video: the file holds a picture saved under a video name. "
            f"Upload the recording itself.")


def check_not_a_photo(decoded: int, declared: int, codec: str) -> None:
    """Raise VideoDecodeError for a still image saved under a video name that check_not_an_image did not
    know (FFmpeg opens a JPEG as a one-frame stream with no frame count)."""
    if decoded <= 1 and declared <= 0 and codec in ("MJPG", "png ", "MPNG"):
        raise VideoDecodeError(
            f"A still image ({'JPEG' if codec == 'MJPG' else 'PNG'}), not a video: it has one frame and no "
            f"frame count. Upload the recording itself.")


class HolisticExtractor:
    """One MediaPipe Holistic, reused across videos with its tracking state reset.

    `extract` turns a video file into the bytes of its .pose landmark file
    (transforms/landmarks/pose_file.py documents the layout).
    """

    def __init__(self, *, model_complexity: int, min_detection_confidence: float, min_tracking_confidence: float,
                 refine_face_landmarks: bool, smooth_landmarks: bool):
        """The job's landmark options (LANDMARK_OPTIONS), all given: their defaults are the job's options'."""
        check_model_available(model_complexity)
        quiet_native_logs()
        import mediapipe as mp  # imported late: after the log filter and the protobuf patch

        self.refine_face_landmarks = refine_face_landmarks
        self._holistic = mp.solutions.holistic.Holistic(
            static_image_mode=False,
            model_complexity=model_complexity,
            smooth_landmarks=smooth_landmarks,
            refine_face_landmarks=refine_face_landmarks,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def extract(self, video_path: str) -> bytes:
        """The .pose file of every frame OpenCV reads, in order, until the first failed read.

        Raises VideoDecodeError when the file cannot be opened as a video or is truncated.
        """
        import cv2

        # Tracking must not carry over from the previous video: a clip's landmarks
        # may not depend on which clip this worker happened to process before.
        self._holistic.reset()
        size = os.path.getsize(video_path)
        if size == 0:
            raise VideoDecodeError("Empty file (0 bytes): not a video")
        check_not_an_image(video_path)
        capture = cv2.VideoCapture(video_path)
        try:
            if not capture.isOpened():
                raise VideoDecodeError(
                    f"OpenCV could not open the file as a video ({size} bytes): not a video, "
                    f"or a truncated/corrupt container")
            upright(capture)
            declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            codec = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("latin-1")
            fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
            width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            data, confidence = [], []
            while True:
                ok, frame_bgr = capture.read()
                if not ok:
                    break
                height, width = frame_bgr.shape[:2]  # what MediaPipe saw, whatever the container says
                points, conf = self._landmarks(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB), width, height)
                data.append(points)
                confidence.append(conf)
        finally:
            capture.release()
        check_complete(len(data), declared)
        check_not_a_photo(len(data), declared, codec)
        header = pose_file.holistic_header(width, height, self.refine_face_landmarks)
        points = header.total_points()
        return pose_file.to_bytes(header, np.asarray(data, np.float32).reshape(-1, points, 3),
                                  np.asarray(confidence, np.float32).reshape(-1, points), fps)

    def _landmarks(self, frame_rgb: np.ndarray, width: int, height: int):
        # pose-format's own per-part converters, in load_holistic's component order, so our
        # files hold exactly what its load_holistic would write for the same frames.
        from pose_format.utils.holistic import FACE_POINTS_NUM, body_points, component_points

        results = self._holistic.process(frame_rgb)
        face_points = FACE_POINTS_NUM(10 if self.refine_face_landmarks else 0)
        parts = (body_points(results.pose_landmarks, width, height, 33),
                 component_points(results.face_landmarks, width, height, face_points),
                 component_points(results.left_hand_landmarks, width, height, 21),
                 component_points(results.right_hand_landmarks, width, height, 21),
                 body_points(results.pose_world_landmarks, width, height, 33))
        return np.concatenate([p for p, _ in parts]), np.concatenate([c for _, c in parts])

    def close(self) -> None:
        self._holistic.close()
