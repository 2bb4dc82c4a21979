"""Skeleton previews: a clip's landmarks drawn frame by frame into a small animated GIF.

Pure NumPy, OpenCV drawing and Pillow (which comes with matplotlib) for the GIF;
no Beam, no MediaPipe. Works on frame vectors in the landmark layout
(transforms/features/landmarks.py; a feature version's `drawable` gives its saved
features so), either

  * saved features: torso-normalized (centre ≈ 0, unit ≈ torso size), drawn on
    a dark canvas inside one view box per clip, taken from the data itself, or
  * raw landmarks (x, y in 0…1 of the image) drawn over the video's own frames.

Both keep MediaPipe's image axes: x to the right, y pointing down.

A part that MediaPipe did not detect is one point repeated: zeros in a raw
vector, −centre/scale after a normalization that keeps it (v1 does). Such a part
is not drawn; neither are pose landmarks less visible than MIN_VISIBILITY
(usually the legs, out of shot).
"""
from __future__ import annotations

import dataclasses
import io
from typing import Callable, Sequence

import numpy as np

from transforms.features.landmarks import FACE_START, HAND_POINTS, LEFT_HAND, POSE_DIM, POSE_POINTS, RIGHT_HAND

# mediapipe.solutions.pose.POSE_CONNECTIONS and mediapipe.solutions.hands.HAND_CONNECTIONS
# (mediapipe 0.10.21), sorted; tests/test_report.py checks they still match.
POSE_CONNECTIONS = (
    (0, 1), (0, 4), (1, 2), (2, 3), (3, 7), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (11, 23),
    (12, 14), (12, 24), (13, 15), (14, 16), (15, 17), (15, 19), (15, 21), (16, 18), (16, 20), (16, 22),
    (17, 19), (18, 20), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (27, 31), (28, 30),
    (28, 32), (29, 31), (30, 32),
)
HAND_CONNECTIONS = (
    (0, 1), (0, 5), (0, 17), (1, 2), (2, 3), (3, 4), (5, 6), (5, 9), (6, 7), (7, 8), (9, 10), (9, 13),
    (10, 11), (11, 12), (13, 14), (13, 17), (14, 15), (15, 16), (17, 18), (18, 19), (19, 20),
)

MIN_VISIBILITY = 0.5
_ABSENT_SPREAD = 1e-6

# RGB. The signer's left hand is MediaPipe's left_hand_landmarks (on the image's right
# side when the video is not mirrored).
BACKGROUND = (24, 26, 33)
POSE_COLOUR = (235, 235, 235)
LEFT_HAND_COLOUR = (255, 140, 0)
RIGHT_HAND_COLOUR = (40, 160, 255)
FACE_COLOUR = (80, 220, 120)


@dataclasses.dataclass
class Skeleton:
    """The x, y of every part of every frame, and which of them to draw."""

    pose: np.ndarray          # (T, 33, 2)
    pose_drawn: np.ndarray    # (T, 33) bool: pose detected and landmark visible enough
    left: np.ndarray          # (T, 21, 2)
    left_drawn: np.ndarray    # (T,) bool
    right: np.ndarray         # (T, 21, 2)
    right_drawn: np.ndarray   # (T,) bool
    face: np.ndarray          # (T, F, 2)
    face_drawn: np.ndarray    # (T,) bool

    def __len__(self) -> int:
        return len(self.pose)

    def drawn_points(self) -> np.ndarray:
        """Every x, y that will be drawn, as one (N, 2) array."""
        return np.concatenate([
            self.pose[self.pose_drawn],
            self.left[self.left_drawn].reshape(-1, 2),
            self.right[self.right_drawn].reshape(-1, 2),
            self.face[self.face_drawn].reshape(-1, 2),
        ])


def skeleton(frames: np.ndarray) -> Skeleton:
    """Split (T, D) frame vectors (raw or normalized, landmark layout) into drawable parts."""
    frames = np.asarray(frames, dtype=np.float32)
    pose4 = frames[:, :POSE_DIM].reshape(len(frames), POSE_POINTS, 4)
    left = frames[:, LEFT_HAND].reshape(len(frames), HAND_POINTS, 3)
    right = frames[:, RIGHT_HAND].reshape(len(frames), HAND_POINTS, 3)
    face = frames[:, FACE_START:].reshape(len(frames), -1, 3)
    pose_present = _present(pose4[:, :, :3])
    return Skeleton(
        pose=pose4[:, :, :2],
        pose_drawn=pose_present[:, None] & (pose4[:, :, 3] >= MIN_VISIBILITY),
        left=left[:, :, :2], left_drawn=_present(left),
        right=right[:, :, :2], right_drawn=_present(right),
        face=face[:, :, :2], face_drawn=_present(face),
    )


