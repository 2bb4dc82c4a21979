"""What a release is built from: a finished run's reports under OUT/proc/ and the saved clips' records.

processed_metadata.csv lists the saved clips (and, after pipeline.augment_text,
their text_variations); feature_schema.json names the array columns;
run_summary.json, written last by a run, says the reports are complete and
which versions made them. Per clip, the record (read through
record_index.read_records, the one interface to records) gives the feature
fingerprint and the sha256 of the .pose file.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import posixpath
from typing import Dict, List, Optional

from transforms.reports.run_reports import (OUTPUT_VERSIONS, PROCESSED_CSV, SCHEMA_JSON, SUMMARY_JSON, WRITTEN_CSVS,
                                            proc_path)
from transforms.store import storage
from transforms.store.record_index import read_records
from transforms.store.results import SUCCESS


class ReleaseError(Exception):
    """The outputs cannot be released; the message says why and what to do."""


class NothingToRelease(ReleaseError):
    """The run saved no clip."""


@dataclasses.dataclass
class RunOutputs:
    columns: List[str]               # processed_metadata.csv's header
    rows: List[Dict[str, str]]       # its rows: one per saved clip
    feature_schema: dict             # proc/feature_schema.json
    run_summary: dict                # proc/run_summary.json


def stem(video_file: str) -> str:
    """Where a clip's outputs are saved: its video_file without the extension."""
    return posixpath.splitext(video_file)[0]


def read_outputs(output_dir: str) -> RunOutputs:
    summary_path = proc_path(output_dir, SUMMARY_JSON)
    data = storage.read_if_present(summary_path)
    if data is None:
        raise ReleaseError(f"{summary_path} does not exist: no run has finished in {output_dir} (run_summary.json is "
                           f"written last), or it is not a pipeline output folder. Run pipeline.run first.")
    text = storage.read_bytes(proc_path(output_dir, PROCESSED_CSV)).decode("utf-8-sig")
    schema = json.loads(storage.read_bytes(proc_path(output_dir, SCHEMA_JSON)))
    return _outputs(json.loads(data), text, schema)


def written_outputs(summary: dict) -> RunOutputs:
    """The same, from what the main job's WriteReports just wrote and hands on (run_reports.WRITTEN_CSVS)."""
    written = summary[WRITTEN_CSVS]
    run_summary = json.loads(json.dumps({k: v for k, v in summary.items() if k not in (WRITTEN_CSVS, OUTPUT_VERSIONS)}))
    return _outputs(run_summary, written[PROCESSED_CSV], json.loads(written[SCHEMA_JSON]))


def _outputs(summary: dict, processed_csv: str, schema: dict) -> RunOutputs:
    reader = csv.DictReader(io.StringIO(processed_csv.lstrip("\ufeff"), newline=""))
    rows = [dict(r) for r in reader]
    return RunOutputs(list(reader.fieldnames or []), rows, schema, summary)


def require_saved_clips(outputs: RunOutputs, output_dir: str) -> None:
    if not outputs.rows:
        raise NothingToRelease(
            f"{proc_path(output_dir, PROCESSED_CSV)} lists no saved clip, so there is nothing to release. See "
            f"proc/low_quality_videos.csv, failed_videos.csv and missing_videos.csv for why, fix the inputs or "
            f"the quality options, and run pipeline.run again.")


def clip_records(output_dir: str, rows: List[Dict[str, str]], run_id: Optional[str] = None) -> Dict[str, dict]:
    """video_file → the record of every saved clip; raises ReleaseError if one has no usable record.

    run_id: of the main job this runs in, whose planner may have handed on the records (read_records).
    """
    by_stem = read_records(output_dir, [stem(r["video_file"]) for r in rows], run_id=run_id)
    found, problems = {}, []
    for r in rows:
        record = by_stem.get(stem(r["video_file"]))
        if record is None or record.get("status") != SUCCESS or not (record.get("landmarks") or {}).get("sha256"):
            problems.append(r["video_file"])
        else:
            found[r["video_file"]] = record
    if problems:
        raise ReleaseError(f"{len(problems)} saved clip(s) have no usable record under features/records/ "
                           f"({', '.join(problems[:3])}{', …' if len(problems) > 3 else ''}): the outputs are not "
                           f"those of one finished run. Run pipeline.run again on {output_dir}.")
    return found
