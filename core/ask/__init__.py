"""The ask feature's pure rules: when two questions are the same question (questions.py)."""
