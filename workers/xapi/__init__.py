"""Calls to the Learning Record Store (xAPI)."""
