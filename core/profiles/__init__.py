"""The profiles feature's pure rules: a profile's descriptive fields (fields.py)."""