def _present(points: np.ndarray) -> np.ndarray:
    """(T, N, 3) → (T,): the part was detected, i.e. its points are not all one point."""
    if points.shape[1] == 0:
        return np.zeros(len(points), dtype=bool)
    return np.ptp(points, axis=1).max(axis=1) > _ABSENT_SPREAD


def view_box(points: np.ndarray, margin: float = 0.12):
    """(x0, y0, side) of a square holding the 1st–99th percentile of the points, plus a margin.

    Percentiles, not min/max, so one wild landmark does not shrink the signer.
    Without any point: a box 4 torso units wide around the origin.
    """
    if len(points) == 0:
        return -2.0, -2.0, 4.0
    low = np.percentile(points, 1, axis=0)
    high = np.percentile(points, 99, axis=0)
    side = float(max(high - low)) * (1 + 2 * margin) or 1.0
    centre = (low + high) / 2
    return float(centre[0] - side / 2), float(centre[1] - side / 2), side


def frame_indices(total: int, max_frames: int) -> np.ndarray:
    """At most max_frames indices spread evenly over total frames, first and last included."""
    if total <= 0:
        return np.zeros(0, dtype=int)
    return np.unique(np.linspace(0, total - 1, min(total, max_frames)).round().astype(int))


def skeleton_gif(features: np.ndarray, size: int = 200, max_frames: int = 24, fps: float = 8.0) -> bytes:
    """Animated GIF of saved (torso-normalized) features on a dark square canvas."""
    parts = skeleton(features)
    x0, y0, side = view_box(parts.drawn_points())
    scale = size / side

    def to_px(xy: np.ndarray) -> np.ndarray:
        return np.round((xy - (x0, y0)) * scale).astype(np.int32)

    images = []
    for t in frame_indices(len(parts), max_frames):
        canvas = np.empty((size, size, 3), dtype=np.uint8)
        canvas[:] = BACKGROUND
        draw_frame(canvas, parts, t, to_px)
        images.append(canvas)
    return gif_bytes(images, fps, colours=64)


def overlay_gif(video_frames: Sequence[np.ndarray], raw_frames: np.ndarray, fps: float = 8.0) -> bytes:
    """Animated GIF of raw landmarks (x, y in 0…1) drawn over the matching RGB video frames."""
    parts = skeleton(raw_frames)
    images = []
    for t, image in enumerate(video_frames):
        height, width = image.shape[:2]
        canvas = np.ascontiguousarray(image, dtype=np.uint8).copy()
        draw_frame(canvas, parts, t, lambda xy: np.round(xy * (width, height)).astype(np.int32))
        images.append(canvas)
    return gif_bytes(images, fps, colours=128)


def draw_frame(canvas: np.ndarray, parts: Skeleton, t: int, to_px: Callable[[np.ndarray], np.ndarray]) -> None:
    """Draw frame t of `parts` onto an RGB canvas; to_px maps (N, 2) landmark x, y to pixels."""
    import cv2  # drawing libraries only where a preview is drawn: a report from the cache draws none

    thickness = max(1, canvas.shape[1] // 160)
    if parts.face_drawn[t]:
        for x, y in to_px(parts.face[t]):
            cv2.circle(canvas, (int(x), int(y)), thickness, FACE_COLOUR, -1, cv2.LINE_AA)
    pose = to_px(parts.pose[t])
    drawn = parts.pose_drawn[t]
    for a, b in POSE_CONNECTIONS:
        if drawn[a] and drawn[b]:
            cv2.line(canvas, tuple(map(int, pose[a])), tuple(map(int, pose[b])), POSE_COLOUR, thickness, cv2.LINE_AA)
    for points, present, colour in ((parts.left[t], parts.left_drawn[t], LEFT_HAND_COLOUR),
                                    (parts.right[t], parts.right_drawn[t], RIGHT_HAND_COLOUR)):
        if not present:
            continue
        hand = to_px(points)
        for a, b in HAND_CONNECTIONS:
            cv2.line(canvas, tuple(map(int, hand[a])), tuple(map(int, hand[b])), colour, thickness, cv2.LINE_AA)
        for x, y in hand:
            cv2.circle(canvas, (int(x), int(y)), thickness + 1, colour, -1, cv2.LINE_AA)


def gif_bytes(images: Sequence[np.ndarray], fps: float, colours: int) -> bytes:
    """Looping animated GIF of RGB uint8 images, one palette of `colours` per frame.

    A drawing on a flat background needs few colours; video frames need more.
    Fast octree quantization and no palette optimisation: drawing a report's previews
    takes 40 ms per GIF instead of 90 (with a file a tenth smaller), at the end of every run.
    """
    from PIL import Image

    if not images:
        raise ValueError("a GIF needs at least one frame")
    frames = [Image.fromarray(image).quantize(colors=colours, method=Image.Quantize.FASTOCTREE) for image in images]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:],
                   duration=int(round(1000 / fps)), loop=0, optimize=False)
    return buffer.getvalue()
