"""The run's reports under OUT/proc/, written from the run's typed results, and read back as the same values.

Files (all written, header included, even when empty; rows in metadata order, see report_order):
  processed_metadata.csv   one row per saved clip (status success), with the feature version's
                           own columns after ours (FeatureVersion.report_columns)
  low_quality_videos.csv   clips the quality rules rejected (kept=True: saved anyway)
  failed_videos.csv        rows that could not be processed, with the error
  missing_videos.csv       rows whose video file does not exist
  orphaned_outputs.csv     outputs of videos no longer in the metadata (transforms/store/orphans.py)
  global_stats.npz         feature_mean, feature_std (float32, D), seq_lengths (int32),
                           motion_means (float32) in processed_metadata.csv order,
                           frame_count, video_count, and the feature version's own
                           (FeatureVersion.statistics: e.g. present_count, presence_rate)
  feature_schema.json      the name of every column of the saved arrays, the version, its options
  run_summary.json         counts per status; videos and frames decoded, changed, recomputed from
                           stored landmarks and reused; wall seconds, configuration, versions, the
                           release; written last of all (pipeline/graph.py), so its presence says
                           every other output of the run is complete

The statistics are the saved clips' moments summed exactly
(transforms/reports/statistics.py), so the same saved clips give the same bytes
on every runner and in every run; the record index keeps that total, and a
re-run only adds and takes out what changed. The job's reports step, which
writes each file from its own stream of results, is transforms/reports/write_reports.py.

Each CSV column has one definition here (COLUMN_TYPES): how a result gives its
value, and how the text reads back, so the standalone report and release
(`read_run`) see the values the job wrote.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from importlib import metadata as importlib_metadata
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from transforms.common import moments as stats
from transforms.common import storage
from transforms.features import registry
from transforms.store.metadata import ClipRow
from transforms.store.paths import feature_path, proc_path
from transforms.store.results import (FAILED, LOW_QUALITY, MISSING, RECOMPUTED, REUSED, STATUSES, SUCCESS,
                                      ClipResult, Measures)

PROCESSED_CSV = "processed_metadata.csv"
LOW_QUALITY_CSV = "low_quality_videos.csv"
FAILED_CSV = "failed_videos.csv"
MISSING_CSV = "missing_videos.csv"
STATS_NPZ = "global_stats.npz"
SUMMARY_JSON = "run_summary.json"
SCHEMA_JSON = "feature_schema.json"
KEPT_LOW = "kept_low"

METRIC_COLUMNS = ("detection_ratio", "mean_visibility", "motion_mean", "motion_p50", "motion_p95", "motion_max")
# Every version's; a version adds its own after them (FeatureVersion.report_columns: a version that keeps
# time says what the frames mean in seconds and how many were trimmed at each end).
PROCESSED_COLUMNS = ("video_file", "feature_path", "num_frames", "frame_feature_dim", *METRIC_COLUMNS,
                     "sentence_id", "sentence", "category", "quality_flag", "dominant_hand", "dominant_hand_reason")
LOW_QUALITY_COLUMNS = ("video_file", "num_frames", *METRIC_COLUMNS, "kept",
                       "sentence_id", "sentence", "category", "error")
PROBLEM_COLUMNS = ("video_file", "error", "sentence_id", "sentence", "category", "line")

# How each column's text reads back (written with str(): repr for floats, True/False, "" for None).
COLUMN_TYPES = {
    "video_file": str, "feature_path": str, "sentence_id": str, "sentence": str, "category": str,
    "quality_flag": str, "error": str, "dominant_hand": str, "dominant_hand_reason": str, "mirrored": bool,
    "num_frames": int, "frame_feature_dim": int, "trimmed_start": int,
    "trimmed_end": int, "source_fps": float, **{m: float for m in METRIC_COLUMNS}, "kept": bool, "line": int,
}
REPORT_OF_STATUS = {SUCCESS: PROCESSED_CSV, LOW_QUALITY: LOW_QUALITY_CSV, FAILED: FAILED_CSV, MISSING: MISSING_CSV}


def processed_columns(feature_options: Dict[str, object]) -> Tuple[str, ...]:
    """processed_metadata.csv's own columns for a run's feature version."""
    return PROCESSED_COLUMNS + tuple(registry.of(feature_options).report_columns)


def computed_columns() -> Tuple[str, ...]:
    """Every column processed_metadata.csv has of its own, whatever the feature version."""
    added = tuple(c for version in registry.versions() for c in version.report_columns)
    return tuple(dict.fromkeys(PROCESSED_COLUMNS + added))


def written_columns() -> Tuple[str, ...]:
    """Every column a report writes, whatever the version: a metadata column of one of these names would be
    shadowed."""
    return tuple(dict.fromkeys(computed_columns() + LOW_QUALITY_COLUMNS + PROBLEM_COLUMNS))


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What the reports step needs besides the results; made by the launcher from the options."""

    output_dir: str
    extra_columns: Tuple[str, ...]       # the metadata's own columns beyond REQUIRED_COLUMNS, in its order
    config: Dict[str, object]            # run_summary.json's "config"
    feature_options: Dict[str, object]   # the feature version and its options
    started_at: float
    prune_orphans: bool


