"""Profiles: sign-up with a profile, revisions, export, deletion, profile ingestion."""
