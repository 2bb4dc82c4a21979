"""What the pipeline knows about one metadata row once it is done with it."""
from __future__ import annotations

import dataclasses
from typing import Dict, NamedTuple, Optional

import numpy as np

from transforms.store.metadata import ClipRow
from transforms.common.moments import Moments

SUCCESS = "success"
LOW_QUALITY = "low_quality"
FAILED = "failed"
MISSING = "missing"
STATUSES = (SUCCESS, LOW_QUALITY, FAILED, MISSING)

FILE_NOT_FOUND = "File not found"


@dataclasses.dataclass
class ClipResult:
    status: str
    line: Optional[int]          # the metadata row's (ClipRow.line): None for a video on no line of a sentence table
    video_file: str
    sentence_id: str
    sentence: str
    category: str
    extra: Dict[str, str]
    error: str = ""
    frames_decoded: int = 0
    num_frames: int = 0
    frame_feature_dim: int = 0
    detection_ratio: float = 0.0
    mean_visibility: float = 0.0
    motion_mean: float = 0.0
    motion_p50: float = 0.0
    motion_p95: float = 0.0
    motion_max: float = 0.0
    kept_low: bool = False
    source_fps: float = 0.0      # of the video, as stored in its .pose
    trimmed_start: int = 0       # v2: leading frames with no signer, not kept
    trimmed_end: int = 0         # v2: trailing frames with no signer, not kept
    seconds: float = 0.0
    feature_stem: str = ""
    feature_path: str = ""
    # "new" or "changed" when decoded in this run, "recomputed" when computed from its stored
    # landmarks, "reused" when taken from its record, "" otherwise.
    origin: str = ""
    # An unexpected error (a network hiccup, say) is not recorded: the next run tries again.
    retryable: bool = False
    # The video's identity when it was read (see transforms/store/records.py), for its record.
    source: Optional[Dict[str, object]] = dataclasses.field(default=None, repr=False)
    # The record's "landmarks" section: which .pose file (if any) the result was computed from.
    landmarks: Optional[Dict[str, object]] = dataclasses.field(default=None, repr=False)
    # Carried only from extraction to the feature writer, never into reports.
    features: Optional[np.ndarray] = dataclasses.field(default=None, repr=False)
    moments: Optional[Moments] = dataclasses.field(default=None, repr=False)

    @classmethod
    def for_row(cls, row: ClipRow, status: str, error: str = "", **values) -> "ClipResult":
        return cls(status=status, line=row.line, video_file=row.video_file, sentence_id=row.sentence_id,
                   sentence=row.sentence, category=row.category, extra=dict(row.extra), error=error,
                   feature_stem=row.feature_stem if not row.error else "", **values)

    def slim(self) -> "ClipResult":
        """A copy without the arrays, small enough to gather for the reports."""
        return dataclasses.replace(self, features=None, moments=None)


DECODED = ("new", "changed")
RECOMPUTED = "recomputed"


class ToDecode(NamedTuple):
    """A metadata row whose video must be decoded in this run."""

    row: ClipRow
    source: Optional[Dict[str, object]]  # None: the video does not exist
    origin: str                          # "new" (no usable record) or "changed"


class StoredLandmarks(NamedTuple):
    """A video's published .pose file, from which its features are computed."""

    row: ClipRow
    source: Dict[str, object]
    origin: str                          # "new" or "changed" (decoded just now) or "recomputed"
    pose: bytes                          # the .pose file's bytes
    landmarks: Dict[str, object]         # the record's "landmarks" section for this file
    seconds: float = 0.0                 # spent decoding, when decoded in this run
