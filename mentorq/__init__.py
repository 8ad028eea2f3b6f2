"""The `mentorq` command line: running the platform's processes, and an HTTP client of its API."""
