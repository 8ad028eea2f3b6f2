"""A match's rules, pure: which candidate skill meets which requirement, and the score (scoring.py);
what a requirement's own words say about its importance and level (cues.py)."""
