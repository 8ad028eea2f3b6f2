"""Webhooks: the caller's signing secret and its rotation."""
