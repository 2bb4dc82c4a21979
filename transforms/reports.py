"""The run's reports: four CSVs, global_stats.npz and run_summary.json under OUT/proc/.

Files (all written, header included, even when empty; rows in metadata order):
  processed_metadata.csv   one row per saved clip (status success)
  low_quality_videos.csv   clips the quality rules rejected (kept=True: saved anyway)
  failed_videos.csv        rows that could not be processed, with the error
  missing_videos.csv       rows whose video file does not exist
  global_stats.npz         feature_mean, feature_std (float32, D), seq_lengths (int32),
                           motion_means (float32) in processed_metadata.csv order,
                           frame_count, video_count
  run_summary.json         counts per status, frames, wall seconds, configuration, versions
"""
from __future__ import annotations

import csv
import io
import json
import time
from importlib import metadata as importlib_metadata
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
import numpy as np

from transforms import stats, storage
from transforms.features import FEATURE_VERSION
from transforms.results import FAILED, LOW_QUALITY, MISSING, STATUSES, SUCCESS, ClipResult

PROC_SUBDIR = "proc"
PROCESSED_CSV = "processed_metadata.csv"
LOW_QUALITY_CSV = "low_quality_videos.csv"
FAILED_CSV = "failed_videos.csv"
MISSING_CSV = "missing_videos.csv"
STATS_NPZ = "global_stats.npz"
SUMMARY_JSON = "run_summary.json"

METRIC_COLUMNS = ("detection_ratio", "mean_visibility", "motion_mean", "motion_p50", "motion_p95", "motion_max")
PROCESSED_COLUMNS = ("video_file", "feature_path", "num_frames", "frame_feature_dim", *METRIC_COLUMNS,
                     "sentence_id", "sentence", "category", "quality_flag")
LOW_QUALITY_COLUMNS = ("video_file", "num_frames", *METRIC_COLUMNS, "kept",
                       "sentence_id", "sentence", "category", "error")
PROBLEM_COLUMNS = ("video_file", "error", "sentence_id", "sentence", "category", "line")

REPORT_FILES = {SUCCESS: PROCESSED_CSV, LOW_QUALITY: LOW_QUALITY_CSV, FAILED: FAILED_CSV, MISSING: MISSING_CSV}


def proc_path(output_dir: str, name: str) -> str:
    return storage.join(output_dir, PROC_SUBDIR, name)


def processed_row(r: ClipResult) -> Dict[str, object]:
    row = {c: getattr(r, c) for c in PROCESSED_COLUMNS if hasattr(r, c)}
    row["quality_flag"] = "kept_low" if r.kept_low else ""
    row.update(r.extra)
    return row


def low_quality_row(r: ClipResult) -> Dict[str, object]:
    row = {c: getattr(r, c) for c in LOW_QUALITY_COLUMNS if hasattr(r, c)}
    row["kept"] = r.kept_low
    return row


def problem_row(r: ClipResult) -> Dict[str, object]:
    return {c: getattr(r, c) for c in PROBLEM_COLUMNS}


def csv_text(columns: Sequence[str], rows: Iterable[Dict[str, object]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def stats_npz(moments: Optional[stats.Moments], processed: List[ClipResult], dim: int) -> bytes:
    mean, std = stats.mean_std(moments, dim)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        feature_mean=mean,
        feature_std=std,
        seq_lengths=np.array([r.num_frames for r in processed], dtype=np.int32),
        motion_means=np.array([r.motion_mean for r in processed], dtype=np.float32),
        frame_count=np.int64(moments.count if moments else 0),
        video_count=np.int64(len(processed)),
    )
    return buffer.getvalue()


def versions() -> Dict[str, str]:
    """Versions where the reports are written, i.e. on a worker, which is what made the features."""
    found = {"feature_definition": FEATURE_VERSION}
    for key, dist in (("pipeline", "ghsl-preprocessing"), ("apache_beam", "apache-beam"),
                      ("mediapipe", "mediapipe"), ("opencv", "opencv-python-headless"), ("numpy", "numpy")):
        try:
            found[key] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            found[key] = "not installed"
    return found


def summary(by_status: Dict[str, List[ClipResult]], moments: Optional[stats.Moments],
            config: Dict[str, object], started_at: float) -> Dict[str, object]:
    everything = [r for rs in by_status.values() for r in rs]
    kept_low = sum(1 for r in by_status[SUCCESS] if r.kept_low)
    return {
        "rows": len(everything) - kept_low,  # a kept_low clip is in two reports but is one row
        "counts": {
            SUCCESS: len(by_status[SUCCESS]),
            "kept_low": kept_low,
            LOW_QUALITY: len(by_status[LOW_QUALITY]) - kept_low,
            FAILED: len(by_status[FAILED]),
            MISSING: len(by_status[MISSING]),
        },
        "frames_decoded": sum(r.frames_decoded for s, rs in by_status.items() for r in rs
                              if not (s == LOW_QUALITY and r.kept_low)),
        "frames_saved": moments.count if moments else 0,
        "wall_seconds": round(time.time() - started_at, 3),
        "config": config,
        "versions": versions(),
    }


class WriteReports(beam.PTransform):
    """Gathers every result (without arrays) and writes the files listed in the module docstring."""

    def __init__(self, output_dir: str, extra_columns: Sequence[str], config: Dict[str, object],
                 feature_dim: int, started_at: float):
        super().__init__()
        self.output_dir = output_dir
        self.extra_columns = list(extra_columns)
        self.config = config
        self.feature_dim = feature_dim
        self.started_at = started_at

    def expand(self, results: Dict[str, beam.PCollection]):
        moments = (results[SUCCESS]
                   | "Clip moments" >> beam.Map(lambda r: r.moments)
                   | "Sum moments" >> beam.CombineGlobally(stats.GlobalMomentsFn()))
        tagged = [results[s] | f"Tag {s}" >> beam.Map(lambda r, s=s: (s, r.slim())) for s in STATUSES]
        return (tagged
                | "All results" >> beam.Flatten()
                | "Gather" >> beam.combiners.ToList()
                | "Write files" >> beam.Map(self._write, beam.pvalue.AsSingleton(moments)))

    def _write(self, tagged: List[Tuple[str, ClipResult]], moments: Optional[stats.Moments]) -> Dict[str, object]:
        by_status: Dict[str, List[ClipResult]] = {s: [] for s in STATUSES}
        for status, result in tagged:
            by_status[status].append(result)
        for rows in by_status.values():
            rows.sort(key=lambda r: r.line)

        processed = by_status[SUCCESS]
        files = {
            PROCESSED_CSV: csv_text(PROCESSED_COLUMNS + tuple(self.extra_columns), map(processed_row, processed)),
            LOW_QUALITY_CSV: csv_text(LOW_QUALITY_COLUMNS, map(low_quality_row, by_status[LOW_QUALITY])),
            FAILED_CSV: csv_text(PROBLEM_COLUMNS, map(problem_row, by_status[FAILED])),
            MISSING_CSV: csv_text(PROBLEM_COLUMNS, map(problem_row, by_status[MISSING])),
        }
        for name, text in files.items():
            storage.write_text(proc_path(self.output_dir, name), text)
        storage.write_bytes(proc_path(self.output_dir, STATS_NPZ), stats_npz(moments, processed, self.feature_dim))
        # Written last: its presence means every other output of the run is complete.
        result = summary(by_status, moments, self.config, self.started_at)
        storage.write_text(proc_path(self.output_dir, SUMMARY_JSON), json.dumps(result, indent=2) + "\n")
        return result
