"""What proc/report.html says about the dataset, from the run's typed results.

Per clip the report keeps a handful of numbers (frames, detection ratio,
visibility, motion), which is what the plots and medians need exactly; a
million clips make a few tens of MB, less than the reports step already holds.
The page never loads every array: it previews a bounded sample.

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
    rows, categories, reasons, sentences = (collections.Counter() for _ in range(4))
    values = {(g, m): [] for g in MEASURED for m in METRICS}
    for clip in clips:
        if clip.rejected:
            reasons[(clip.status, reason_label(clip.reason))] += 1
        if clip.listed_twice:
            continue
        rows[clip.status] += 1
        categories[(clip.category, clip.status)] += 1
        if clip.saved:
            sentences[clip.sentence_id] += 1
        if clip.status in MEASURED:
            for metric in METRICS:
                values[(clip.status, metric)].append(getattr(clip, metric))
    by_category: Dict[str, Dict[str, int]] = collections.defaultdict(dict)
    for (category, status), n in categories.items():
        by_category[category][status] = n
    return DatasetStats(
        rows_per_report=dict(rows),
        values={g: {m: np.asarray(values[(g, m)], dtype=np.float64) for m in METRICS} for g in MEASURED},
        categories=dict(by_category),
        reasons=dict(reasons),
        clips_per_sentence=dict(sentences),
    )


@dataclasses.dataclass
class ReportPicks:
    """What the report takes from the rows: the statistics, the rejected clips it lists, the clips it previews."""

    stats: DatasetStats
    problems: List[ReportClip]  # the first MAX_TABLE_ROWS rejected clips (table_key order)
    previews: List[ReportClip]  # the sampled successes, then the first low-quality clips


def picks(clips: List[ReportClip], samples: int, max_previews: int) -> ReportPicks:
    problems = heapq.nsmallest(MAX_TABLE_ROWS, (c for c in clips if c.rejected), key=table_key)
    sampled = heapq.nsmallest(samples, (c for c in clips if c.status == SUCCESS), key=sample_key)
    low = heapq.nsmallest(max_previews, (c for c in clips if c.status == LOW_QUALITY or c.listed_twice),
                          key=table_key)
    return ReportPicks(dataset_stats(clips), problems, sampled + low)


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
