"""Outputs no finished result of this run vouches for: listed always, deleted only when asked.

proc/orphaned_outputs.csv: path, kind (landmarks | features | record), video (the
video_file path without extension that produced it), reason, deleted (True
when --prune_orphans removed it). An output is an orphan when

  * its video is no longer in the metadata (or its row failed before any work):
    found by the job, from its listings (transforms/store/plan.py), or
  * its video is in the metadata but MISSING, or failed with an error that may be
    transient (a network error, say): the outputs are kept, never deleted by
    such a run, because a mistyped --video_dir or a flaky bucket must not wipe
    the published features. The next run that finds the video reuses them.

Orphans are never in the reports or statistics: those are built from this
run's results only.
"""
from __future__ import annotations

from typing import List, Optional

from transforms.common import storage
from transforms.store.plan import output_paths
from transforms.store.results import MISSING, ClipResult

ORPHANS_CSV = "orphaned_outputs.csv"
ORPHAN_COLUMNS = ("path", "kind", "video", "reason", "deleted")


def unclaimed_reason(result: ClipResult) -> Optional[str]:
    """Why this result keeps its video's outputs without vouching for them, or None when it owns them."""
    if result.status == MISSING:
        return f"video missing ({result.error}); kept until it is back, deleted only with --prune_orphans"
    if result.retryable:
        return f"failed, perhaps transiently ({result.error}); kept, the next run tries again"
    return None


def kept_outputs(output_dir: str, result: ClipResult) -> List[dict]:
    """The orphans a result leaves: its video's outputs, when it does not vouch for them."""
    reason = unclaimed_reason(result) if result.feature_stem else None
    if reason is None:
        return []
    return [{"path": path, "kind": kind, "video": result.feature_stem, "reason": reason, "deleted": False}
            for kind, path in output_paths(output_dir, result.feature_stem, result.outputs).items()]


def prune(found: List[dict]) -> None:
    """--prune_orphans: delete every orphan, and flag it so."""
    for orphan in found:
        storage.delete_if_present(orphan["path"])
        orphan["deleted"] = True
