"""What proc/report.html says about the dataset, from the run's typed results.

Per measured clip the report keeps a handful of numbers (frames, detection
ratio, visibility, motion), which is what the plots and medians need exactly;
failed and missing clips only count. In the job these are tallied by a
CombineFn (PageTally, merged per bundle), so no step holds every row; a million
clips make a few tens of MB. The page never loads every array: it previews a
bounded sample.

Which clips get a preview, deterministically (the same outputs give the same report):
  * `samples` successful clips, the ones whose name hashes lowest (a stable
    pseudo-random sample spread over the whole dataset);
  * every clip the quality rules rejected, saved (kept_low) or not, up to
    `max_previews`, in video_file order.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import heapq
import re
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from transforms.reports.run_reports import KEPT_LOW
from transforms.store.paths import feature_path
from transforms.store.results import FAILED, LOW_QUALITY, MISSING, SUCCESS, ClipResult

# Status of a clip in the report; a kept_low clip is saved, so it is not also counted as low_quality.
REPORT_STATUSES = (SUCCESS, KEPT_LOW, LOW_QUALITY, FAILED, MISSING)
# Groups with per-clip measurements (failed and missing clips have none).
MEASURED = (SUCCESS, KEPT_LOW, LOW_QUALITY)
METRICS = ("num_frames", "detection_ratio", "mean_visibility", "motion_mean")
MAX_TABLE_ROWS = 500


@dataclasses.dataclass(frozen=True)
class ReportClip:
    """One row of one report CSV, as the report sees it."""

    video_file: str
    status: str                 # one of REPORT_STATUSES
    category: str
    sentence_id: str
    sentence: str
    reason: str = ""
    listed_twice: bool = False  # the low_quality_videos.csv row of a kept_low clip (counted once, as kept_low)
    feature_path: str = ""      # set when the clip's array was saved
    num_frames: Optional[float] = None
    detection_ratio: Optional[float] = None
    mean_visibility: Optional[float] = None
    motion_mean: Optional[float] = None
    # Listing versions of the files a preview is drawn from (transforms/reports/preview_cache.py); None: unknown.
    features_version: Optional[str] = None
    landmarks_version: Optional[str] = None

    @property
    def saved(self) -> bool:
        return bool(self.feature_path)

    @property
    def rejected(self) -> bool:
        """The quality rules or the reader turned it down (the report's table and reasons)."""
        return self.status != SUCCESS and not (self.status == KEPT_LOW and not self.listed_twice)


def report_clips(results: Iterable[ClipResult], output_dir: str) -> List[ReportClip]:
    """The report's rows: one per result, and a second one for a kept_low clip (its low-quality row)."""
    clips = []
    for r in results:
        common = dict(video_file=r.video_file, category=r.row.category, sentence_id=r.row.sentence_id,
                      sentence=r.row.sentence)
        if r.status in (FAILED, MISSING):
            clips.append(ReportClip(status=r.status, reason=r.error, **common))
            continue
        measured = {m: float(getattr(r.measures, m)) for m in METRICS}
        versions = dict(features_version=r.outputs.npy.version if r.outputs.npy else None,
                        landmarks_version=r.outputs.pose.version if r.outputs.pose else None)
        # Derived from output_dir, so a copied or moved output still works.
        saved_at = feature_path(output_dir, r.feature_stem)
        if r.status == SUCCESS:
            status = KEPT_LOW if r.kept_low else SUCCESS
            clips.append(ReportClip(status=status, feature_path=saved_at, **common, **measured, **versions))
            if r.kept_low:
                clips.append(ReportClip(status=KEPT_LOW, reason=r.error, listed_twice=True, feature_path=saved_at,
                                        **common, **measured, **versions))
        else:
            clips.append(ReportClip(status=LOW_QUALITY, reason=r.error, **common, **measured, **versions))
    return clips


_NUMBER = re.compile(r"\d+")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def reason_label(reason: str) -> str:
    """A reason with its clip-specific details removed, so equal causes count together.

    "OpenCV could not open the file as a video (12 bytes): not a video…" →
    "OpenCV could not open the file as a video"; "duplicate of line 7: …" → "duplicate of line N".
    """
    label = _QUOTED.sub("…", _NUMBER.sub("N", reason or "no reason given"))
    label = re.split(r": | \(", label, maxsplit=1)[0].strip()
    return label if len(label) <= 60 else label[:59] + "…"


@dataclasses.dataclass
class DatasetStats:
    """Everything the report says about the dataset as a whole."""

    rows_per_report: Dict[str, int]                  # rows of each CSV, by status (the run_summary counts)
    values: Dict[str, Dict[str, np.ndarray]]         # MEASURED group → metric → one value per clip
    categories: Dict[str, Dict[str, int]]            # category → report status → clips
    reasons: Dict[Tuple[str, str], int]              # (status, reason_label) → clips
    clips_per_sentence: Dict[str, int]               # sentence_id → saved clips

    def counts(self) -> Dict[str, int]:
        """Counts per status in run_summary.json's terms (success includes kept_low)."""
        rows = self.rows_per_report
        return {SUCCESS: rows.get(SUCCESS, 0) + rows.get(KEPT_LOW, 0), KEPT_LOW: rows.get(KEPT_LOW, 0),
                LOW_QUALITY: rows.get(LOW_QUALITY, 0), FAILED: rows.get(FAILED, 0), MISSING: rows.get(MISSING, 0)}

    def saved(self, metric: str) -> np.ndarray:
        """One value per saved clip (success and kept_low)."""
        return np.concatenate([self.values[SUCCESS][metric], self.values[KEPT_LOW][metric]])


def dataset_stats(clips: Iterable[ReportClip]) -> DatasetStats:
    tally = PageTally(0, 0)
    for position, clip in enumerate(clips):
        tally.add(clip, position)
    return tally.stats()


@dataclasses.dataclass
class ReportPicks:
    """What the report takes from the rows: the statistics, the rejected clips it lists, the clips it previews."""

    stats: DatasetStats
    problems: List[ReportClip]  # the first MAX_TABLE_ROWS rejected clips (table_key order)
    previews: List[ReportClip]  # the sampled successes, then the first low-quality clips


def picks(clips: Iterable[ReportClip], samples: int, max_previews: int) -> ReportPicks:
    tally = PageTally(samples, max_previews)
    for position, clip in enumerate(clips):
        tally.add(clip, position)
    return tally.picks()


class PageTally:
    """ReportPicks gathered a clip at a time, and mergeable: the job's CombineFn (write_reports.PagePicksFn)
    holds one per bundle, so the page never needs every row in one place. It keeps the counters, the
    measured clips' four numbers (what the plots and medians need exactly), and only the few clips
    that can still be among those the page lists or previews. `position` is the clip's place in report
    order: it breaks ties as the list order did, so any bundle split picks the same clips."""

    def __init__(self, samples: int, max_previews: int):
        self.samples, self.max_previews = samples, max_previews
        self.rows: collections.Counter = collections.Counter()
        self.categories: collections.Counter = collections.Counter()
        self.reasons: collections.Counter = collections.Counter()
        self.sentences: collections.Counter = collections.Counter()
        # status → (position, the METRICS' values) of each measured clip; a clip's values stay together
        # (the plots pair them) and in report order (the order they are drawn in).
        self.measured: Dict[str, List[tuple]] = {g: [] for g in MEASURED}
        # (sort key, clip) candidates, trimmed to their limit whenever they grow to twice it.
        self.problems: List[tuple] = []
        self.sampled: List[tuple] = []
        self.low: List[tuple] = []

    def add(self, clip: ReportClip, position) -> None:
        if clip.rejected:
            self.reasons[(clip.status, reason_label(clip.reason))] += 1
            self._keep("problems", (table_key(clip), position), clip, MAX_TABLE_ROWS)
        if clip.status == SUCCESS:
            self._keep("sampled", (sample_key(clip), position), clip, self.samples)
        if clip.status == LOW_QUALITY or clip.listed_twice:
            self._keep("low", (table_key(clip), position), clip, self.max_previews)
        if clip.listed_twice:
            return
        self.rows[clip.status] += 1
        self.categories[(clip.category, clip.status)] += 1
        if clip.saved:
            self.sentences[clip.sentence_id] += 1
        if clip.status in MEASURED:
            self.measured[clip.status].append((position, tuple(getattr(clip, metric) for metric in METRICS)))

    def _keep(self, name: str, key, clip: ReportClip, limit: int) -> None:
        kept = getattr(self, name)
        kept.append((key, clip))
        if len(kept) >= 2 * limit:
            setattr(self, name, heapq.nsmallest(limit, kept, key=_first))

    def merge(self, other: "PageTally") -> "PageTally":
        for name in ("rows", "categories", "reasons", "sentences"):
            getattr(self, name).update(getattr(other, name))
        for status, more in other.measured.items():
            self.measured[status].extend(more)
        for name, limit in (("problems", MAX_TABLE_ROWS), ("sampled", self.samples), ("low", self.max_previews)):
            setattr(self, name, heapq.nsmallest(limit, getattr(self, name) + getattr(other, name), key=_first))
        return self

    def stats(self) -> DatasetStats:
        by_category: Dict[str, Dict[str, int]] = collections.defaultdict(dict)
        for (category, status), n in sorted(self.categories.items()):
            by_category[category][status] = n
        values = {}
        for status, measured in self.measured.items():
            table = np.asarray([v for _, v in sorted(measured, key=_first)], dtype=np.float64).reshape(-1, len(METRICS))
            values[status] = {metric: np.ascontiguousarray(table[:, i]) for i, metric in enumerate(METRICS)}
        return DatasetStats(
            rows_per_report=dict(sorted(self.rows.items())),
            values=values,
            categories=dict(by_category),
            reasons=dict(sorted(self.reasons.items())),
            clips_per_sentence=dict(sorted(self.sentences.items())),
        )

    def picks(self) -> ReportPicks:
        def first(name, limit):
            return [clip for _, clip in heapq.nsmallest(limit, getattr(self, name), key=_first)]

        return ReportPicks(self.stats(), first("problems", MAX_TABLE_ROWS),
                           first("sampled", self.samples) + first("low", self.max_previews))


def _first(item):
    return item[0]


def sample_key(clip: ReportClip) -> str:
    """A stable pseudo-random order: the same clips are sampled on every rebuild."""
    return hashlib.sha1(clip.video_file.encode("utf-8")).hexdigest()


def table_key(clip: ReportClip) -> Tuple[int, str]:
    return REPORT_STATUSES.index(clip.status), clip.video_file


def dataset_numbers(stats: DatasetStats) -> Dict[str, Optional[float]]:
    """The report's headline numbers that come from the CSVs (run_summary.json gives the rest).

    Over saved clips (success, kept_low included); medians and the 95th
    percentile as NumPy computes them (linear interpolation). None without clips.
    """
    frames = stats.saved("num_frames")
    motion = stats.saved("motion_mean")
    per_sentence = np.asarray(list(stats.clips_per_sentence.values()), dtype=np.float64)

    def stat(fn, values):
        return float(fn(values)) if len(values) else None

    return {
        "frames_mean": stat(np.mean, frames),
        "frames_median": stat(np.median, frames),
        "frames_min": stat(np.min, frames),
        "frames_max": stat(np.max, frames),
        "detection_ratio_median": stat(np.median, stats.saved("detection_ratio")),
        "visibility_median": stat(np.median, stats.saved("mean_visibility")),
        "motion_median": stat(np.median, motion),
        "motion_p95": stat(lambda v: np.percentile(v, 95), motion),
        "unique_sentences": len(per_sentence),
        "clips_per_sentence_mean": stat(np.mean, per_sentence),
        "clips_per_sentence_min": stat(np.min, per_sentence),
        "clips_per_sentence_max": stat(np.max, per_sentence),
        "categories": len(stats.categories),
    }
