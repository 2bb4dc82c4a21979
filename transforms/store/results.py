"""What the pipeline knows about one metadata row once it is done with it, and the work items before that.

Values only move forward: a `ClipResult` is built once, where the row is
settled (the plan, the record it was reused from, or the video's work), and
never changed afterwards; the reports, the record index and the release all
read the same typed value.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, NamedTuple, Optional, Tuple

from transforms.common.moments import Moments
from transforms.common.storage import ObjectInfo
from transforms.features.verdict import FAILED, LOW_QUALITY, NOT_MEASURED, SUCCESS, Measures
from transforms.store.metadata import ClipRow

MISSING = "missing"
STATUSES = (SUCCESS, LOW_QUALITY, FAILED, MISSING)

FILE_NOT_FOUND = "File not found"

# ClipResult.origin: how this run came by the result.
NEW, CHANGED = "new", "changed"      # decoded in this run (no usable record; the video or an option changed)
DECODED = (NEW, CHANGED)
RECOMPUTED = "recomputed"            # computed from its stored landmarks
REUSED = "reused"                    # taken from its record


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


@dataclasses.dataclass(frozen=True)
class ClipResult:
    """The final word on one metadata row (or one video of a sentence table)."""

    row: ClipRow
    status: str
    error: str = ""
    measures: Measures = NOT_MEASURED
    # How this run came by it (NEW, CHANGED, RECOMPUTED, REUSED), "" when no video was looked at.
    origin: str = ""
    # An unexpected error (a network hiccup, say) is not recorded: the next run tries again.
    retryable: bool = False
    seconds: float = 0.0
    # The video's outputs as listed when the run started, and as it then wrote them.
    outputs: Outputs = Outputs()
    # The record that vouches for this result, without its moments (what the record index keeps:
    # transforms/store/record_index.py), and its file's listing entry; None when nothing is recorded.
    record: Optional[dict] = dataclasses.field(default=None, repr=False)
    record_object: Optional[ObjectInfo] = dataclasses.field(default=None, repr=False)
    # A saved clip's contribution to the statistics, when this run computed or read it.
    moments: Optional[Moments] = dataclasses.field(default=None, repr=False)
    # A stored file this run found damaged and healed, and how (transforms/store/reuse.py); "" for none.
    healed: str = ""

    @property
    def video_file(self) -> str:
        return self.row.video_file

    @property
    def feature_stem(self) -> str:
        """Where the row's outputs are saved; "" for a row that names no usable video."""
        return "" if self.row.error else self.row.feature_stem

    @property
    def saved(self) -> bool:
        return self.status == SUCCESS

    @property
    def kept_low(self) -> bool:
        return self.measures.kept_low

    @property
    def frames_decoded(self) -> int:
        return self.measures.frames_decoded

    def without_moments(self) -> "ClipResult":
        return dataclasses.replace(self, moments=None) if self.moments is not None else self

    def __reduce__(self):
        return ClipResult, tuple(getattr(self, f.name) for f in dataclasses.fields(self))  # positional: shorter


def settled(row: ClipRow, status: str, error: str, outputs: Outputs = Outputs(), **values) -> ClipResult:
    """A row settled without a verdict on its video: missing, or rejected before any work."""
    return ClipResult(row=row, status=status, error=error, outputs=outputs, **values)


class Located(NamedTuple):
    """A metadata row and its video, as the job found them (transforms/store/rows.py)."""

    row: ClipRow
    video: Optional[ObjectInfo] = None   # the listing's entry for row.video_file; None: not there
    hint: str = ""                       # for a row whose video is not there: "did you mean …?" or ""


class ToDecode(NamedTuple):
    """A metadata row whose video must be decoded in this run."""

    row: ClipRow
    source: Dict[str, object]            # the video's identity (records.source_identity)
    origin: str                          # NEW (no usable record) or CHANGED
    outputs: Outputs = Outputs()
    healed: str = ""                     # the damaged stored file this decode heals, and why; "" for none


class ToRecompute(NamedTuple):
    """A video whose stored landmarks are still good but whose features must be computed again.

    The .pose is read and checked against `landmarks` (its size and sha256) first; a
    file that is not the one the record vouches for means decoding again.
    """

    row: ClipRow
    source: Dict[str, object]
    landmarks: Dict[str, object]         # the record's "landmarks" section
    outputs: Outputs = Outputs()
    healed: str = ""                     # the damaged stored file this heals, and why; "" for none
    # A record of the previous format (records.UPGRADABLE): the stored .npy is compared with the features
    # recomputed, rewritten (and named healed) only when it differs.
    upgrade: bool = False


class ToVerify(NamedTuple):
    """A clip whose record is current but whose .pose or .npy no longer shows, in the listing, the identity
    the record keeps for it (a copied store, a file rewritten): the file is hashed before it is trusted.
    The same bytes: the record is rewritten with the file's new identity. Other bytes: healed (features
    recomputed from the .pose, or the video decoded again)."""

    row: ClipRow
    source: Dict[str, object]
    record: dict                         # the index's (without moments)
    outputs: Outputs
    pose_listed_as_recorded: bool
    npy_listed_as_recorded: bool


class ToLookUp(NamedTuple):
    """A row whose record the index lacks (or holds an older version of): read it, then decide."""

    row: ClipRow
    source: Dict[str, object]
    outputs: Outputs
