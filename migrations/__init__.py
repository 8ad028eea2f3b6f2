"""Alembic migrations, written by hand; named by date and slug."""
