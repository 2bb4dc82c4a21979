"""ReportData: what proc/report.html needs, computed by Beam from a finished run's outputs.

Inputs are only the four report CSVs (transforms/reports/run_reports.py documents them) and,
for a bounded sample of clips, their feature arrays: the graph never loads every
array, so it scales to a whole bucket. Per clip it keeps a handful of numbers
(frames, detection ratio, visibility, motion), which is what the plots and
medians need exactly; a million clips make a few tens of MB, less than the main
job already gathers to write the CSVs.

Which clips get a preview, deterministically (the same outputs give the same report):
  * `samples` successful clips, the ones whose name hashes lowest (a stable
    pseudo-random sample spread over the whole dataset);
  * every clip the quality rules rejected, saved (kept_low) or not, up to
    `max_previews`, in video_file order.
"""
from __future__ import annotations

import collections
import csv
import dataclasses
import hashlib
import heapq
import io
import posixpath
import re
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import apache_beam as beam
import numpy as np

from transforms.reports import run_reports as reports
from transforms.reports import preview_cache
from transforms.reports.report_previews import DrawPreview
from transforms.store import storage
from transforms.store.results import FAILED, LOW_QUALITY, MISSING, SUCCESS
from transforms.store.write_features import feature_path

KEPT_LOW = "kept_low"
# Status of a clip in the report; a kept_low clip is saved, so it is not also counted as low_quality.
REPORT_STATUSES = (SUCCESS, KEPT_LOW, LOW_QUALITY, FAILED, MISSING)
# Groups with per-clip measurements (failed and missing clips have none).
MEASURED = (SUCCESS, KEPT_LOW, LOW_QUALITY)
METRICS = ("num_frames", "detection_ratio", "mean_visibility", "motion_mean")
MAX_TABLE_ROWS = 500

_REPORT_OF_STATUS = {SUCCESS: reports.PROCESSED_CSV, LOW_QUALITY: reports.LOW_QUALITY_CSV,
                     FAILED: reports.FAILED_CSV, MISSING: reports.MISSING_CSV}


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

    @property
    def saved(self) -> bool:
        return bool(self.feature_path)

    @property
    def rejected(self) -> bool:
        """The quality rules or the reader turned it down (the report's table and reasons)."""
        return self.status != SUCCESS and not (self.status == KEPT_LOW and not self.listed_twice)


def read_clips(output_dir: str, status: str, text: Optional[str] = None) -> Iterator[ReportClip]:
    """The rows of one report CSV (quoted newlines included): `text` when the job just wrote it,
    else read in one request (2 MB per 10,000 rows)."""
    if text is None:
        text = storage.read_bytes(reports.proc_path(output_dir, _REPORT_OF_STATUS[status])).decode("utf-8")
    for row in csv.DictReader(io.StringIO(text, newline="")):
        yield _clip(output_dir, status, row)


def _clip(output_dir: str, status: str, row: Dict[str, str]) -> ReportClip:
    video_file = row["video_file"]
    common = dict(video_file=video_file, category=row.get("category", ""), sentence_id=row.get("sentence_id", ""),
                  sentence=row.get("sentence", ""))
    if status in (FAILED, MISSING):
        return ReportClip(status=status, reason=row.get("error", ""), **common)
    metrics = {m: float(row[m]) for m in METRICS if row.get(m) not in (None, "")}
    # Derived from output_dir rather than the CSV's feature_path, so a copied or moved output still works.
    saved_at = feature_path(output_dir, posixpath.splitext(video_file)[0])
    if status == SUCCESS:
        kept_low = row.get("quality_flag") == KEPT_LOW
        return ReportClip(status=KEPT_LOW if kept_low else SUCCESS, feature_path=saved_at, **common, **metrics)
    kept = row.get("kept") == "True"
    return ReportClip(status=KEPT_LOW if kept else LOW_QUALITY, reason=row.get("error", ""), listed_twice=kept,
                      feature_path=saved_at if kept else "", **common, **metrics)


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
    """Everything the report says about the dataset as a whole, from the CSVs."""

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


class DatasetStatsFn(beam.CombineFn):
    """Counts and per-clip measurements of every report row, merged across workers."""

    def create_accumulator(self):
        return {"rows": collections.Counter(), "categories": collections.Counter(),
                "reasons": collections.Counter(), "sentences": collections.Counter(),
                "values": {(g, m): [] for g in MEASURED for m in METRICS}}

    def add_input(self, acc, clip: ReportClip):
        if clip.rejected:
            acc["reasons"][(clip.status, reason_label(clip.reason))] += 1
        if clip.listed_twice:
            return acc
        acc["rows"][clip.status] += 1
        acc["categories"][(clip.category, clip.status)] += 1
        if clip.saved:
            acc["sentences"][clip.sentence_id] += 1
        if clip.status in MEASURED:
            for metric in METRICS:
                acc["values"][(clip.status, metric)].append(getattr(clip, metric))
        return acc

    def merge_accumulators(self, accumulators):
        merged = self.create_accumulator()
        for acc in accumulators:
            for key in ("rows", "categories", "reasons", "sentences"):
                merged[key].update(acc[key])
            for key, values in acc["values"].items():
                merged["values"][key].extend(values)
        return merged

    def extract_output(self, acc) -> DatasetStats:
        categories: Dict[str, Dict[str, int]] = collections.defaultdict(dict)
        for (category, status), n in acc["categories"].items():
            categories[category][status] = n
        return DatasetStats(
            rows_per_report=dict(acc["rows"]),
            values={g: {m: np.asarray(acc["values"][(g, m)], dtype=np.float64) for m in METRICS} for g in MEASURED},
            categories=dict(categories),
            reasons=dict(acc["reasons"]),
            clips_per_sentence=dict(acc["sentences"]),
        )


