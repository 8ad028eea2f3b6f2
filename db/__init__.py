"""Persistence: tables (db/models/<feature>.py), queries (db/<feature>.py), engines and sessions, and
the unit of work. Imports no other mentorq layer.

One convention for sync and async. A query is written for the side that runs it: async
(`AsyncSession`) when only the API runs it, sync (`Session`) when workers, beat or the command
line do. A query both sides run is written once, sync, and the API calls it through
`AsyncSession.run_sync`, so one piece of code saves a revision or creates a job whoever asks. A
twin is kept only where the API would otherwise pay run_sync's thread hop on a hot path (every
ask's cache lookup, every search's active model): the async one has the plain name and the sync
one ends in `_sync`.

No module here decides to create or cancel a job: `db/jobs.py` holds the mechanics (create_job,
the transitions), and services and tasks call them inside their unit of work.
"""
