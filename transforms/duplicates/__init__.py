"""The duplicate recording audit: the same recording under two ids, found from the stored landmarks.

Pure NumPy and the standard library (no Beam, no MediaPipe). How it works and the
measurements behind its numbers: docs/duplicates.md.

Modules, in the order the audit uses them:
  signature.py   ClipPoints → a 515-byte signature (a low-resolution upper-body trajectory, its
                 duration and per-point reliability); its mirror image; base64 for JSON records.
  candidates.py  the indexed candidate search: a key per clip, k-means cells, pairs within a radius,
                 both orientations.
  alignment.py   the similarity of two signatures, best over shifts in time, vectorized over pairs.
  links.py       exact links (same file digest) and near links (similarity ≥ the threshold).
  families.py    union-find over links → families; duplicate_of and one report row per copy.
  text.py        sentence normalization and text-duplicate groups of sentence ids.
  settings.py    VERSION and THRESHOLD: inputs of a release.
  audit.py       all of the above over a run's saved clips (small values each), the links kept under the
                 digest of their inputs, and the rows of proc/duplicates.csv and sentence_duplicates.csv.

Its step in the job is transforms/reports/duplicates_report.py; the release keeps each family in one split
(transforms/release/plan.py, splits.py).
"""
