"""A clip's duplicate signature: a 515-byte, low-resolution trajectory of the signer's upper body.

Pure NumPy. Read from the stored landmarks (`ClipPoints`), so no video is decoded.
What it keeps, and why (docs/duplicates.md, §Signature):

* Seven points: the nose, both shoulders, both elbows and both hands. The hand is
  the centroid of MediaPipe's 21 hand points where the hand model saw it (on the
  demo clips 1–2 px apart between a clip and its flipped copy, against 2–4 px for
  the pose's wrist), else the pose's wrist moved by the clip's median wrist-to-centroid
  offset. Face mesh points are left out: the face is lost first when a copy is
  degraded (carphone_distorted: no face in any frame).
* Units: pixels divided by the clip's median shoulder span, about the clip's median
  shoulder midpoint. One transform per clip, so a downscaled, cropped or padded copy
  gives the same numbers while the body's own sway and movement are kept.
* Time: SAMPLES bins spanning the clip's duration (frames / fps), each the mean of
  the frames that fall in it. The duration is kept, so the alignment maps a copy at
  another frame rate or trimmed at its ends onto the original in seconds.
* Reliability per point: the median pose visibility over the frames with a pose
  (for a hand: that of its wrist, or the share of frames its hand was seen, whichever
  is higher). Off-screen arms (carphone: wrists at 0.04–0.12) are guesses that differ
  from copy to copy; the alignment gives them little weight.

A mirrored copy (a front camera, `ffmpeg -vf hflip`) is the same signing with the
other hand. `Signature.mirrored()` gives what the mirrored clip's signature would be:
the left and right points exchange places (mirror.POSE_MIRROR's pairs) and x changes
sign (the centre is the shoulders' midpoint, which the reflection keeps).

Stored form (`to_bytes`, `encode`): little-endian, BYTES in all:
  duration float32 (seconds) | reliability uint8 × POINTS (× 1/255) |
  per channel (point, x/y) its lowest and highest value, float16 × 2 × CHANNELS |
  codes uint8 × SAMPLES × CHANNELS, sample-major: value = low × (1 − code/255) + high × code/255.
Quantizing each channel over its own range costs at most half a code (0.2 % of the
channel's range) plus float16's rounding of the bounds (0.05 % of their size): a few
thousandths of a shoulder span, well under MediaPipe's own noise between two copies
(0.01–0.07). `signature()` returns the stored form decoded, so a signature
compares the same before and after it was stored.
"""
from __future__ import annotations

import base64
import dataclasses
from typing import Optional, Sequence

import numpy as np

from transforms.features import mirror
from transforms.features.landmarks import ClipPoints

# MediaPipe pose indices of the points followed; 15 and 16 (the wrists) stand for the whole hand.
POSE_INDICES = (0, 11, 12, 13, 14, 15, 16)
POINT_NAMES = ("nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_hand", "right_hand")
POINTS = len(POSE_INDICES)
HANDS = {5: "left", 6: "right"}       # point → the ClipPoints hand that replaces the wrist
L_SHOULDER, R_SHOULDER = 11, 12
# Each point's mirror twin, from the pose's own left/right table.
MIRROR = np.array([POSE_INDICES.index(int(mirror.POSE_MIRROR[p])) for p in POSE_INDICES])
# Named in every record that stores a signature (transforms/store/records.py); bumped when what the
# signature keeps, or its stored form, changes, so stored signatures are made again from the .pose.
FORMAT = "ghsl-dup-signature/1"
SAMPLES = 32
CHANNELS = POINTS * 2
BYTES = 4 + POINTS + 4 * CHANNELS + SAMPLES * CHANNELS   # 515
_LEVELS = 255


@dataclasses.dataclass(frozen=True)
class Signature:
    trajectory: np.ndarray   # (SAMPLES, POINTS, 2) float32: x, y in shoulder spans about the shoulders' midpoint
    reliability: np.ndarray  # (POINTS,) float32 in [0, 1]
    duration: float          # seconds: frames / fps

    def mirrored(self) -> "Signature":
        """The signature of the clip flipped left to right (exact: an involution)."""
        flipped = self.trajectory[:, MIRROR] * np.array([-1.0, 1.0], np.float32)
        return Signature(flipped.astype(np.float32), self.reliability[MIRROR].copy(), self.duration)


def signature(points: ClipPoints) -> Optional[Signature]:
    """The clip's signature, as stored (quantized); None when no frame has a pose with two shoulders apart
    (no unit to measure movement in) or the clip has no duration (no frame, or fps 0)."""
    tracks = _tracks(points)
    if tracks is None:
        return None
    xy, seen, reliability = tracks
    duration = len(points) / points.fps if points.fps > 0 else 0.0
    if duration <= 0:
        return None
    return from_bytes(to_bytes(_binned(xy, seen, reliability, duration)))


