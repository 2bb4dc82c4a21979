"""One clip's landmarks as every feature definition receives them: per-part arrays and presence.

Pure NumPy. The landmark store (transforms/landmarks/pose_file.py) reads a
clip's .pose file into a `ClipPoints`; feature definitions (v1.py, v2.py) turn
it into features and never see MediaPipe, a video or a file.

Coordinates are MediaPipe's: x and y as fractions of the image width and
height (0…1 inside the image), z as MediaPipe gives it. A part that was not
detected in a frame is all zeros there and its `*_present` flag is False.
"""
from __future__ import annotations

import dataclasses
from typing import List

import numpy as np

POSE_POINTS = 33
HAND_POINTS = 21
FACE_POINTS = 468  # the first 468 face points; a refined face mesh adds 10 iris points after them

# The frame vector layout: one frame's landmarks as one row, the layout of v1's columns (and of v2's
# first ones) and of the report's skeleton drawings. With face_downsample = 5, 540 values:
#     [0:132)    pose, 33 landmarks × (x, y, z, visibility)
#     [132:195)  left hand, 21 × (x, y, z)
#     [195:258)  right hand, 21 × (x, y, z)
#     [258:540)  face landmarks 0, 5, …, 465 × (x, y, z)
POSE_DIM = POSE_POINTS * 4
HAND_DIM = HAND_POINTS * 3
LEFT_HAND = slice(POSE_DIM, POSE_DIM + HAND_DIM)
RIGHT_HAND = slice(POSE_DIM + HAND_DIM, POSE_DIM + 2 * HAND_DIM)
FACE_START = POSE_DIM + 2 * HAND_DIM


@dataclasses.dataclass
class ClipPoints:
    pose: np.ndarray                # (T, 33, 4) float32: x, y, z, visibility
    left_hand: np.ndarray           # (T, 21, 3) float32
    right_hand: np.ndarray          # (T, 21, 3) float32
    face: np.ndarray                # (T, 468 or 478, 3) float32
    pose_present: np.ndarray        # (T,) bool
    left_hand_present: np.ndarray   # (T,) bool
    right_hand_present: np.ndarray  # (T,) bool
    face_present: np.ndarray        # (T,) bool
    width: int                      # of the frames MediaPipe saw, in pixels
    height: int
    fps: float

    def __len__(self) -> int:
        return len(self.pose)

    @classmethod
    def empty(cls, width: int = 0, height: int = 0, fps: float = 0.0, face_points: int = FACE_POINTS) -> "ClipPoints":
        """A clip with no frame (a video whose first read failed)."""
        none = np.zeros(0, dtype=bool)
        return cls(np.zeros((0, POSE_POINTS, 4), np.float32), np.zeros((0, HAND_POINTS, 3), np.float32),
                   np.zeros((0, HAND_POINTS, 3), np.float32), np.zeros((0, face_points, 3), np.float32),
                   none, none.copy(), none.copy(), none.copy(), width, height, fps)


def face_indices(face_downsample: int) -> np.ndarray:
    """The face points a frame vector keeps: every face_downsample-th of the first 468."""
    return np.arange(0, FACE_POINTS, face_downsample)


def frame_dim(face_downsample: int) -> int:
    return FACE_START + 3 * len(face_indices(face_downsample))


def frame_column_names(face_downsample: int) -> List[str]:
    """Names of the frame vector's columns, e.g. pose_11_x, left_hand_4_z, face_5_y."""
    names = [f"pose_{i}_{axis}" for i in range(POSE_POINTS) for axis in ("x", "y", "z", "visibility")]
    for hand in ("left_hand", "right_hand"):
        names += [f"{hand}_{i}_{axis}" for i in range(HAND_POINTS) for axis in ("x", "y", "z")]
    names += [f"face_{i}_{axis}" for i in face_indices(face_downsample) for axis in ("x", "y", "z")]
    return names


def frame_vectors(points: ClipPoints, face_downsample: int) -> np.ndarray:
    """Every frame of a clip as a frame vector (T, frame_dim) float32; a part not detected is zeros."""
    frames = len(points)
    return np.concatenate([
        points.pose.reshape(frames, POSE_DIM),
        points.left_hand.reshape(frames, HAND_DIM),
        points.right_hand.reshape(frames, HAND_DIM),
        points.face[:, face_indices(face_downsample)].reshape(frames, -1),
    ], axis=1).astype(np.float32)
