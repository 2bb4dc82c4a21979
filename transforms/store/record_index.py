"""The record index: every result record of an output folder, read in one go.

Interim version: reads the records themselves, in parallel. The index object
(one listing plus one download instead of a request per record) replaces the
internals; callers keep this signature.
"""
from __future__ import annotations

import concurrent.futures
from typing import Dict, Iterable, Optional

from transforms.store import records, storage

READ_THREADS = 16


def read_records(output_dir: str, stems: Optional[Iterable[str]] = None) -> Dict[str, dict]:
    """stem → the record of that video (without its moments), for `stems` (every record when None).

    A stem with no usable record is left out.
    """
    root = storage.join(output_dir, *records.RECORDS_SUBDIR)
    if stems is None:
        stems = [name[: -len(".json")] for name in storage.list_relative(root) if name.endswith(".json")
                 and not name.split("/")[-1].startswith(".")]
    stems = list(stems)

    def read(stem: str):
        record = records.read(records.record_path(output_dir, stem))
        if record is not None:
            record = {k: v for k, v in record.items() if k != "moments"}
        return stem, record

    with concurrent.futures.ThreadPoolExecutor(READ_THREADS) as pool:
        return {stem: record for stem, record in pool.map(read, stems) if record is not None}
