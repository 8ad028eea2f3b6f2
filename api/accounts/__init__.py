"""Accounts a learner can recover: the requests for a verification or a password-reset message."""
