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
# clips: every copy made with ffmpeg scored ≥ 0.649, the 9.5 kbit/s carphone_distorted 0.605, and every
# pair of distinct recordings ≤ 0.13 (docs/duplicates.md, §Threshold).
THRESHOLD = 0.55


def audit_settings() -> dict:
    """Everything that decides the audit's links, for a release's inputs and its card."""
    return {"version": VERSION, "threshold": THRESHOLD, "motion_cap": alignment.MOTION_CAP,
            "min_overlap": alignment.MIN_OVERLAP, "samples": signature.SAMPLES,
            "search_radius": candidates.SEARCH_RADIUS, "probes": candidates.PROBES}