def from_tracks(xy: np.ndarray, seen: np.ndarray, reliability: np.ndarray, fps: float) -> Signature:
    """The signature of point tracks already in shoulder spans: xy (T, POINTS, 2), seen (T, POINTS).

    What `signature` does after reading the landmarks; the benchmark's synthetic clips enter here.
    """
    return from_bytes(to_bytes(_binned(np.asarray(xy, np.float64), np.asarray(seen, bool),
                                       np.asarray(reliability, np.float32), len(xy) / fps)))


def _tracks(points: ClipPoints):
    """(xy in shoulder spans (T, POINTS, 2), seen (T, POINTS), reliability (POINTS,)), or None."""
    size = np.array([points.width, points.height], np.float64)
    pose = np.asarray(points.pose, np.float64)
    has_pose = np.asarray(points.pose_present, bool)
    if not has_pose.any():
        return None
    pixels = pose[..., :2] * size
    shoulders = pixels[has_pose][:, [L_SHOULDER, R_SHOULDER]]
    span = float(np.median(np.linalg.norm(shoulders[:, 0] - shoulders[:, 1], axis=1)))
    if not np.isfinite(span) or span <= 0:
        return None
    centre = np.median(shoulders.mean(axis=1), axis=0)
    visibility = np.median(pose[has_pose][:, list(POSE_INDICES), 3], axis=0)

    xy = pixels[:, list(POSE_INDICES)].copy()
    seen = np.repeat(has_pose[:, None], POINTS, axis=1)
    reliability = visibility.astype(np.float32)
    for point, hand in HANDS.items():
        hand_seen = np.asarray(getattr(points, f"{hand}_hand_present"), bool)
        centroid = np.asarray(getattr(points, f"{hand}_hand"), np.float64)[..., :2].mean(axis=1) * size
        both = hand_seen & has_pose
        offset = np.median(centroid[both] - xy[both, point], axis=0) if both.any() else np.zeros(2)
        xy[:, point] = np.where(hand_seen[:, None], centroid, xy[:, point] + offset)
        seen[:, point] = hand_seen | has_pose
        reliability[point] = max(reliability[point], hand_seen.mean())
    return (xy - centre) / span, seen, reliability


def _binned(xy: np.ndarray, seen: np.ndarray, reliability: np.ndarray, duration: float) -> Signature:
    """Mean of each point over the frames in each of SAMPLES equal time bins; empty bins interpolated."""
    frames = len(xy)
    bins = np.minimum(((np.arange(frames) + 0.5) / frames * SAMPLES).astype(int), SAMPLES - 1)
    sums = np.zeros((SAMPLES, POINTS, 2))
    counts = np.zeros((SAMPLES, POINTS))
    frame_bins = np.broadcast_to(bins[:, None], seen.shape)
    point_ids = np.broadcast_to(np.arange(POINTS)[None, :], seen.shape)
    np.add.at(sums, (frame_bins[seen], point_ids[seen]), xy[seen])
    np.add.at(counts, (frame_bins[seen], point_ids[seen]), 1)
    trajectory = np.zeros((SAMPLES, POINTS, 2))
    steps = np.arange(SAMPLES)
    reliability = reliability.copy()
    for point in range(POINTS):
        have = counts[:, point] > 0
        if not have.any():
            reliability[point] = 0.0  # never seen: no values to compare
            continue
        means = sums[have, point] / counts[have, point][:, None]
        for axis in range(2):
            trajectory[:, point, axis] = np.interp(steps, steps[have], means[:, axis])
    return Signature(trajectory.astype(np.float32), np.clip(reliability, 0, 1).astype(np.float32), float(duration))


def to_bytes(sig: Signature) -> bytes:
    """The stored form (module docstring): BYTES bytes."""
    values = np.asarray(sig.trajectory, np.float32).reshape(SAMPLES, CHANNELS)
    least, most = values.min(axis=0), values.max(axis=0)
    low, high = _range16(least, most)
    # Codes over the channel's own range, so that 0 and 255 are both used and decode to the bounds: encoding
    # a decoded signature again then gives the same bytes.
    width = most - least
    codes = np.where(width > 0, np.rint((values - least) / np.where(width > 0, width, 1) * _LEVELS), 0)
    return b"".join([
        np.float32(sig.duration).astype("<f4").tobytes(),
        np.rint(np.clip(sig.reliability, 0, 1) * _LEVELS).astype(np.uint8).tobytes(),
        np.stack([low, high], axis=1).astype("<f2").tobytes(),
        np.clip(codes, 0, _LEVELS).astype(np.uint8).tobytes(),
    ])


