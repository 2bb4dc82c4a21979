"""Mirror a clip's landmarks left to right, as if the video had been flipped horizontally.

Pure NumPy. Reflecting x alone gives a body no camera ever saw: the signer's
left shoulder would still be called "left" while it now sits where a right
shoulder sits. A true mirror image also exchanges every left/right pair: the
two hands, the pose's left and right points, and each face mesh point with the
point on the other side of the face (docs/features-v2.md, §Canonical hand).

x and y are MediaPipe's image fractions, so the reflection is x → 1 − x. After
v2's torso normalization that is a reflection about the torso centre, because
the centre is reflected with the points and the scale (a length) does not change.
z (depth) and the pose visibilities are unchanged by a left-right reflection.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from transforms.features.landmarks import FACE_POINTS, POSE_POINTS, ClipPoints

# MediaPipe's pose landmarks: 0 the nose; 1–3 the left eye (inner, centre, outer) and
# 4–6 the right eye; from 7 to 32 each odd point is a left one and the next even
# point its right twin (ears, mouth corners, shoulders, elbows, wrists, pinkies,
# index fingers, thumbs, hips, knees, ankles, heels, foot indices).
POSE_MIRROR = np.array([0, 4, 5, 6, 1, 2, 3] + [p for left in range(7, POSE_POINTS, 2) for p in (left + 1, left)])

# Each face mesh point's mirror point: FACE_MIRROR[i] is the point on the other side of
# the face from point i, and a point on the face's midline is its own mirror (28 of
# them: 0, 1, 2, 4, … 152 the chin, … 200). 478 entries: the 468 points of the mesh and
# the 10 iris points (468–477) that refine_face_landmarks adds.
#
# Source: MediaPipe's face model with irises, mediapipe/modules/face_geometry/data/
# face_model_with_iris.obj in google-ai-edge/mediapipe (Apache-2.0; its first 468
# vertices are canonical_face_model.obj's), whose vertex i is face landmark i and which
# is symmetric about x = 0. Derived once: for each vertex v_i, the index of the vertex
# nearest to (−x_i, y_i, z_i). Every reflected vertex lands within 1.5e-6 of its match
# (the file's rounding) and at least 0.056 from any other vertex (model units are
# centimetres), so the table is unambiguous. Only this derived table is kept here.
# tests/test_sign_aware_features.py checks that it is an involution and that it maps
# MediaPipe's FACEMESH_LEFT_EYE onto FACEMESH_RIGHT_EYE, the left eyebrow and iris onto
# the right ones, and the lips, face oval, nose and contours onto themselves.
FACE_MIRROR = np.array([
    0, 1, 2, 248, 4, 5, 6, 249, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 250, 251, 252, 253, 254, 255, 256,
    257, 258, 259, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 270, 271, 272, 273, 274, 275, 276, 277,
    278, 279, 280, 281, 282, 283, 284, 285, 286, 287, 288, 289, 290, 291, 292, 293, 294, 295, 296, 297, 298,
    299, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319,
    320, 321, 322, 323, 94, 324, 325, 326, 327, 328, 329, 330, 331, 332, 333, 334, 335, 336, 337, 338, 339, 340,
    341, 342, 343, 344, 345, 346, 347, 348, 349, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 360, 361,
    362, 363, 364, 365, 366, 367, 368, 369, 370, 371, 372, 373, 374, 375, 376, 377, 378, 379, 151, 152, 380,
    381, 382, 383, 384, 385, 386, 387, 388, 389, 390, 164, 391, 392, 393, 168, 394, 395, 396, 397, 398, 399,
    175, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 195,
    419, 197, 420, 199, 200, 421, 422, 423, 424, 425, 426, 427, 428, 429, 430, 431, 432, 433, 434, 435, 436,
    437, 438, 439, 440, 441, 442, 443, 444, 445, 446, 447, 448, 449, 450, 451, 452, 453, 454, 455, 456, 457,
    458, 459, 460, 461, 462, 463, 464, 465, 466, 467, 3, 7, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
    33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
    60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86,
    87, 88, 89, 90, 91, 92, 93, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132,
    133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 153, 154, 155,
    156, 157, 158, 159, 160, 161, 162, 163, 165, 166, 167, 169, 170, 171, 172, 173, 174, 176, 177, 178, 179,
    180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194, 196, 198, 201, 202, 203, 204,
    205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225,
    226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246,
    247, 473, 476, 475, 474, 477, 468, 471, 470, 469, 472
])


def swap_sides(points: ClipPoints) -> ClipPoints:
    """The clip with every left/right label exchanged and no coordinate changed: an exact involution.

    The hands exchange their arrays and presence flags, each pose point takes its
    twin's values, each face point its mirror point's (the full mesh, 468 or 478
    points, before any downsampling, so every kept face column holds the point
    that mirrors it). Only indices move, so swapping twice gives back the clip
    bit for bit. Followed by reflecting x it is the mirror image (mirror_points);
    v2 reflects after normalization instead, where it is an exact negation.
    """
    face_points = np.asarray(points.face).shape[1]
    if face_points not in (FACE_POINTS, len(FACE_MIRROR)):
        raise ValueError(f"a face mesh has {FACE_POINTS} or {len(FACE_MIRROR)} points, not {face_points}")
    return dataclasses.replace(
        points, pose=np.asarray(points.pose)[:, POSE_MIRROR],
        face=np.asarray(points.face)[:, FACE_MIRROR[:face_points]],
        left_hand=np.array(points.right_hand, copy=True), right_hand=np.array(points.left_hand, copy=True),
        pose_present=np.array(points.pose_present, copy=True), face_present=np.array(points.face_present, copy=True),
        left_hand_present=np.array(points.right_hand_present, copy=True),
        right_hand_present=np.array(points.left_hand_present, copy=True))


def mirror_points(points: ClipPoints) -> ClipPoints:
    """The clip as a horizontally flipped video would give it (up to MediaPipe's own noise).

    swap_sides, then x → 1 − x wherever a part was seen; an absent part stays all
    zeros (x = 0 there means "not seen", not a position). In float32, 1 − x
    rounds when x < 0.5, so mirroring twice gives back x to within one rounding
    step (6e-8 of the frame width) and every other value bit for bit.
    """
    swapped = swap_sides(points)

    def reflect(xyz: np.ndarray, present: np.ndarray) -> np.ndarray:
        out = np.array(xyz, dtype=np.float32, copy=True)
        out[..., 0] = np.where(present[:, None], np.float32(1.0) - out[..., 0], out[..., 0])
        return out

    return dataclasses.replace(
        swapped, pose=reflect(swapped.pose, swapped.pose_present), face=reflect(swapped.face, swapped.face_present),
        left_hand=reflect(swapped.left_hand, swapped.left_hand_present),
        right_hand=reflect(swapped.right_hand, swapped.right_hand_present))