@dataclasses.dataclass
class ReportPicks:
    """What the report takes from the rows: the statistics, the rejected clips it lists, the clips it previews."""

    stats: DatasetStats
    problems: List[ReportClip]  # the first MAX_TABLE_ROWS rejected clips (table_key order)
    previews: List[ReportClip]  # the sampled successes, then the first low-quality clips


class ReportPicksFn(beam.CombineFn):
    """DatasetStatsFn and the report's three bounded picks, in one pass over the report rows.

    One combine rather than four (statistics, the rejected-clip table, the sampled
    successes, the low-quality previews): each combine is a few Beam stages of its own,
    and on the local runner every stage costs tens of milliseconds however few rows it holds.
    """

    def __init__(self, samples: int, max_previews: int):
        self.stats = DatasetStatsFn()
        # (bound, key, which rows) of each pick: the `bound` smallest keys among the rows it takes.
        self.picks: Tuple[Tuple[int, Callable, Callable], ...] = (
            (MAX_TABLE_ROWS, table_key, lambda c: c.rejected),
            (samples, sample_key, lambda c: c.status == SUCCESS),
            (max_previews, table_key, lambda c: c.status == LOW_QUALITY or c.listed_twice),
        )

    def create_accumulator(self):
        return self.stats.create_accumulator(), [[] for _ in self.picks]

    def add_input(self, acc, clip: ReportClip):
        stats, picked = acc
        self.stats.add_input(stats, clip)
        for (bound, key, takes), kept in zip(self.picks, picked):
            if takes(clip):
                kept.append(clip)
                if len(kept) > 2 * bound:  # trim now and then, not on every row
                    kept[:] = heapq.nsmallest(bound, kept, key=key)
        return acc

    def merge_accumulators(self, accumulators):
        accumulators = list(accumulators)
        stats = self.stats.merge_accumulators(a[0] for a in accumulators)
        picked = [heapq.nsmallest(bound, [c for a in accumulators for c in a[1][i]], key=key)
                  for i, (bound, key, _) in enumerate(self.picks)]
        return stats, picked

    def extract_output(self, acc) -> ReportPicks:
        stats, picked = acc
        problems, sampled, low_quality = (heapq.nsmallest(bound, kept, key=key)
                                          for (bound, key, _), kept in zip(self.picks, picked))
        return ReportPicks(self.stats.extract_output(stats), problems, sampled + low_quality)


def sample_key(clip: ReportClip) -> str:
    """A stable pseudo-random order: the same clips are sampled on every rebuild."""
    return hashlib.sha1(clip.video_file.encode("utf-8")).hexdigest()


def table_key(clip: ReportClip) -> Tuple[int, str]:
    return REPORT_STATUSES.index(clip.status), clip.video_file


class ReportData(beam.PTransform):
    """Run summary → {"stats": DatasetStats, "problems": first rejected clips, "previews": a Preview per picked clip}.

    The input holds run_summary.json's content (one dict). Reading starts only
    once it exists, so the transform can start a job of its own or follow the
    main job's WriteReports in the same graph; there the dict also carries the
    CSVs it has just written (run_reports.WRITTEN_CSVS), so they are not read back.
    """

    def __init__(self, output_dir: str, video_dir: Optional[str] = None, overlay: bool = False,
                 samples: int = 4, max_previews: int = 12):
        super().__init__()
        self.output_dir = output_dir
        self.video_dir = video_dir
        self.overlay = overlay
        self.samples = samples
        self.max_previews = max_previews

    def expand(self, summaries):
        output_dir = self.output_dir
        clips = (summaries
                 | "Report CSVs" >> beam.FlatMap(lambda summary: [
                     (status, summary.get(reports.WRITTEN_CSVS, {}).get(name))
                     for status, name in _REPORT_OF_STATUS.items()])
                 # Rows go straight into the combine, which sums them where they are read:
                 # spreading them first would only shuffle every row through one more stage.
                 | "Read rows" >> beam.FlatMapTuple(lambda status, text: read_clips(output_dir, status, text)))
        picks = clips | "Summarize clips" >> beam.CombineGlobally(ReportPicksFn(self.samples, self.max_previews))
        stats = picks | "Statistics" >> beam.Map(lambda p: p.stats)
        problems = picks | "First rejected" >> beam.Map(lambda p: p.problems)
        cached = summaries | "Earlier previews" >> beam.Map(
            lambda summary: preview_cache.read(output_dir) if reports.OUTPUT_VERSIONS in summary else {})
        previews = (picks
                    | "Picked clips" >> beam.FlatMap(lambda p: p.previews)
                    | "Spread previews" >> beam.Reshuffle()
                    | "Draw previews" >> beam.ParDo(DrawPreview(self.output_dir, self.video_dir, self.overlay),
                                                   beam.pvalue.AsSingleton(summaries), beam.pvalue.AsSingleton(cached)))
        _ = (previews
             | "All previews" >> beam.combiners.ToList()
             | "Keep previews" >> beam.Map(_keep_previews, output_dir, beam.pvalue.AsSingleton(cached)))
        return {"stats": stats, "problems": problems, "previews": previews}


def _keep_previews(previews, output_dir: str, cached: Dict[str, dict]) -> None:
    """Rewrite report_previews.json when this report's previews are not the ones it holds."""
    keep = {p.cache_key: {"source": p.source, "gif": p.gif, "frames": p.frames, "frames_shown": p.frames_shown}
            for p in previews if p.cache_key and p.gif is not None}
    if set(keep) != set(cached):
        storage.write_text(reports.proc_path(output_dir, preview_cache.PREVIEWS_JSON), preview_cache.text(keep))


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
