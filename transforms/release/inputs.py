"""What a release is built from: a finished run's saved clips, as the typed results of its reports step.

Inside pipeline.run the release takes the reports step's RunOutputs as they are
(every saved clip carries the record that vouches for it). From a finished run
alone (pipeline.release, or after pipeline.augment_text rewrote
processed_metadata.csv) the same values are read back: processed_metadata.csv
and feature_schema.json through transforms/reports/run_reports.read_run, and
run_summary.json, written last by a run, says the reports are complete; each
clip's record comes through record_index.read_records, the one interface to records.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional

from transforms.reports.run_reports import PROCESSED_CSV, ReportsMissing, RunOutputs, read_run
from transforms.store.paths import proc_path
from transforms.store.record_index import read_records
from transforms.store.results import SUCCESS


class ReleaseError(Exception):
    """The outputs cannot be released; the message says why and what to do."""


class NothingToRelease(ReleaseError):
    """The run saved no clip."""


def read_outputs(output_dir: str) -> RunOutputs:
    """A finished run's saved clips, each with its record; ReleaseError when the folder holds no finished run
    or a saved clip has no usable record."""
    try:
        outputs = read_run(output_dir, statuses=(SUCCESS,))
    except ReportsMissing as exc:
        raise ReleaseError(f"{exc} Run pipeline.run first.") from None
    found = read_records(output_dir, [r.feature_stem for r in outputs.results])
    results = [dataclasses.replace(r, record=release_facts(found.get(r.feature_stem))) for r in outputs.results]
    return dataclasses.replace(outputs, results=results)


# What the release reads of a clip's record (clip_records, manifest.py): the rest stays in the store, so a
# saved clip travels to the release step small.
RELEASE_FIELDS = ("status", "fingerprint")
RELEASE_LANDMARK_FIELDS = ("sha256",)


def release_facts(record: Optional[dict]) -> Optional[dict]:
    """The fields of a record the release reads; None for no record."""
    if record is None:
        return None
    facts = {k: record[k] for k in RELEASE_FIELDS if k in record}
    if isinstance(record.get("landmarks"), dict):
        facts["landmarks"] = {k: record["landmarks"][k] for k in RELEASE_LANDMARK_FIELDS if k in record["landmarks"]}
    return facts


def require_saved_clips(outputs: RunOutputs) -> None:
    if not outputs.saved:
        raise NothingToRelease(
            f"{proc_path(outputs.output_dir, PROCESSED_CSV)} lists no saved clip, so there is nothing to release. "
            f"See proc/low_quality_videos.csv, failed_videos.csv and missing_videos.csv for why, fix the inputs "
            f"or the quality options, and run pipeline.run again.")


def clip_records(outputs: RunOutputs) -> Dict[str, dict]:
    """video_file → the record of every saved clip; raises ReleaseError if one has no usable record."""
    found: Dict[str, dict] = {}
    problems: List[str] = []
    for r in outputs.saved:
        record = r.record
        if record is None or record.get("status") != SUCCESS or not (record.get("landmarks") or {}).get("sha256"):
            problems.append(r.video_file)
        else:
            found[r.video_file] = record
    if problems:
        raise ReleaseError(f"{len(problems)} saved clip(s) have no usable record under features/records/ "
                           f"({', '.join(problems[:3])}{', …' if len(problems) > 3 else ''}): the outputs are not "
                           f"those of one finished run. Run pipeline.run again on {outputs.output_dir}.")
    return found

