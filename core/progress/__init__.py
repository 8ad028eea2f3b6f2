"""The progress feature's pure rules: the learner model (learner_model.py)."""
