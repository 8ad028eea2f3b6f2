"""Persistence: models, engines and sessions, and the job queries. Imports no other mentorq layer."""
