"""MediaPipe Holistic behind one small interface: a video file in, raw landmarks out.

The DoFn, the tests and the benchmark's single-process loop all call
`HolisticExtractor.extract`, so they run exactly the same extraction code.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from transforms.features import v1 as features
from transforms.landmarks.native_logs import quiet_native_logs

# model_complexity → the pose model MediaPipe loads from its package folder.
# Only "full" ships in the wheel; "lite" and "heavy" are downloaded on first use,
# which fails without internet (../shared/NOTES.md).
POSE_MODELS = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}
MODEL_URL = "https://storage.googleapis.com/mediapipe-assets/{name}"


class ModelNotAvailable(RuntimeError):
    """The pose model for the requested model_complexity is not installed."""


class VideoDecodeError(RuntimeError):
    """The file could not be opened as a video."""


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


class HolisticExtractor:
    """One MediaPipe Holistic, reused across videos with its tracking state reset."""

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, face_downsample: int = 5):
        check_model_available(model_complexity)
        quiet_native_logs()
        import mediapipe as mp  # imported late: after the log filter and the protobuf patch

        self.face_downsample = face_downsample
        self._holistic = mp.solutions.holistic.Holistic(
            static_image_mode=False,
            model_complexity=model_complexity,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def extract(self, video_path: str) -> features.ClipLandmarks:
        """Landmarks of every frame OpenCV reads, in order, until the first failed read.

        Raises VideoDecodeError when the file cannot be opened as a video.
        """
        import cv2

        # Tracking must not carry over from the previous video: a clip's features
        # may not depend on which clip this worker happened to process before.
        self._holistic.reset()
        size = os.path.getsize(video_path)
        if size == 0:
            raise VideoDecodeError("Empty file (0 bytes): not a video")
        capture = cv2.VideoCapture(video_path)
        try:
            if not capture.isOpened():
                raise VideoDecodeError(
                    f"OpenCV could not open the file as a video ({size} bytes): not a video, "
                    f"or a truncated/corrupt container")
            vectors, valid, visibility = [], [], []
            while True:
                ok, frame_bgr = capture.read()
                if not ok:
                    break
                vec, is_valid, vis = self._landmarks(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))
                vectors.append(vec)
                valid.append(is_valid)
                visibility.append(vis)
        finally:
            capture.release()
        dim = features.frame_dim(self.face_downsample)
        return features.ClipLandmarks(
            frames=np.array(vectors, dtype=np.float32).reshape(-1, dim),
            valid=np.array(valid, dtype=bool),
            visibility=np.array(visibility, dtype=np.float32),
        )

    def _landmarks(self, frame_rgb: np.ndarray):
        results = self._holistic.process(frame_rgb)
        pose = _points(results.pose_landmarks, with_visibility=True)
        left = _points(results.left_hand_landmarks)
        right = _points(results.right_hand_landmarks)
        face = _points(results.face_landmarks)
        return features.frame_vector(pose, left, right, face, self.face_downsample)

    def close(self) -> None:
        self._holistic.close()


def _points(landmark_list, with_visibility: bool = False):
    if landmark_list is None:
        return None
    if with_visibility:
        return np.array([(p.x, p.y, p.z, p.visibility) for p in landmark_list.landmark], dtype=np.float32)
    return np.array([(p.x, p.y, p.z) for p in landmark_list.landmark], dtype=np.float32)
