"""MediaPipe Holistic called directly, frame by frame: the reference the landmark store is held to.

Independent of transforms/landmarks/: no .pose file, no pose-format. Gives what
MediaPipe returned for every frame, and the v1 raw frame vectors built from it
the way the team's notebook did (the "direct path").
"""
import cv2
import numpy as np

from transforms.features import v1
from transforms.landmarks.native_logs import quiet_native_logs


def _points(landmark_list, with_visibility=False):
    if landmark_list is None:
        return None
    if with_visibility:
        return np.array([(p.x, p.y, p.z, p.visibility) for p in landmark_list.landmark], dtype=np.float32)
    return np.array([(p.x, p.y, p.z) for p in landmark_list.landmark], dtype=np.float32)


def holistic_frames(video_path, model_complexity=1, **options):
    """Per frame: dict of part → array (x, y as image fractions) or None when not detected; and (width, height)."""
    quiet_native_logs()
    import mediapipe as mp

    frames = []
    capture = cv2.VideoCapture(str(video_path))
    with mp.solutions.holistic.Holistic(static_image_mode=False, model_complexity=model_complexity,
                                        **options) as holistic:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            size = frame.shape[1], frame.shape[0]
            results = holistic.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            frames.append({"pose": _points(results.pose_landmarks, True),
                           "pose_world": _points(results.pose_world_landmarks, True),
                           "left_hand": _points(results.left_hand_landmarks),
                           "right_hand": _points(results.right_hand_landmarks),
                           "face": _points(results.face_landmarks)})
    capture.release()
    return frames, size


def v1_landmarks(frames, face_downsample=5) -> v1.ClipLandmarks:
    """The spec's raw frame vectors, validity and visibility, one frame at a time."""
    vectors, valid, visibility = [], [], []
    for f in frames:
        vec, is_valid, vis = v1.frame_vector(f["pose"], f["left_hand"], f["right_hand"], f["face"], face_downsample)
        vectors.append(vec)
        valid.append(is_valid)
        visibility.append(vis)
    dim = v1.frame_dim(face_downsample)
    return v1.ClipLandmarks(np.array(vectors, np.float32).reshape(-1, dim), np.array(valid, bool),
                            np.array(visibility, np.float32))
