"""The run's reports: four CSVs, global_stats.npz and run_summary.json under OUT/proc/.

Files (all written, header included, even when empty; rows in metadata order, see report_order):
  processed_metadata.csv   one row per saved clip (status success); v2 adds source_fps,
                           trimmed_start, trimmed_end
  low_quality_videos.csv   clips the quality rules rejected (kept=True: saved anyway)
  failed_videos.csv        rows that could not be processed, with the error
  missing_videos.csv       rows whose video file does not exist
  orphaned_outputs.csv     outputs of videos no longer in the metadata (transforms/store/orphans.py)
  global_stats.npz         feature_mean, feature_std (float32, D), seq_lengths (int32),
                           motion_means (float32) in processed_metadata.csv order,
                           frame_count, video_count; for v2 also present_count (frames each
                           column was seen in, over which its mean/std are taken),
                           presence_parts and presence_rate
  feature_schema.json      the name of every column of the saved arrays, the version, its options
  run_summary.json         counts per status; videos and frames decoded, changed, recomputed from
                           stored landmarks and reused;
                           wall seconds, configuration, versions
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
from importlib import metadata as importlib_metadata
from typing import Dict, Iterable, List, Optional, Sequence

import apache_beam as beam
import numpy as np

from transforms.common import handoff
from transforms.common import moments as stats

from transforms.store import storage
from transforms.features import definitions, v2
from transforms.store.orphans import ORPHAN_COLUMNS, ORPHANS_CSV
from transforms.store.results import DECODED, FAILED, LOW_QUALITY, MISSING, RECOMPUTED, STATUSES, SUCCESS, ClipResult

PROC_SUBDIR = "proc"
PROCESSED_CSV = "processed_metadata.csv"
LOW_QUALITY_CSV = "low_quality_videos.csv"
FAILED_CSV = "failed_videos.csv"
MISSING_CSV = "missing_videos.csv"
STATS_NPZ = "global_stats.npz"
SUMMARY_JSON = "run_summary.json"
SCHEMA_JSON = "feature_schema.json"

METRIC_COLUMNS = ("detection_ratio", "mean_visibility", "motion_mean", "motion_p50", "motion_p95", "motion_max")
PROCESSED_COLUMNS = ("video_file", "feature_path", "num_frames", "frame_feature_dim", *METRIC_COLUMNS,
                     "sentence_id", "sentence", "category", "quality_flag")
# v2 keeps time: what the frames mean in seconds, and how many were trimmed at each end.
V2_PROCESSED_COLUMNS = PROCESSED_COLUMNS + ("source_fps", "trimmed_start", "trimmed_end")
LOW_QUALITY_COLUMNS = ("video_file", "num_frames", *METRIC_COLUMNS, "kept",
                       "sentence_id", "sentence", "category", "error")
PROBLEM_COLUMNS = ("video_file", "error", "sentence_id", "sentence", "category", "line")

# Keys of WriteReports' output (not of run_summary.json) for the report that follows in the same
# job: the CSVs it wrote (name → text), so they are not read back; and the listing version of each
# clip's files (video_file → {"features": …, "landmarks": …}), so unchanged previews are not drawn
# again (transforms/reports/preview_cache.py).
WRITTEN_CSVS = "_written_csvs"
OUTPUT_VERSIONS = "_output_versions"

# Test-only: a folder; writing the reports stops halfway (the CSVs written, the statistics and
# run_summary.json not yet), creates <folder>/reports.paused and sleeps, so a test can kill the job there.
INJECT_PAUSE_ENV = "GHSL_PAUSE_IN_REPORTS"


def proc_path(output_dir: str, name: str) -> str:
    return storage.join(output_dir, PROC_SUBDIR, name)


def report_order(r: ClipResult):
    """Metadata order: by line, then by video (a sentence table's videos share their sentence's line);
    rows on no line of the table (line None, empty in the CSVs) last."""
    return (r.line is None, r.line or 0, r.video_file)


def processed_row(r: ClipResult) -> Dict[str, object]:
    row = {c: getattr(r, c) for c in V2_PROCESSED_COLUMNS if hasattr(r, c)}
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


def feature_statistics(moments: Optional[stats.Moments], feature_options: dict) -> Dict[str, np.ndarray]:
    """feature_mean, feature_std and frame_count of merged moments; for v2 also present_count,
    presence_parts and presence_rate (global_stats.npz, and a release's stats.npz)."""
    version = feature_options["feature_version"]
    mean, std = definitions.mean_std(version, moments, definitions.dim(version, feature_options["face_downsample"]))
    arrays = dict(feature_mean=mean, feature_std=std, frame_count=np.int64(stats.frame_count(moments)))
    if version != "v1":
        # Mean/std are over the frames where each column's part was seen; standardize
        # with present * (x - mean) / std so absent zeros stay zeros.
        rates = definitions.presence_rates(version, moments)
        arrays["present_count"] = (np.asarray(moments.count, np.int64) if moments is not None
                                   else np.zeros(len(mean), np.int64))
        arrays["presence_parts"] = np.array(list(rates) or list(v2.PARTS))
        arrays["presence_rate"] = np.array([rates.get(p, 0.0) for p in v2.PARTS], dtype=np.float32)
    return arrays


def npz_bytes(arrays: Dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def stats_npz(moments: Optional[stats.Moments], processed: List[ClipResult], feature_options: dict) -> bytes:
    return npz_bytes(dict(
        feature_statistics(moments, feature_options),
        seq_lengths=np.array([r.num_frames for r in processed], dtype=np.int32),
        motion_means=np.array([r.motion_mean for r in processed], dtype=np.float32),
        video_count=np.int64(len(processed)),
    ))


def feature_schema(feature_options: dict) -> str:
    """proc/feature_schema.json: the name of every column of the saved arrays, the version and its options."""
    version = feature_options["feature_version"]
    names = definitions.column_names(version, feature_options["face_downsample"])
    return json.dumps({"feature_version": version, "columns": names, "dim": len(names),
                       "options": feature_options}, indent=1) + "\n"


def versions(feature_version: str) -> Dict[str, str]:
    """Versions where the reports are written, i.e. on a worker, which is what made the features."""
    found = {"feature_definition": feature_version}
    for key, dist in (("pipeline", "ghsl-preprocessing"), ("apache_beam", "apache-beam"),
                      ("mediapipe", "mediapipe"), ("opencv", "opencv-python-headless"), ("numpy", "numpy")):
        try:
            found[key] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            found[key] = "not installed"
    return found


def summary(by_status: Dict[str, List[ClipResult]], moments: Optional[stats.Moments], config: Dict[str, object],
            feature_options: dict, started_at: float, orphans: List[dict]) -> Dict[str, object]:
    everything = [r for rs in by_status.values() for r in rs]
    decoded = [r for r in everything if r.origin in DECODED]
    recomputed = [r for r in everything if r.origin == RECOMPUTED]
    reused = [r for r in everything if r.origin == "reused"]
    changed = [r for r in everything if r.origin == "changed"]
    return {
        "rows": len(everything),
        "counts": {
            SUCCESS: len(by_status[SUCCESS]),
            "kept_low": sum(1 for r in by_status[SUCCESS] if r.kept_low),
            LOW_QUALITY: len(by_status[LOW_QUALITY]),
            FAILED: len(by_status[FAILED]),
            MISSING: len(by_status[MISSING]),
        },
        "videos_decoded": len(decoded),
        "videos_recomputed": len(recomputed),
        "videos_reused": len(reused),
        "videos_changed": len(changed),
        "frames_decoded": sum(r.frames_decoded for r in decoded),
        "frames_recomputed": sum(r.frames_decoded for r in recomputed),
        "frames_reused": sum(r.frames_decoded for r in reused),
        "frames_changed": sum(r.frames_decoded for r in changed),
        "frames_saved": stats.frame_count(moments),
        "orphaned_outputs": len(orphans),
        "orphans_deleted": sum(1 for o in orphans if o["deleted"]),
        "wall_seconds": round(time.time() - started_at, 3),
        "config": config,
        "versions": versions(feature_options["feature_version"]),
        "presence_rates": definitions.presence_rates(feature_options["feature_version"], moments),
    }


class WriteReports(beam.PTransform):
    """Gathers every final result (without arrays) and writes the files listed in the module docstring.

    Input: one ClipResult per metadata row, whatever its status or whether it was
    decoded in this run or reused. moments: the saved clips' moments summed (a
    singleton, transforms/common/moments.py). proc: OUT/proc/ as the run's plan
    listed it; a file whose bytes are already there is not written again. after: steps
    that must be done before run_summary.json, written last, says the run is complete.
    """

    def __init__(self, output_dir: str, extra_columns: Sequence[str], config: Dict[str, object],
                 feature_options: dict, started_at: float, orphans: beam.PCollection, moments: beam.PCollection,
                 proc: Optional[Dict[str, storage.ObjectInfo]] = None, after: Optional[beam.PCollection] = None,
                 run_id: Optional[str] = None):
        super().__init__()
        self.output_dir = output_dir
        self.extra_columns = list(extra_columns)
        self.config = config
        self.feature_options = dict(feature_options)
        self.started_at = started_at
        self.orphans = orphans
        self.moments = moments
        self.proc = dict(proc or {})
        self.after = after
        self.run_id = run_id

    def expand(self, results: beam.PCollection):
        after = self.after if self.after is not None else results.pipeline | "Nothing before" >> beam.Create([])
        return (results
                | "Drop arrays" >> beam.Map(lambda r: r.slim())
                | "Gather" >> beam.combiners.ToList()
                | "Write files" >> beam.Map(self._write, beam.pvalue.AsSingleton(self.moments),
                                            beam.pvalue.AsSingleton(self.orphans), beam.pvalue.AsList(after)))

    def _write(self, results: List[ClipResult], moments: Optional[stats.Moments],
               orphans: List[dict], _after: list) -> Dict[str, object]:
        by_status: Dict[str, List[ClipResult]] = {s: [] for s in STATUSES}
        for result in sorted(results, key=report_order):
            by_status[result.status].append(result)

        processed = by_status[SUCCESS]
        # A clip kept with keep_low_quality is saved and also listed with its reason (kept=True).
        low_quality = sorted(by_status[LOW_QUALITY] + [r for r in processed if r.kept_low], key=report_order)
        columns = PROCESSED_COLUMNS if self.feature_options["feature_version"] == "v1" else V2_PROCESSED_COLUMNS
        files = {
            PROCESSED_CSV: csv_text(columns + tuple(self.extra_columns), map(processed_row, processed)),
            SCHEMA_JSON: feature_schema(self.feature_options),
            LOW_QUALITY_CSV: csv_text(LOW_QUALITY_COLUMNS, map(low_quality_row, low_quality)),
            FAILED_CSV: csv_text(PROBLEM_COLUMNS, map(problem_row, by_status[FAILED])),
            MISSING_CSV: csv_text(PROBLEM_COLUMNS, map(problem_row, by_status[MISSING])),
            ORPHANS_CSV: csv_text(ORPHAN_COLUMNS, orphans),
        }
        for name, text in files.items():
            storage.write_text(proc_path(self.output_dir, name), text, unless=self.proc.get(name))
        _maybe_pause()
        storage.write_bytes(proc_path(self.output_dir, STATS_NPZ), stats_npz(moments, processed, self.feature_options),
                            unless=self.proc.get(STATS_NPZ))
        # Written last: its presence means every other output of the run is complete.
        result = summary(by_status, moments, self.config, self.feature_options, self.started_at, orphans)
        summary_text = json.dumps(result, indent=2) + "\n"
        storage.write_text(proc_path(self.output_dir, SUMMARY_JSON), summary_text)
        if self.run_id:  # the launcher, when it runs in this process, need not read it back (pipeline/run.py)
            handoff.hand(self.run_id, SUMMARY_JSON, summary_text)
        versions = {r.video_file: {"features": r.outputs.npy.version if r.outputs.npy else None,
                                   "landmarks": r.outputs.pose.version if r.outputs.pose else None}
                    for r in results if r.feature_stem}
        return {**result, WRITTEN_CSVS: files, OUTPUT_VERSIONS: versions}


def _maybe_pause() -> None:
    folder = os.environ.get(INJECT_PAUSE_ENV)
    if folder:
        open(os.path.join(folder, "reports.paused"), "w").close()
        time.sleep(600)
