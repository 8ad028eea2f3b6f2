"""Scripts that make the project's own model files (run by hand; nothing here runs in production)."""