@dataclasses.dataclass
class RunOutputs:
    """A finished run's results and reports, typed: what the report page and the release read."""

    output_dir: str
    results: List[ClipResult]            # every row, in report order, without moments
    extra_columns: List[str]             # processed_metadata.csv's columns after the pipeline's own
    feature_options: Dict[str, object]
    summary: Dict[str, object]           # run_summary.json's content
    orphans: List[dict] = dataclasses.field(default_factory=list)
    # What the report page shows (report_data.ReportPicks), when the job tallied it from its streams; else
    # the page tallies `results` (a finished run read back holds them all).
    page_picks: Optional[object] = None
    # What proc/ held when the reports step listed it (name → ObjectInfo): a later step that writes there
    # skips a file whose bytes are already those (storage.write_bytes' `unless`). Empty: not listed.
    proc_listing: Dict[str, object] = dataclasses.field(default_factory=dict)
    # The duplicate audit of the saved clips (transforms/duplicates/audit.Audit), once found
    # (transforms/reports/duplicates_report.py); None before.
    duplicates: Optional[object] = None

    @property
    def saved(self) -> List[ClipResult]:
        return [r for r in self.results if r.status == SUCCESS]

    @property
    def feature_schema(self) -> dict:
        return feature_schema(self.feature_options)

    @property
    def processed_columns(self) -> List[str]:
        return list(processed_columns(self.feature_options)) + list(self.extra_columns)

    def processed_text(self, result: ClipResult) -> Dict[str, str]:
        """A saved clip's processed_metadata.csv row, as the file holds it."""
        return {c: _text(value(result, c, self.output_dir)) for c in self.processed_columns}


def report_order(r: ClipResult):
    """Metadata order: by line, then by video (a sentence table's videos share their sentence's line);
    rows on no line of the table (line None, empty in the CSVs) last."""
    return (r.row.line is None, r.row.line or 0, r.video_file)


def value(r: ClipResult, column: str, output_dir: str) -> object:
    """The value of one report column for one result."""
    if column in ("video_file", "sentence_id", "sentence", "category", "line"):
        return getattr(r.row, column)
    if column == "feature_path":
        return feature_path(output_dir, r.feature_stem)
    if column == "quality_flag":
        return KEPT_LOW if r.kept_low else ""
    if column == "kept":
        return r.kept_low
    if column == "error":
        return r.error
    if column in COLUMN_TYPES:
        return getattr(r.measures, column)
    return r.row.extra.get(column, "")


def _text(v: object) -> str:
    """As csv.writer writes a value."""
    return "" if v is None else str(v)


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def report_text(columns: Sequence[str], results: Iterable[ClipResult], output_dir: str) -> str:
    return csv_text(columns, ({c: value(r, c, output_dir) for c in columns} for r in results))


