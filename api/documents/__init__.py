"""Documents and collections: upload, fetch, list, delete, re-ingest; the Library page."""
