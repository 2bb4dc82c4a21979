"""processed_metadata.csv in, the same CSV with a `text_variations` column out.

Every input column and row is kept, in order, with its value; `text_variations`
is appended (or replaced, when the input already has it, so a re-run gives the
same file). It holds a JSON list per row: [sentence, variation 1, …], or
[sentence] alone when the sentence has no checked variations, so training
code can always read it the same way.

augment_failed.csv lists the sentences without variations: sentence_id,
sentence, error.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Dict, List, Sequence, Tuple

from transforms.common import storage
from transforms.reports.run_reports import csv_text

COLUMN = "text_variations"
NEEDED_COLUMNS = ("sentence_id", "sentence")
FAILED_COLUMNS = ("sentence_id", "sentence", "error")


class CsvError(ValueError):
    """The input CSV cannot be used; the message says how to fix it."""


def read(path: str) -> Tuple[List[str], List[Dict[str, str]]]:
    try:
        raw = storage.read_bytes(path)
    except Exception as exc:  # any filesystem: not found, permission, bad bucket…
        raise CsvError(f"Cannot read {path}: {exc}. Check --input_csv (a local path or a gs:// URI); it is "
                       f"the processed_metadata.csv a preprocessing run wrote under OUT/proc/.") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(f"{path} is not UTF-8 text ({exc}). Re-save it as UTF-8 CSV.") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    missing = [c for c in NEEDED_COLUMNS if c not in header]
    if missing:
        raise CsvError(f"{path} has no column {', '.join(missing)} (found: {', '.join(header) or 'nothing'}). "
                       f"Pass the processed_metadata.csv of a preprocessing run, or add the columns.")
    # A short row reads as None; as text it is the empty cell it was.
    rows = [{k: v if v is not None else "" for k, v in row.items() if k is not None} for row in reader]
    return header, rows


def row_variations(row: Dict[str, str], answers: Dict[str, List[str]]) -> List[str]:
    found = answers.get(row["sentence_id"])
    # An answer is for one sentence text; a row whose text differs keeps its own sentence.
    return found if found and found[0] == row["sentence"] else [row["sentence"]]


def with_variations(header: Sequence[str], rows: List[Dict[str, str]], answers: Dict[str, List[str]]) -> str:
    columns = [c for c in header if c != COLUMN] + [COLUMN]
    out = [{**row, COLUMN: json.dumps(row_variations(row, answers), ensure_ascii=False)} for row in rows]
    return csv_text(columns, out)


def failed_text(failures: List[Tuple[str, str, str]]) -> str:
    rows = [dict(zip(FAILED_COLUMNS, f)) for f in sorted(failures)]
    return csv_text(FAILED_COLUMNS, rows)
