"""Helpers every stage uses: per-clip moments and their sums, progress lines."""
