"""What a release records about the duplicate audit: its version and its threshold.

Both are inputs of a release: a release made with another version or threshold may
link other clips, so its families, and hence its splits, may differ. Change VERSION
whenever anything that changes a link changes (the signature, the key, the
alignment, the search radius), and THRESHOLD only from new measurements
(`python -m bench.duplicates_threshold`, docs/duplicates.md §Threshold).
"""
from transforms.duplicates import alignment, candidates, signature

VERSION = "dup-audit/1"
# Similarity (alignment.py) at and above which two clips are the same recording. Measured on the real
# clips: 55 copies made with ffmpeg scored 0.641 to 0.996 against their original (the lowest: carphone
# flipped, at 88×72 pixels, CRF 35), carphone_distorted (9.5 kbit/s, no face found in any frame) 0.596;
# distinct recordings at most −1.56 as the audit compares them, and at most 0.09 against the best piece
# of a longer one (docs/duplicates.md, §Threshold). Set just under the copies, so that a re-take, which
# is not a copy, must come as close to its original as a degraded copy does.
THRESHOLD = 0.6


def audit_settings() -> dict:
    """Everything that decides the audit's links, for a release's inputs and its card."""
    return {"version": VERSION, "threshold": THRESHOLD, "motion_cap": alignment.MOTION_CAP,
            "min_overlap": alignment.MIN_OVERLAP, "samples": signature.SAMPLES,
            "search_radius": candidates.SEARCH_RADIUS, "probes": candidates.PROBES}
