"""Reproducible performance measurements of the platform (not timed tests); see benchmarks/README.md
and docs/benchmarks/."""
