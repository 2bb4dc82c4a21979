"""The landmark store: one `.pose` file per video, in pose-format's standard holistic layout.

    OUT/landmarks/<video_file without extension>.pose   (transforms/store/paths.py)

Written with the `pose-format` library (sign-language-processing/pose), so every
tool of the field reads, normalizes and draws our files. The header is the one
`pose_format.utils.holistic.load_holistic` builds: components POSE_LANDMARKS (33
points), FACE_LANDMARKS (468; 478 with --refine_face_landmarks),
LEFT_HAND_LANDMARKS (21), RIGHT_HAND_LANDMARKS (21), POSE_WORLD_LANDMARKS (33),
point format XYZC, and the video's width, height and fps. The body holds every
decoded frame, one person per frame:

  * x, y in pixels (MediaPipe's value × width, × height), z as MediaPipe gives it
    (pose world landmarks: x × width, y × height as well, as load_holistic does);
  * confidence: the landmark's visibility for the pose (and pose world), 1 for a
    detected face or hand point;
  * a part not detected in a frame: all zeros, confidence 0 (pose-format reads
    those points as masked).

Reading back (`read_points`) divides by width and height again, so features see
MediaPipe's image fractions; x and y go through float32 pixels on the way (a
relative error around 1e-7, far below the 1e-5 the v1 definition allows).
"""
from __future__ import annotations

import hashlib
import io
from typing import Tuple

import numpy as np

from transforms.features.landmarks import FACE_POINTS, HAND_POINTS, POSE_POINTS, ClipPoints

POSE, FACE, LEFT_HAND, RIGHT_HAND, POSE_WORLD = (
    "POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS", "POSE_WORLD_LANDMARKS")
COMPONENTS = (POSE, FACE, LEFT_HAND, RIGHT_HAND, POSE_WORLD)
REFINED_FACE_POINTS = FACE_POINTS + 10  # iris points added by refine_face_landmarks


class LandmarkFileError(ValueError):
    """A .pose file that cannot be ours: unreadable, truncated, or another layout."""


def holistic_header(width: int, height: int, refine_face_landmarks: bool = False):
    """The header load_holistic writes, built by pose-format's own component list."""
    from pose_format.pose_header import PoseHeader, PoseHeaderDimensions
    from pose_format.utils.holistic import holistic_components  # imports mediapipe: extraction only

    return PoseHeader(version=0.2, dimensions=PoseHeaderDimensions(width=width, height=height, depth=0),
                      components=holistic_components("XYZC", 10 if refine_face_landmarks else 0))


def to_bytes(header, data: np.ndarray, confidence: np.ndarray, fps: float) -> bytes:
    """A .pose file's bytes: data (T, points, 3) and confidence (T, points), one person per frame."""
    from pose_format import Pose
    from pose_format.numpy.pose_body import NumPyPoseBody

    body = NumPyPoseBody(fps=fps, data=np.asarray(data, np.float32)[:, None],
                         confidence=np.asarray(confidence, np.float32)[:, None])
    buffer = io.BytesIO()
    Pose(header, body).write(buffer)
    return buffer.getvalue()


def digest(data: bytes) -> str:
    """What a record keeps to recognise the exact file it vouches for."""
    return hashlib.sha256(data).hexdigest()


def read(data: bytes):
    """pose_format.Pose of a file's bytes; LandmarkFileError when it is not a complete holistic file."""
    from pose_format import Pose

    try:
        pose = Pose.read(data)
    except Exception as exc:  # pose-format raises struct/buffer errors on a cut file
        raise LandmarkFileError(f"unreadable .pose ({len(data)} bytes): {type(exc).__name__}: {exc}") from exc
    names = tuple(c.name for c in pose.header.components)
    if names != COMPONENTS:
        raise LandmarkFileError(f"not a holistic .pose: components {names}")
    return pose


def frame_count(data: bytes) -> int:
    return int(read(data).body.data.shape[0])


def read_points(data: bytes) -> ClipPoints:
    """The landmarks of a .pose file as the feature definitions receive them (image fractions)."""
    pose = read(data)
    width, height = pose.header.dimensions.width, pose.header.dimensions.height
    values = np.ma.getdata(pose.body.data)[:, 0].astype(np.float64)    # (T, points, 3)
    confidence = np.ma.getdata(pose.body.confidence)[:, 0]              # (T, points)
    spans = _component_spans(pose.header)

    def part(name: str) -> Tuple[np.ndarray, np.ndarray]:
        start, stop = spans[name]
        xyz = values[:, start:stop].copy()
        xyz[..., 0] /= width
        xyz[..., 1] /= height
        conf = confidence[:, start:stop]
        present = (conf > 0).any(axis=1) | (values[:, start:stop] != 0).any(axis=(1, 2))
        return xyz.astype(np.float32), conf.astype(np.float32), present

    pose_xyz, pose_visibility, pose_present = part(POSE)
    left, _, left_present = part(LEFT_HAND)
    right, _, right_present = part(RIGHT_HAND)
    face, _, face_present = part(FACE)
    return ClipPoints(
        pose=np.concatenate([pose_xyz, pose_visibility[..., None]], axis=2),
        left_hand=left, right_hand=right, face=face,
        pose_present=pose_present, left_hand_present=left_present, right_hand_present=right_present,
        face_present=face_present, width=int(width), height=int(height), fps=float(pose.body.fps))


def _component_spans(header) -> dict:
    spans, start = {}, 0
    for component in header.components:
        spans[component.name] = (start, start + len(component.points))
        start += len(component.points)
    expected = {POSE: POSE_POINTS, LEFT_HAND: HAND_POINTS, RIGHT_HAND: HAND_POINTS}
    for name, points in expected.items():
        if spans[name][1] - spans[name][0] != points:
            raise LandmarkFileError(f"{name} has {spans[name][1] - spans[name][0]} points, not {points}")
    if spans[FACE][1] - spans[FACE][0] not in (FACE_POINTS, REFINED_FACE_POINTS):
        raise LandmarkFileError(f"{FACE} has {spans[FACE][1] - spans[FACE][0]} points")
    return spans
