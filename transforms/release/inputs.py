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
import math
from typing import Dict, List, Optional

from transforms.reports.run_reports import PROCESSED_CSV, ReportsMissing, RunOutputs, read_run
from transforms.store.paths import proc_path
from transforms.store.record_index import read_records
from transforms.store.results import SUCCESS, Measures


class ReleaseError(Exception):
    """The outputs cannot be released; the message says why and what to do."""


class NothingToRelease(ReleaseError):
    """The run saved no clip."""


def read_outputs(output_dir: str, audit: bool = False) -> RunOutputs:
    """A finished run's saved clips, each with its record; ReleaseError when the folder holds no finished run
    or a saved clip has no usable record. audit: with the duplicate audit of the saved clips attached (the
    run's links reused when its saved clips are these: transforms/reports/duplicates_report.py), for the
    plans that follow (one per fold) to share."""
    try:
        outputs = read_run(output_dir, statuses=(SUCCESS,))
    except ReportsMissing as exc:
        raise ReleaseError(f"{exc} Run pipeline.run first.") from None
    found = read_records(output_dir, [r.feature_stem for r in outputs.results])
    differences = disagreements(outputs, found)
    if differences:
        raise ReleaseError(f"{proc_path(output_dir, PROCESSED_CSV)} no longer matches the records of the run that "
                           f"wrote it ({len(differences)} value(s); {differences[0]}): it was edited by hand or comes "
                           f"from another run. Run pipeline.run on {output_dir} to write it again, then release.")
    results = [dataclasses.replace(r, record=release_facts(found.get(r.feature_stem))) for r in outputs.results]
    outputs = dataclasses.replace(outputs, results=results)
    if audit and outputs.saved:
        from transforms.reports.duplicates_report import AuditInputError, audit_of

        clip_records(outputs)  # a clip without a usable record is named as such first
        try:
            outputs = dataclasses.replace(outputs, duplicates=audit_of(outputs))
        except AuditInputError as exc:
            raise ReleaseError(str(exc)) from None
    return outputs


def disagreements(outputs: RunOutputs, found: Dict[str, dict]) -> List[str]:
    """Where processed_metadata.csv's measured columns differ from the records that vouch for its rows
    (the release takes those columns from the CSV)."""
    columns = [c for c in Measures.names() if c in outputs.processed_columns and c != "kept_low"]
    differences = []
    for r in outputs.results:
        record = found.get(r.feature_stem)
        if record is None:
            continue  # no record: clip_records refuses the release, naming it
        for column in columns:
            mine, theirs = getattr(r.measures, column), record.get(column)
            if column in record and not _same(mine, theirs):
                differences.append(f"{r.video_file}: {column} is {mine!r} in the CSV, {theirs!r} in its record")
    return differences


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


# What the release reads of a clip's record (clip_records, manifest.py, the duplicate audit): the rest
# stays in the store, so a saved clip travels to the release step small.
RELEASE_FIELDS = ("status", "fingerprint", "signature")
RELEASE_SECTIONS = {"landmarks": ("sha256",), "features": ("sha256", "shape")}


def release_facts(record: Optional[dict]) -> Optional[dict]:
    """The fields of a record the release reads; None for no record."""
    if record is None:
        return None
    facts = {k: record[k] for k in RELEASE_FIELDS if k in record}
    for section, fields in RELEASE_SECTIONS.items():
        if isinstance(record.get(section), dict):
            facts[section] = {k: record[section][k] for k in fields if k in record[section]}
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
    unverified: List[str] = []
    for r in outputs.saved:
        record = r.record
        if record is None or record.get("status") != SUCCESS or not (record.get("landmarks") or {}).get("sha256"):
            problems.append(r.video_file)
        elif not (record.get("features") or {}).get("sha256"):
            unverified.append(r.video_file)
        else:
            found[r.video_file] = record
    if problems:
        raise ReleaseError(f"{len(problems)} saved clip(s) have no usable record under features/records/ "
                           f"({_some(problems)}): the outputs are not those of one finished run. Run pipeline.run "
                           f"again on {outputs.output_dir}.")
    if unverified:
        # A release never carries an array nothing vouches for: records of the previous format name no
        # checksum for theirs. A run upgrades them (without decoding a video).
        raise ReleaseError(f"{len(unverified)} saved clip(s) have records of the previous format, which keep no "
                           f"checksum of their features ({_some(unverified)}). Run pipeline.run on "
                           f"{outputs.output_dir} once to upgrade them (no video is decoded), then release.")
    return found


def _some(names: List[str]) -> str:
    return ", ".join(names[:3]) + (", …" if len(names) > 3 else "")

