"""LLM routes: which provider and model each kind uses, fallbacks, limits; the LLM routing page."""
