"""Values one part of a run hands to another part of the same run in the same process.

On the DirectRunner the launcher and every step of its job share one
interpreter, so what one of them already holds need not make a round trip to
the bucket for the other: the launcher hands the job the record listing and
index it planned from, the job hands the launcher the run summary and release
outcome it wrote. Each value is filed under the run's id (a fresh uuid per run,
so a later run in the same process never sees it) and taken once.

Only a shortcut: a taker that finds nothing (a Dataflow worker, a
multi-process DirectRunner, a step retried after the value was taken) reads
the file instead, with the same result. Hand only values that equal what the
file holds at the time they are taken.
"""
from __future__ import annotations

import threading
from typing import Any, Dict, Optional, Tuple

_VALUES: Dict[Tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def hand(run_id: str, name: str, value: Any) -> None:
    with _LOCK:
        _VALUES[(run_id, name)] = value


def take(run_id: Optional[str], name: str) -> Any:
    """The value handed under (run_id, name), removed; None when there is none."""
    if run_id is None:
        return None
    with _LOCK:
        return _VALUES.pop((run_id, name), None)


def forget(run_id: str) -> None:
    """Drops what was handed for run_id and never taken (a run that ended early)."""
    with _LOCK:
        for key in [k for k in _VALUES if k[0] == run_id]:
            del _VALUES[key]
