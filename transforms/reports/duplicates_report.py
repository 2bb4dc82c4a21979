"""The duplicate audit as a step of the job, and its reports under OUT/proc/ (docs/duplicates.md, In the pipeline).

The step takes the one element the reports step gathers for the report page and the
release (RunOutputs: every saved clip with the few fields of its record the release
reads, the signature among them), so the audit needs no gather of its own. Per clip
it reads four small values (video_file, sentence id and text, .pose sha256,
signature), never an array or a file, and writes:

  duplicates.csv            one row per copy: video_file, duplicate_of (its family's earliest
                            video_file), kind (exact, near), similarity (1.0 for exact),
                            same_sentence_id, mirrored, linked_to (the clip its strongest link joins it
                            to), sentence_id, duplicate_of_sentence_id
  sentence_duplicates.csv   one row per sentence id whose text another id shares after normalization:
                            sentence_id, duplicate_of (the group's first id), normalized_text
  duplicate_links.json      the links, under the digest of what they were found from
                            (transforms/duplicates/audit.py): a run whose saved clips and audit settings
                            are those of the last one reuses them and runs no search

It passes the outputs on with the audit attached (the report page counts it, the
release keeps families together), its counts in run_summary.json's "duplicates", and
the signatures dropped from the clips: nothing after it reads them.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Dict, List, Optional, Tuple

from transforms.common import storage
from transforms.duplicates import audit as dup_audit
from transforms.reports.run_reports import RunOutputs, csv_text
from transforms.store import records
from transforms.store.paths import proc_path

LOG = logging.getLogger("ghsl")
DUPLICATES_CSV = "duplicates.csv"
SENTENCE_DUPLICATES_CSV = "sentence_duplicates.csv"
LINKS_JSON = "duplicate_links.json"


class AuditInputError(ValueError):
    """A saved clip's record cannot be audited (no .pose sha256, or a signature of an older format)."""


def audit_clips(outputs: RunOutputs) -> List[dup_audit.AuditClip]:
    """Every saved clip's audit values, from the record facts it carries (transforms/release/inputs.release_facts)."""
    clips, stale = [], []
    for r in outputs.saved:
        record = r.record or {}
        digest = (record.get("landmarks") or {}).get("sha256")
        if not digest or not records.has_current_signature(record):
            stale.append(r.video_file)
            continue
        clips.append(dup_audit.AuditClip(r.video_file, r.row.sentence_id, r.row.sentence, digest,
                                         record["signature"]["data"]))
    if stale:
        raise AuditInputError(
            f"{len(stale)} saved clip(s) have records without a current duplicate signature "
            f"({', '.join(stale[:3])}{', …' if len(stale) > 3 else ''}): they were made by an older version. Run "
            f"pipeline.run on {outputs.output_dir} once to upgrade them (their signatures are made from the stored "
            f".pose files; no video is decoded).")
    return clips


def audit_of(outputs: RunOutputs, cached: Optional[Tuple[str, list]] = None) -> dup_audit.Audit:
    """The audit of the run's saved clips; cached: the links file's content, else it is read from proc/ here."""
    clips = audit_clips(outputs)
    if cached is None:
        cached = dup_audit.read_links_json(storage.read_if_present(proc_path(outputs.output_dir, LINKS_JSON)))
    return dup_audit.audit(clips, cached)


def with_duplicates(outputs: RunOutputs) -> RunOutputs:
    """The job's step (module docstring): audit, reports written, the audit passed on."""
    out, listed = outputs.output_dir, outputs.proc_listing
    # Read only when the reports step listed it: a first run asks the store nothing.
    cached = (dup_audit.read_links_json(storage.read_if_present(proc_path(out, LINKS_JSON)))
              if LINKS_JSON in listed else None)
    found = dup_audit.audit(audit_clips(outputs), cached)
    if found.searched:
        storage.write_text(proc_path(out, LINKS_JSON), dup_audit.links_json(found), unless=listed.get(LINKS_JSON))
    storage.write_text(proc_path(out, DUPLICATES_CSV), duplicates_csv(found), unless=listed.get(DUPLICATES_CSV))
    storage.write_text(proc_path(out, SENTENCE_DUPLICATES_CSV), sentence_duplicates_csv(found),
                       unless=listed.get(SENTENCE_DUPLICATES_CSV))
    counts = found.counts()
    LOG.info("Duplicate audit of %d saved clips: %d copies (%d exact, %d near) in %d families, %d groups of sentence "
             "ids with one text; %s", found.clips, counts["copies"], counts["exact"], counts["near"],
             counts["families"], counts["text_groups"],
             f"searched in {found.seconds:.1f} s" if found.searched else "links reused (the saved clips are those "
                                                                          "of the last audit)")
    results = [dataclasses.replace(r, record=_without_signature(r.record)) for r in outputs.results]
    return dataclasses.replace(outputs, results=results, duplicates=found,
                               summary={**outputs.summary, "duplicates": counts})


def _without_signature(record: Optional[dict]) -> Optional[dict]:
    return None if record is None else {k: v for k, v in record.items() if k != "signature"}


def duplicates_csv(found: dup_audit.Audit) -> str:
    return csv_text(dup_audit.DUPLICATE_COLUMNS, dup_audit.duplicate_rows(found))


def sentence_duplicates_csv(found: dup_audit.Audit) -> str:
    return csv_text(dup_audit.TEXT_COLUMNS, dup_audit.text_rows(found))


def read_reports(output_dir: str) -> Optional[Tuple[List[Dict[str, str]], List[Dict[str, str]]]]:
    """(duplicates.csv rows, sentence_duplicates.csv rows) of a finished run, as text; None when the run
    wrote none (it finished before the audit existed)."""
    import csv
    import io

    found = []
    for name in (DUPLICATES_CSV, SENTENCE_DUPLICATES_CSV):
        data = storage.read_if_present(proc_path(output_dir, name))
        if data is None:
            return None
        found.append(list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))))
    return found[0], found[1]
