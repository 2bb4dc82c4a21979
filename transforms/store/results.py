"""What the pipeline knows about one metadata row once it is done with it."""
from __future__ import annotations

import dataclasses
from typing import Dict, NamedTuple, Optional, Tuple

import numpy as np

from transforms.common.moments import Moments
from transforms.store.metadata import ClipRow
from transforms.store.storage import ObjectInfo

SUCCESS = "success"
LOW_QUALITY = "low_quality"
FAILED = "failed"
MISSING = "missing"
STATUSES = (SUCCESS, LOW_QUALITY, FAILED, MISSING)

FILE_NOT_FOUND = "File not found"


class Outputs(NamedTuple):
    """A video's published outputs as the run's listings found them (None: not there).

    Carried with the video through the stages: a write whose bytes are already
    there is skipped, an old .npy is deleted only when there is one, and the
    outputs of a video that ends missing or failed transiently are listed as orphans.
    """

    pose: Optional[ObjectInfo] = None      # OUT/landmarks/<stem>.pose
    npy: Optional[ObjectInfo] = None       # OUT/features/pose_data/<stem>.npy
    record: Optional[ObjectInfo] = None    # OUT/features/records/<stem>.json

    def kinds(self) -> Tuple[str, ...]:
        """The kinds present, named as proc/orphaned_outputs.csv names them."""
        return tuple(kind for kind, info in (("landmarks", self.pose), ("features", self.npy),
                                             ("record", self.record)) if info is not None)


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
    # The video's outputs as listed when the run started (and as it then wrote them).
    outputs: Outputs = dataclasses.field(default=Outputs(), repr=False)
    # Its record without moments, when this run wrote or read it, and the record file's listing
    # entry: what the record index keeps (transforms/store/record_index.py). A result reused from
    # the index has only record_object.
    record: Optional[dict] = dataclasses.field(default=None, repr=False)
    record_object: Optional[ObjectInfo] = dataclasses.field(default=None, repr=False)
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
    source: Dict[str, object]            # the video's identity (records.source_identity)
    origin: str                          # "new" (no usable record) or "changed"
    outputs: Outputs = Outputs()


class ToRecompute(NamedTuple):
    """A video whose stored landmarks are still good but whose features must be computed again.

    The .pose is read and checked against `landmarks` (its sha256) by the landmark
    stage; a file that is not the one the record vouches for means decoding again.
    """

    row: ClipRow
    source: Dict[str, object]
    landmarks: Dict[str, object]         # the record's "landmarks" section
    outputs: Outputs = Outputs()


class ToLookUp(NamedTuple):
    """A row whose record the index lacks (or holds an older version of): read it, then decide."""

    row: ClipRow
    source: Dict[str, object]
    outputs: Outputs


class StoredLandmarks(NamedTuple):
    """A video's published .pose file, from which its features are computed."""

    row: ClipRow
    source: Dict[str, object]
    origin: str                          # "new" or "changed" (decoded just now) or "recomputed"
    pose: bytes                          # the .pose file's bytes
    landmarks: Dict[str, object]         # the record's "landmarks" section for this file
    seconds: float = 0.0                 # spent decoding, when decoded in this run
    outputs: Outputs = Outputs()
