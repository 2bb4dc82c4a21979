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

import numpy as np

POSE_POINTS = 33
HAND_POINTS = 21
FACE_POINTS = 468  # the first 468 face points; a refined face mesh adds 10 iris points after them


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