def report_line(columns: Sequence[str], result: ClipResult, output_dir: str) -> str:
    """One result's line of a report, as report_text writes it (so lines written apart and joined in
    report order give the same file)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writerow({c: value(result, c, output_dir) for c in columns})
    return buffer.getvalue()


def header_line(columns: Sequence[str]) -> str:
    return csv_text(columns, [])


# --- statistics ----------------------------------------------------------------------------------

def feature_statistics(moments: Optional[stats.Moments], feature_options: dict) -> Dict[str, np.ndarray]:
    """feature_mean, feature_std, frame_count and the version's own arrays of merged moments
    (global_stats.npz, and a release's stats.npz): FeatureVersion.statistics."""
    return registry.of(feature_options).statistics(moments, feature_options)


def npz_bytes(arrays: Dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def stats_npz(moments: Optional[stats.Moments], processed: Sequence[Tuple[int, float]], feature_options: dict) -> bytes:
    """global_stats.npz; processed: (num_frames, motion_mean) of each saved clip, in processed_metadata.csv order."""
    return npz_bytes(dict(
        feature_statistics(moments, feature_options),
        seq_lengths=np.array([frames for frames, _ in processed], dtype=np.int32),
        motion_means=np.array([motion for _, motion in processed], dtype=np.float32),
        video_count=np.int64(len(processed)),
    ))


def feature_schema(feature_options: dict) -> dict:
    """proc/feature_schema.json: the name of every column of the saved arrays, the version and its options."""
    names = registry.of(feature_options).columns(feature_options)
    return {"feature_version": feature_options["feature_version"], "columns": names, "dim": len(names),
            "options": dict(feature_options)}


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


RESULT_COUNTS = ("rows", SUCCESS, KEPT_LOW, LOW_QUALITY, FAILED, MISSING, "videos_decoded", "videos_recomputed",
                 "videos_reused", "videos_changed", "frames_decoded", "frames_recomputed", "frames_reused",
                 "frames_changed", "hand_left", "hand_right", "hand_unknown")


def result_counts(r: ClipResult) -> Dict[str, int]:
    """What one result adds to the run summary's counts (they add up, in any order: a CombineFn sums them)."""
    counts = {"rows": 1, r.status: 1}
    if r.status == SUCCESS:
        counts[KEPT_LOW] = int(r.kept_low)
        if r.measures.dominant_hand in ("left", "right", "unknown"):
            counts[f"hand_{r.measures.dominant_hand}"] = 1
    origin = {"new": "decoded", "changed": "decoded", RECOMPUTED: "recomputed", REUSED: "reused"}.get(r.origin)
    if origin:
        counts[f"videos_{origin}"] = 1
        counts[f"frames_{origin}"] = r.frames_decoded
    if r.origin == "changed":
        counts["videos_changed"], counts["frames_changed"] = 1, r.frames_decoded
    if r.healed:
        counts["files_healed"] = 1
    return counts


def summary(counts: Dict[str, int], moments: Optional[stats.Moments], config: Dict[str, object],
            feature_options: dict, started_at: float, orphans: List[dict]) -> Dict[str, object]:
    """run_summary.json's content (written last, by the job): counts is the sum of every result_counts."""
    def n(key):
        return int(counts.get(key, 0))

    return {
        "rows": n("rows"),
        "counts": {SUCCESS: n(SUCCESS), KEPT_LOW: n(KEPT_LOW), LOW_QUALITY: n(LOW_QUALITY), FAILED: n(FAILED),
                   MISSING: n(MISSING)},
        **{key: n(key) for key in ("videos_decoded", "videos_recomputed", "videos_reused", "videos_changed",
                                   "frames_decoded", "frames_recomputed", "frames_reused", "frames_changed")},
        # Clips whose stored .pose or .npy was damaged or gone and was made again (the run log names each).
        "files_healed": n("files_healed"),
        "frames_saved": stats.frame_count(moments),
        "orphaned_outputs": len(orphans),
        "orphans_deleted": sum(1 for o in orphans if o["deleted"]),
        "wall_seconds": round(time.time() - started_at, 3),
        "config": config,
        "versions": versions(feature_options["feature_version"]),
        "presence_rates": registry.of(feature_options).presence_rates(moments, feature_options),
        "dominant_hands": {hand: n(f"hand_{hand}") for hand in ("left", "right", "unknown")},
    }


# --- reading a finished run back --------------------------------------------------------------------

class ReportsMissing(Exception):
    """The folder holds no finished run; the message says why."""


def read_summary(output_dir: str) -> dict:
    path = proc_path(output_dir, SUMMARY_JSON)
    data = storage.read_if_present(path)
    if data is None:
        raise ReportsMissing(f"{path} does not exist: no run has finished in {output_dir} (run_summary.json is "
                             f"written last), or it is not a pipeline output folder.")
    return json.loads(data)


def read_run(output_dir: str, statuses: Sequence[str] = STATUSES) -> RunOutputs:
    """A finished run's outputs as the job's typed values: the rows of the reports of `statuses`.

    Raises ReportsMissing without run_summary.json.
    """
    summary_ = read_summary(output_dir)
    schema = json.loads(storage.read_bytes(proc_path(output_dir, SCHEMA_JSON)))
    options = dict(schema["options"], feature_version=schema["feature_version"])
    texts = {s: storage.read_bytes(proc_path(output_dir, REPORT_OF_STATUS[s])).decode("utf-8-sig")
             for s in statuses}
    results, extra = [], []
    kept_reasons: Dict[str, str] = {}
    if LOW_QUALITY in texts:
        for row in _rows(texts[LOW_QUALITY])[1]:
            if row.get("kept") == "True":
                kept_reasons[row["video_file"]] = row.get("error", "")
            else:
                results.append(_result(row, LOW_QUALITY, ()))
    if SUCCESS in texts:
        header, rows = _rows(texts[SUCCESS])
        extra = [c for c in header if c not in processed_columns(options)]
        results += [_result(row, SUCCESS, extra, kept_reasons.get(row["video_file"], "")) for row in rows]
    for status in (FAILED, MISSING):
        if status in texts:
            results += [_result(row, status, ()) for row in _rows(texts[status])[1]]
    return RunOutputs(output_dir, sorted(results, key=report_order), extra, options, summary_)


def _rows(text: str) -> Tuple[List[str], List[Dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def _parse(column: str, text: Optional[str]):
    kind = COLUMN_TYPES.get(column, str)
    if kind is str:
        return text or ""
    if text in (None, ""):
        return None if column == "line" else kind()
    return text == "True" if kind is bool else kind(text)


def _result(row: Dict[str, str], status: str, extra: Sequence[str], reason: str = "") -> ClipResult:
    clip = ClipRow(line=_parse("line", row.get("line")), video_file=row["video_file"],
                   sentence_id=row.get("sentence_id", ""), sentence=row.get("sentence", ""),
                   category=row.get("category", ""), extra={c: row.get(c, "") for c in extra})
    numbers = {m: _parse(m, row[m]) for m in Measures.names() if m in row and (row[m] or COLUMN_TYPES[m] is str)}
    kept = row.get("quality_flag") == KEPT_LOW or row.get("kept") == "True"
    return ClipResult(clip, status, row.get("error", reason) or reason, Measures(**numbers, kept_low=kept))


def write_summary(released) -> dict:
    """Writes run_summary.json, the run's last output, with what became of the release; returns its content."""
    content = dict(released.outputs.summary)
    if released.outcome is not None:
        content["release"] = released.outcome
    # Strict JSON: a NaN written bare is refused by strict readers (the options are checked finite where they enter).
    storage.write_text(proc_path(released.outputs.output_dir, SUMMARY_JSON),
                       json.dumps(content, indent=2, allow_nan=False) + "\n")
    return content
