"""Outputs no finished result of this run vouches for: listed always, deleted only when asked.

proc/orphaned_outputs.csv: path, kind (landmarks | features | record), video (the
video_file path without extension that produced it), reason, deleted (True
when --prune_orphans removed it). An output is an orphan when

  * its video is no longer in the metadata (or its row failed before any work), or
  * its video is in the metadata but MISSING, or failed with an error that may be
    transient (a network error, say): the outputs are kept, never deleted by
    such a run, because a mistyped --video_dir or a flaky bucket must not wipe
    the published features. The next run that finds the video reuses them.

Orphans are never in the reports or statistics: those are built from this
run's results only.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Tuple

import apache_beam as beam

from transforms.landmarks.pose_file import LANDMARKS_SUBDIR, SUFFIX
from transforms.store import storage
from transforms.store.records import RECORDS_SUBDIR
from transforms.store.results import MISSING, ClipResult
from transforms.store.write_features import FEATURES_SUBDIR

ORPHANS_CSV = "orphaned_outputs.csv"
ORPHAN_COLUMNS = ("path", "kind", "video", "reason", "deleted")
NOT_IN_METADATA = "no longer in the metadata"
_KINDS = (("landmarks", LANDMARKS_SUBDIR, SUFFIX), ("features", FEATURES_SUBDIR, ".npy"),
          ("record", RECORDS_SUBDIR, ".json"))


def claim(result: ClipResult) -> Optional[Tuple[str, Optional[str]]]:
    """(feature stem, None) when this result owns its outputs, (stem, why not) when it keeps
    them without vouching for them, None for a row with no outputs of its own."""
    if not result.feature_stem:
        return None
    if result.status == MISSING:
        return result.feature_stem, (f"video missing ({result.error}); kept until it is back, "
                                     f"deleted only with --prune_orphans")
    if result.retryable:
        return result.feature_stem, f"failed, perhaps transiently ({result.error}); kept, the next run tries again"
    return result.feature_stem, None


def find_orphans(output_dir: str, claims: Iterable[Tuple[str, Optional[str]]]) -> List[dict]:
    owners: Dict[str, Optional[str]] = dict(claims)
    found = []
    for kind, subdir, suffix in _KINDS:
        root = storage.join(output_dir, *subdir)
        for path in storage.list_files(root):
            relative = path[len(root):].lstrip("/")
            if not relative.endswith(suffix) or relative.split("/")[-1].startswith("."):
                continue  # not ours (e.g. a temporary file of a write in progress)
            stem = relative[: -len(suffix)]
            if stem not in owners:
                reason = NOT_IN_METADATA
            elif owners[stem] is not None:
                reason = owners[stem]
            else:
                continue
            found.append({"path": path, "kind": kind, "video": stem, "reason": reason, "deleted": False})
    return sorted(found, key=lambda o: (o["video"], o["kind"]))


class ListOrphans(beam.PTransform):
    """Final results in; one list of orphan dicts out (deleted ones flagged), after pruning when asked.

    It waits for every result, so a clip published in this run is never listed.
    """

    def __init__(self, output_dir: str, prune: bool):
        super().__init__()
        self.output_dir = output_dir
        self.prune = prune

    def expand(self, results: beam.PCollection):
        claims = results | "Claim outputs" >> beam.FlatMap(lambda r: [c for c in [claim(r)] if c])
        return (results.pipeline
                | "Start" >> beam.Create([self.output_dir])
                | "Find" >> beam.Map(lambda out, found: find_orphans(out, found), beam.pvalue.AsList(claims))
                | "Prune" >> beam.Map(self._prune))

    def _prune(self, orphans: List[dict]) -> List[dict]:
        if self.prune:
            for orphan in orphans:
                storage.delete(orphan["path"])
                orphan["deleted"] = True
        return orphans
