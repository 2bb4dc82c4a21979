"""Stage 2: landmarks → features. Pure NumPy feature definitions (v1: the team's exact definition)."""
