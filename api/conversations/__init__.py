"""Conversations: multi-turn, grounded chat."""
