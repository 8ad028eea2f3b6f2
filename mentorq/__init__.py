"""mentorq: an asynchronous job platform for AI learning products."""

__version__ = "0.1.0"
