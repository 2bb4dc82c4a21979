"""Benchmarks: speed and memory of the GhSL preprocessing, measured locally."""
