"""Outputs of videos that have left the metadata: listed always, deleted only when asked.

proc/orphaned_outputs.csv: path, kind (features | record), video (the
video_file path without extension that once produced it), deleted (True when
--prune_orphans removed it). Orphans are never in the reports or statistics:
those are built from today's metadata rows only.
"""
from __future__ import annotations

from typing import Iterable, List

import apache_beam as beam

from transforms.store import storage
from transforms.store.records import RECORDS_SUBDIR
from transforms.store.write_features import FEATURES_SUBDIR

ORPHANS_CSV = "orphaned_outputs.csv"
ORPHAN_COLUMNS = ("path", "kind", "video", "deleted")
_KINDS = (("features", FEATURES_SUBDIR, ".npy"), ("record", RECORDS_SUBDIR, ".json"))


def find_orphans(output_dir: str, owned_stems: Iterable[str]) -> List[dict]:
    owned = set(owned_stems)
    found = []
    for kind, subdir, suffix in _KINDS:
        root = storage.join(output_dir, *subdir)
        for path in storage.list_files(root):
            relative = path[len(root):].lstrip("/")
            if not relative.endswith(suffix) or relative.split("/")[-1].startswith("."):
                continue  # not ours (e.g. a temporary file of a write in progress)
            stem = relative[: -len(suffix)]
            if stem not in owned:
                found.append({"path": path, "kind": kind, "video": stem, "deleted": False})
    return sorted(found, key=lambda o: (o["video"], o["kind"]))


class ListOrphans(beam.PTransform):
    """Emits one list of orphan dicts (deleted ones flagged) after pruning when asked."""

    def __init__(self, output_dir: str, prune: bool):
        super().__init__()
        self.output_dir = output_dir
        self.prune = prune

    def expand(self, owned_stems: beam.PCollection):
        return (owned_stems.pipeline
                | "Start" >> beam.Create([self.output_dir])
                | "Find" >> beam.Map(lambda out, stems: find_orphans(out, stems), beam.pvalue.AsList(owned_stems))
                | "Prune" >> beam.Map(self._prune))

    def _prune(self, orphans: List[dict]) -> List[dict]:
        if self.prune:
            for orphan in orphans:
                storage.delete(orphan["path"])
                orphan["deleted"] = True
        return orphans
