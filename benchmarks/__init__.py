"""Reproducible performance measurements of the platform (not timed tests); see README.md."""