def from_bytes(data: bytes) -> Signature:
    if len(data) != BYTES:
        raise ValueError(f"a duplicate signature has {BYTES} bytes, not {len(data)}")
    rows = _decode(np.frombuffer(data, np.uint8)[None])
    return Signature(rows.trajectory[0], rows.reliability[0], float(rows.duration[0]))


def encode(sig: Signature) -> str:
    """The stored form as ASCII (standard base64, 688 characters), for a clip's JSON record."""
    return base64.b64encode(to_bytes(sig)).decode("ascii")


def is_encoded(text) -> bool:
    """`text` is a stored signature as `encode` writes it (base64 of BYTES bytes): what a record must hold
    before the audit trusts it (a damaged or edited one is made again from the clip's .pose)."""
    if not isinstance(text, str) or len(text) != _ENCODED_LENGTH:
        return False
    try:
        return len(base64.b64decode(text.encode("ascii"), validate=True)) == BYTES
    except (ValueError, UnicodeEncodeError):
        return False


_ENCODED_LENGTH = 4 * ((BYTES + 2) // 3)   # 688


def decode(text: str) -> Signature:
    return from_bytes(base64.b64decode(text.encode("ascii"), validate=True))


def _range16(low: np.ndarray, high: np.ndarray):
    """float16 bounds that still enclose [low, high] after rounding to float16."""
    low16, high16 = low.astype(np.float16), high.astype(np.float16)
    low16 = np.where(low16.astype(np.float32) > low, np.nextafter(low16, np.float16(-np.inf)), low16)
    high16 = np.where(high16.astype(np.float32) < high, np.nextafter(high16, np.float16(np.inf)), high16)
    return low16.astype(np.float16), high16.astype(np.float16)


@dataclasses.dataclass(frozen=True)
class Signatures:
    """N clips' signatures stacked: what the candidate search and the alignment read, vectorized."""

    trajectory: np.ndarray   # (N, SAMPLES, POINTS, 2) float32
    reliability: np.ndarray  # (N, POINTS) float32
    duration: np.ndarray     # (N,) float64 seconds

    def __len__(self) -> int:
        return len(self.duration)

    def mirrored(self) -> "Signatures":
        flipped = self.trajectory[:, :, MIRROR] * np.array([-1.0, 1.0], np.float32)
        return Signatures(flipped.astype(np.float32), self.reliability[:, MIRROR], self.duration)


def stack(signatures: Sequence[Signature]) -> Signatures:
    if not signatures:
        return Signatures(np.zeros((0, SAMPLES, POINTS, 2), np.float32), np.zeros((0, POINTS), np.float32),
                          np.zeros(0))
    return Signatures(np.stack([s.trajectory for s in signatures]).astype(np.float32),
                      np.stack([s.reliability for s in signatures]).astype(np.float32),
                      np.array([s.duration for s in signatures], np.float64))


def stack_encoded(texts: Sequence[str]) -> Signatures:
    """Signatures of many stored strings (`encode`) at once, as the audit reads them from the clips' records."""
    blobs = [base64.b64decode(t.encode("ascii"), validate=True) for t in texts]
    wrong = [i for i, blob in enumerate(blobs) if len(blob) != BYTES]
    if wrong:
        raise ValueError(f"a duplicate signature has {BYTES} bytes; entries {wrong[:5]} do not")
    return _decode(np.frombuffer(b"".join(blobs), np.uint8).reshape(len(blobs), BYTES))


def _decode(rows: np.ndarray) -> Signatures:
    """The signatures of stored forms stacked as (N, BYTES) uint8."""
    duration = rows[:, :4].copy().view("<f4")[:, 0].astype(np.float64)
    reliability = rows[:, 4:4 + POINTS].astype(np.float32) / _LEVELS
    start = 4 + POINTS
    bounds = rows[:, start:start + 4 * CHANNELS].copy().view("<f2").reshape(-1, CHANNELS, 2).astype(np.float32)
    share = rows[:, start + 4 * CHANNELS:].reshape(-1, SAMPLES, CHANNELS).astype(np.float32) / _LEVELS
    values = bounds[:, None, :, 0] * (1 - share) + bounds[:, None, :, 1] * share
    return Signatures(values.reshape(-1, SAMPLES, POINTS, 2), reliability, duration)
