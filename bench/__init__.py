"""Benchmark of geodeferred against titiler: `python -m bench` (see README.md)."""
