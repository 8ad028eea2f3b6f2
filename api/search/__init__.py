"""Search: semantic search over the collections a caller can read."""
